"""Who may send an issue right now. On SQLite one process: an flock on `.digest/send-ISSUE.lock`.
On PostgreSQL any number of workers, each registered with a lease in the store that it renews
while it works; a worker that dies stops renewing, and its rows go to the others."""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from digest.send.report import SendLocked

if TYPE_CHECKING:
    from digest.project import Project

# Seconds a worker's claim on its rows lasts unless renewed (it renews every third of it): a
# worker killed mid-send leaves its rows to the others this long after its last renewal.
DEFAULT_LEASE = 30.0


class IssueLock:
    """An flock on `.digest/send-ISSUE.lock`: the OS drops it when the holder dies, even by
    SIGKILL, so a crashed send never blocks its resume."""

    def __init__(self, state_dir: Path, issue_id: int) -> None:
        self.path = state_dir / f"send-{issue_id}.lock"
        self.issue_id = issue_id
        self._fd: int | None = None

    def __enter__(self) -> IssueLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise SendLocked(
                f"issue {self.issue_id}: another `digest send` is sending it (pid {holder});"
                " wait for it to finish"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            # the file stays: unlinking a lock file lets two processes lock different inodes
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def worker_id() -> str:
    """This process, as the other workers see it in `sends.worker` and `send_workers`: host, pid
    and a nonce (pids are reused, and containers all call themselves pid 1)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@contextlib.contextmanager
def taking_part(project: Project, issue_id: int, worker: str, lease: float) -> Iterator[None]:
    """Take part in sending the issue. On SQLite, alone: the flock, which also proves that any
    lease left in the store belongs to a dead process. On PostgreSQL, as one of any number of
    registered workers. Either way a stop recorded by an earlier run is cleared when nobody else
    is sending, and this worker's rows are free for the others the moment it leaves."""
    store = project.store
    lock = contextlib.nullcontext() if store.shared else IssueLock(project.state_dir, issue_id)
    with lock:
        if not store.shared:
            store.release_leases(issue_id)
        if not store.live_workers(issue_id):
            store.clear_stop(issue_id)
        store.renew_leases(issue_id, worker, lease)
        try:
            yield
        finally:
            store.release_leases(issue_id, worker)
