"""Where each cluster's files live in the state directory.

A cluster name is a key of the user's choice, so it is encoded before it
becomes a file name: letters, digits, ``_``, ``-`` and ``.`` are kept, every
other byte (and a leading ``.``, so no name can be hidden, ``.`` or ``..``)
becomes ``%XX``. The encoding is reversible, which lets ``list`` recover the
names. For a cluster ``prod/eu`` the files are::

    prod%2Feu.json             the state
    prod%2Feu.json.backup      the state before the last write
    prod%2Feu.journal.jsonl    one JSON line per operation
    prod%2Feu.lock             the OS lock (flock); its content is unused
    prod%2Feu.lock.info        who holds the lock (informational)

Temporary files start with ``.`` and are never mistaken for a state.

A file name has at most 255 bytes, and the longest one made from a stem is a
temporary file of the backup (``.`` + stem + ``.json.backup.tmp-`` + 8
characters): a stem longer than ``MAX_STEM`` is refused with a ``StateError``,
never met as "File name too long" halfway through a command. Desired-state
files allow names of at most 200 characters (the schema), which always fit.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from reconciler.statemgr.errors import StateError

__all__ = ["MAX_STEM", "STATE_SUFFIX", "ClusterPaths", "decode_cluster_name",
           "encode_cluster_name"]

STATE_SUFFIX = ".json"
MAX_STEM = 255 - len(".") - len(".json.backup.tmp-") - 8
"""Characters of an encoded cluster name (229)."""
_SAFE = string.ascii_letters + string.digits + "_-."


def encode_cluster_name(cluster_name: str) -> str:
    if not cluster_name:
        raise ValueError("a cluster name can't be empty")
    encoded = quote(cluster_name, safe=_SAFE)
    if encoded.startswith("."):
        encoded = "%2E" + encoded[1:]
    if len(encoded) > MAX_STEM:
        raise StateError(
            f"cluster name of {len(cluster_name)} characters is too long: its state files"
            f" are named after it, and a file name allows {MAX_STEM} characters of it"
            " (other characters than letters, digits, `-`, `_` and `.` count three)")
    return encoded


def decode_cluster_name(file_stem: str) -> str:
    return unquote(file_stem)


@dataclass(frozen=True)
class ClusterPaths:
    state_dir: Path
    cluster_name: str

    @property
    def stem(self) -> str:
        return encode_cluster_name(self.cluster_name)

    @property
    def state(self) -> Path:
        return self.state_dir / (self.stem + STATE_SUFFIX)

    @property
    def backup(self) -> Path:
        return self.state_dir / (self.stem + STATE_SUFFIX + ".backup")

    @property
    def journal(self) -> Path:
        return self.state_dir / (self.stem + ".journal.jsonl")

    @property
    def lock(self) -> Path:
        return self.state_dir / (self.stem + ".lock")

    @property
    def lock_info(self) -> Path:
        return self.state_dir / (self.stem + ".lock.info")

    def temp_prefix(self, target: Path) -> str:
        """Prefix of temp files for ``target``: hidden, so ``list`` skips them."""
        return "." + target.name + ".tmp-"
