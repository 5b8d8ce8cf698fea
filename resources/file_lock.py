"""An advisory lock between processes on one machine: shared for readers, exclusive for a writer.

DuckDB lets one process open a database file for writing and no other process open it at all meanwhile (a second
writer or a reader fails at once). Parallel steps and runs take this lock around each connection instead, so they
wait for the file only while another process does I/O on it and compute in parallel otherwise.
"""

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def lock_path(guarded: Path) -> Path:
    """The lock file beside the file it guards (`warehouse.duckdb` -> `warehouse.duckdb.lock`)."""
    return guarded.with_name(f"{guarded.name}.lock")


@contextmanager
def held(path: Path, shared: bool) -> Iterator[None]:
    """Hold the lock on `path` (created if missing) for the block; blocks while another process holds it in a
    conflicting mode. The kernel drops it if the holder dies, so a killed step never leaves the file locked."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
