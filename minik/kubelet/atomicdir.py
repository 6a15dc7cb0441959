"""Replace the whole content of a directory atomically, as seen from inside a container.

ConfigMap, Secret, downward-API and projected volumes are directories the kubelet writes
and bind-mounts into containers; when the object changes, the files change *in place*.
A reader must never see half an update (some keys new, some old, or a truncated file).
Upstream's AtomicWriter solves this with symlinks, and so does this module::

    <dir>/..2026_11_22_05_33_04.123456/   a complete new version of every file
    <dir>/..data -> ..2026_11_22_…        swapped with a single rename(2)
    <dir>/<key>  -> ..data/<key>          one stable symlink per top-level name

All links are relative, so they resolve the same inside the container's mount. Writing
the same content again changes nothing (and returns False).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

DATA_LINK = "..data"


@dataclass(frozen=True)
class FileContent:
    data: bytes
    mode: int = 0o644


def _check(path: str) -> PurePosixPath:
    p = PurePosixPath(path)
    if p.is_absolute() or ".." in p.parts or not p.parts or p.parts[0].startswith(".."):
        raise ValueError(f"invalid path {path!r} in a volume: must be relative, without '..'")
    return p


def _current(target: Path) -> dict[str, FileContent] | None:
    data_dir = target / DATA_LINK
    if not data_dir.is_dir():
        return None
    found: dict[str, FileContent] = {}
    for root, _dirs, files in os.walk(data_dir, followlinks=False):
        for name in files:
            full = Path(root) / name
            found[str(full.relative_to(data_dir))] = FileContent(
                full.read_bytes(), full.stat().st_mode & 0o7777
            )
    return found


def write_atomic(target: Path, files: Mapping[str, FileContent]) -> bool:
    """Make ``target`` contain exactly ``files`` (relative path → content); True if anything changed."""
    checked = {str(_check(p)): c for p, c in files.items()}
    if _current(target) == checked:
        return False
    target.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("..%Y_%m_%d_%H_%M_%S.%f")
    version = target / stamp
    version.mkdir(mode=0o755)
    for rel, content in checked.items():
        path = version / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.data)
        path.chmod(content.mode)
    old = os.readlink(target / DATA_LINK) if (target / DATA_LINK).is_symlink() else None
    tmp_link = target / "..data_tmp"
    tmp_link.unlink(missing_ok=True)
    tmp_link.symlink_to(stamp)
    os.replace(tmp_link, target / DATA_LINK)  # the atomic switch
    tops = {PurePosixPath(rel).parts[0] for rel in checked}
    for top in tops:
        link = target / top
        if not link.is_symlink():
            if link.exists():
                shutil.rmtree(link) if link.is_dir() else link.unlink()
            link.symlink_to(f"{DATA_LINK}/{top}")
    for entry in target.iterdir():
        if entry.name.startswith(".."):
            continue
        if entry.name not in tops and entry.is_symlink():
            entry.unlink()
    if old and old != stamp:
        shutil.rmtree(target / old, ignore_errors=True)
    return True
