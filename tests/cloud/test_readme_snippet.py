"""The README's Python example runs and lists the demo clusters' add-ons."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_snippet() -> str:
    section = README.read_text().split("## Using the client from Python", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "the section has a python example"
    return match.group(1)


def test_readme_snippet_lists_the_demo_addons(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", readme_snippet()],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    lines = set(proc.stdout.splitlines())
    assert "demo-prod coredns 1.29.4 running" in lines
    assert "demo-legacy npd 1.18.14 running" in lines
    assert len(lines) == 12  # every seeded instance of the three clusters
