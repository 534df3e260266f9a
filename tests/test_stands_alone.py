"""The repository stands alone: nothing in it points at a file a clone lacks.

Code comments, docs, the README, tests and examples once cited a product
contract and an API reference kept beside the repository; a user's clone has
neither. What a reader needs of them is in docs/ (docs/planning.md,
docs/cce-api.md), and this test fails when such a reference comes back.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Spelled in pieces so that this file does not match itself.
_OUTSIDE = re.compile(
    "|".join([
        r"\.\./" + "shared",
        r"\b" + "DES" "IGN" + r"\b",
        "REFERENCE" + r"\.md",
        "STYLE" + r"\.md",
        "cce-api/" + r"[\w.-]+\.txt",
    ])
)


def _tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()
    files = []
    for name in listed:
        path = ROOT / name
        if path.is_file() and path.suffix not in {".png", ".gz", ".zip"}:
            files.append(path)
    return files


def test_no_reference_to_files_outside_the_repository() -> None:
    files = _tracked_text_files()
    assert len(files) > 100  # the walk found the repository
    found = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if _OUTSIDE.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == [], "say it in docs/ instead:\n" + "\n".join(found)


def test_the_pattern_catches_what_it_is_for() -> None:
    for line in ["see ../" "shared/DES" "IGN.md", "(DES" "IGN 3.1)", "(DES" "IGN §6)",
                 "wire shapes of REFERENCE" ".md", "fixtures (cce-api/" "show-cluster.txt)"]:
        assert _OUTSIDE.search(line), line
    for line in ["DESIGN_EXAMPLE = 1", "the design of waves", "docs/cce-api.md"]:
        assert not _OUTSIDE.search(line), line
