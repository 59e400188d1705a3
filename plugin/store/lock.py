"""One scan of a library at a time, across processes (the watcher, a `piccl scan` run by hand)."""

from __future__ import annotations

import fcntl
import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)


@contextmanager
def library_lock(data_dir: Path, root: Path) -> Iterator[None]:
    """Hold an exclusive lock for ``root`` while the block runs; wait for another holder to finish.

    The lock file lives in the data folder, which every piccl process of an installation shares.
    flock is released by the kernel when its holder dies, so a killed scan never leaves it stuck.
    """
    lock_dir = data_dir / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha1(str(root).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    with (lock_dir / f"scan-{name}.lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("another scan of %s is running; waiting for it to finish", root)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
