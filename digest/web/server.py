"""`digest serve`'s server: the web app under uvicorn, with every limit set (docs/deploy.md).

uvicorn has an idle timeout between requests but none for reading a request: REQUEST_TIMEOUT
bounds a whole request, so a client that drips its headers or body cannot hold a connection for
ever; connections are capped below the process's descriptor limit.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from typing import Any

from starlette.types import ASGIApp

# `digest serve`'s limits (docs/deploy.md). uvicorn has an idle timeout between requests but none
# for reading a request: REQUEST_TIMEOUT bounds a whole request, so a client that drips its
# headers or body cannot hold a connection for ever.
REQUEST_TIMEOUT = 20.0
KEEP_ALIVE_TIMEOUT = 5
LIMIT_CONCURRENCY = 200
BACKLOG = 128
MAX_INCOMPLETE_EVENT = 16 * 1024  # bytes of request line and headers
# Descriptors kept free of connections: the store's files (3 per worker thread, 40 threads), the
# listening socket, logs. Connections beyond the rest are closed as soon as they are accepted,
# so the process never reaches its descriptor limit.
RESERVED_DESCRIPTORS = 150


def connection_limit(wanted: int) -> int:
    """`wanted`, lowered to what the process's descriptor limit leaves for connections."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(2, min(wanted, soft - RESERVED_DESCRIPTORS))


class _OncePerMinute(logging.Filter):
    """Lets one "out of system resource" record through per minute: at the descriptor limit
    asyncio logs a traceback for every failed accept, hundreds a second."""

    def __init__(self) -> None:
        super().__init__()
        self.last = -math.inf
        self.dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if "out of system resource" not in record.getMessage():
            return True
        now = time.monotonic()
        if now - self.last < 60:
            self.dropped += 1
            return False
        self.last = now
        if self.dropped:
            record.msg = f"{record.msg} ({self.dropped} more in the last minute not logged)"
            self.dropped = 0
        return True


def serve(app: ASGIApp, **options: Any) -> None:
    """Run `app` under uvicorn (`server_config(app, **options)`), with the descriptor limit
    raised as far as the system lets a process, and asyncio's accept errors logged once a
    minute."""
    import resource

    import uvicorn

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    logging.getLogger("asyncio").addFilter(_OncePerMinute())
    uvicorn.Server(server_config(app, **options)).run()


def server_config(
    app: ASGIApp,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    proxy_headers: bool = True,
    forwarded_allow_ips: str = "127.0.0.1",
    request_timeout: float | None = None,
    limit_concurrency: int | None = None,
    backlog: int | None = None,
    log_level: str = "info",
) -> Any:
    """uvicorn's configuration for the app, with every limit set (None: our default)."""
    import uvicorn

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=_deadline_protocol(request_timeout or REQUEST_TIMEOUT),
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,
        server_header=False,
        # the query strings hold unsubscribe tokens: no access log (the proxy keeps one)
        access_log=False,
        log_level=log_level,
        timeout_keep_alive=KEEP_ALIVE_TIMEOUT,
        limit_concurrency=connection_limit(limit_concurrency or LIMIT_CONCURRENCY),
        backlog=backlog or BACKLOG,
        h11_max_incomplete_event_size=MAX_INCOMPLETE_EVENT,
        timeout_graceful_shutdown=10,
    )


def _deadline_protocol(request_timeout: float) -> type[Any]:
    """uvicorn's HTTP/1.1 protocol, with a deadline from the connection (or the end of the last
    response) to the end of the next response; a connection past it is closed. A connection
    over the concurrency limit is closed at once, not kept open until it sends a request (when
    uvicorn would answer 503), so waiting clients cannot use up the descriptors."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class DeadlineH11Protocol(H11Protocol):
        _deadline: Any = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            limit = self.limit_concurrency
            if limit is not None and len(self.connections) > limit:
                transport.close()
                return
            self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            super().connection_lost(exc)

        def _arm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            self._deadline = self.loop.call_later(request_timeout, self._expire)

        def _expire(self) -> None:
            if not self.transport.is_closing():
                self.transport.close()

    return DeadlineH11Protocol
