"""`digest serve`'s port, checked before uvicorn starts: one line naming the port and the way out
instead of uvicorn's startup log and exit 3."""

from __future__ import annotations

import errno
import socket

from digest.errors import DigestError


def check_can_listen(host: str, port: int) -> None:
    """Bind (host, port) once, as uvicorn will, and let go: a port in use or not ours to take
    is one line naming it and the way out, before uvicorn prints its startup and exits 3."""
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise DigestError(f"--host {host}: not an address of this machine ({exc})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                other = port + 1 if port < 65535 else 8080
                raise DigestError(
                    f"port {port} on {host} is in use (another `digest serve`, or another"
                    f" program): choose another with --port, e.g. --port {other}"
                ) from None
            if exc.errno == errno.EACCES:
                raise DigestError(
                    f"port {port} on {host}: permission denied (ports below 1024 need"
                    " privileges): choose another with --port, e.g. --port 8080"
                ) from None
            raise DigestError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
