"""One training per output folder: a second ``lipe train`` (or queue runner) on the same ``--output``
would delete the first one's temporary checkpoint and interleave their files.

The lock is an OS file lock on ``<output>/.lipe-train.lock`` (``flock`` on Linux and macOS,
``msvcrt.locking`` on Windows): the system releases it when the process ends, however it ends, so a
killed training never leaves a stale lock behind. The file records the holder's pid for the message.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from ..errors import InputError

if sys.platform == "win32":  # one process at a time per output folder: the platform's file lock
    import msvcrt
else:
    import fcntl

LOCK_NAME = ".lipe-train.lock"


def _try_lock(fh: IO[str]) -> bool:
    try:
        if sys.platform == "win32":
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


@contextlib.contextmanager
def training_output_lock(output_dir: Path) -> Iterator[None]:
    """Hold the output folder for one training, or raise a one-line ``InputError`` naming the holder."""
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        fh = open(output_dir / LOCK_NAME, "a+", encoding="utf-8")  # noqa: SIM115 - held for the block
    except OSError as exc:
        raise InputError(f"training output '{output_dir}' cannot be written ({exc.strerror or exc})",
                         "choose a folder you can write to") from exc
    try:
        if not _try_lock(fh):
            fh.seek(0)
            holder = fh.read().strip()
            raise InputError(
                f"training output '{output_dir}' is in use by another training"
                + (f" (process {holder})" if holder.isdigit() else ""),
                "wait for it to finish, or choose another --output folder")
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        yield
    finally:
        fh.close()
