"""Files that are whole or absent: every file the pipeline writes (run-folder Parquet, the
outbox's ``.eml``) is written under a temporary name in its own folder and renamed into
place once complete, so a full disk or a crash never leaves a partial file under its
final name, and a failed write removes its temporary file.

Temporary names start with ``.`` and end with ``.tmp`` (``.users.parquet.1a2b3c.tmp``):
no reader's pattern (``*.parquet``, ``part-*.parquet``, ``*.eml``) matches them.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
# how polars/Arrow and others report a full disk when they give no errno
DISK_FULL_TEXT = ("no space left on device", "os error 28", "disk quota exceeded")


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed to ``path`` when the block
    ends without error, removed when it raises."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            tmp.unlink()
        raise


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """``path.write_bytes(data)``, whole or not at all."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def is_disk_full(exc: BaseException) -> bool:
    """True when ``exc`` (or one of its causes) is a full disk or an exceeded quota."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in DISK_FULL_ERRNOS:
            return True
        if any(text in str(e).lower() for text in DISK_FULL_TEXT):
            return True
        e = e.__cause__ or e.__context__
    return False


FAILURE_NOTE = "FAILED.txt"


def clear_failed_folder(folder: Path, note: str) -> int:
    """Remove everything in a failed run's ``folder`` and leave a one-line ``FAILED.txt``
    saying why (written only if the disk has room for it). Returns the bytes freed."""
    if not folder.is_dir():
        return 0
    freed = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            with suppress(OSError):
                child.unlink()
    with suppress(OSError):
        write_bytes_atomic(folder / FAILURE_NOTE, (note.strip() + "\n").encode())
    return freed
