"""A real PostgreSQL for the tests: Debian's server binaries, `initdb` + `pg_ctl` as an
unprivileged user in a temporary folder, listening on a free loopback port only.

The cluster asks for a password (scram-sha-256), given the way a deployment gives it: in
PGPASSWORD, never in the URL.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

USER = "digest"
PASSWORD = "test-only-password"


def server_bin() -> Path | None:
    """The newest installed server's bin folder (Debian: /usr/lib/postgresql/N/bin)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    def __init__(self, bin_dir: Path, folder: Path) -> None:
        self.bin_dir = bin_dir
        self.folder = folder
        self.data = folder / "data"
        self.port = _free_port()
        self._names = itertools.count(1)
        # initdb refuses to run as root: the cluster belongs to an unprivileged account
        self.runas = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self.runas, *args], capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise RuntimeError(f"{Path(args[0]).name} failed: {done.stderr or done.stdout}")

    def start(self) -> None:
        pwfile = self.folder / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self.runas:
            account = pwd.getpwnam("postgres")
            for path in (self.folder, pwfile):
                os.chown(path, account.pw_uid, account.pw_gid)
        self.folder.chmod(0o700)
        self._run(
            str(self.bin_dir / "initdb"),
            "-D", str(self.data),
            "-U", USER,
            "--auth=scram-sha-256",
            f"--pwfile={pwfile}",
            "--no-sync",
            "-E", "UTF8",
        )  # fmt: skip
        # the free port may be taken before the server binds it (by another test process under
        # pytest-xdist, each of which starts its own server): then another port
        for attempt in range(3):
            options = (
                f"-c listen_addresses=127.0.0.1 -c port={self.port} -c fsync=off"
                f" -c unix_socket_directories={self.folder} -c max_connections=200"
            )
            try:
                self._run(
                    str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-o", options,
                    "-l", str(self.folder / "log"), "-w", "-t", "60", "start",
                )  # fmt: skip
                return
            except RuntimeError:
                log = (self.folder / "log").read_text(errors="replace")
                if attempt == 2 or "could not bind" not in log:
                    raise
                self.port = _free_port()

    def stop(self) -> None:
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database's URL."""
        import psycopg

        name = f"t{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True, password=PASSWORD) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        return self.url(name)


@contextmanager
def postgres_server() -> Iterator[PostgresServer | str]:
    """A running server, or why there is none (the binaries are absent). Its folder is made
    here, not under pytest's (owner-only) one, which the server's account could not enter."""
    bin_dir = server_bin()
    if bin_dir is None:
        yield "PostgreSQL's server is not installed (apt-get install postgresql)"
        return
    if os.geteuid() == 0 and not shutil.which("runuser"):
        yield "running as root without runuser: cannot start PostgreSQL unprivileged"
        return
    folder = Path(tempfile.mkdtemp(prefix="digest-postgres-"))
    server = PostgresServer(bin_dir, folder)
    try:
        server.start()
        yield server
    finally:
        with contextlib.suppress(RuntimeError):
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)
