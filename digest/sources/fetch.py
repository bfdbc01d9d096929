"""HTTP(S) fetching with a timeout, an overall deadline and a size cap (stdlib urllib).

Only http and https are fetched, redirects included; every failure is a `ParseError` whose reason
says what went wrong with that URL.

The deadline covers the whole exchange — connecting, every redirect, the status line, the headers
and the body — because a per-read socket timeout alone never fires on a server that drips one
byte at a time: each read is given only the time that is left.
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import IO, Any

from digest import __version__ as _digest_version
from digest.sources.errors import ParseError

USER_AGENT = f"digest/{_digest_version} (+newsletter digest; article fetcher)"
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    data: bytes
    content_type: str  # lower-cased media type, without parameters; "" when not sent


@dataclass(frozen=True)
class _Clock:
    deadline: float  # time.monotonic() value
    per_wait: float

    def next_wait(self) -> float:
        """Seconds the next network wait may take; TimeoutError once the deadline has passed."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline passed")
        return min(self.per_wait, left)


class _DeadlineReader(io.RawIOBase):
    """A socket stream whose every receive waits at most until the deadline."""

    def __init__(self, raw: io.RawIOBase, sock: socket.socket, clock: _Clock) -> None:
        super().__init__()
        self._raw = raw
        self._sock = sock
        self._clock = clock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        self._sock.settimeout(self._clock.next_wait())
        return self._raw.readinto(buffer)

    def close(self) -> None:
        self._raw.close()
        super().close()


def _deadline_opener(clock: _Clock) -> urllib.request.OpenerDirector:
    """An opener whose connections and responses all keep to `clock`'s deadline."""

    class Response(http.client.HTTPResponse):
        def __init__(
            self,
            sock: socket.socket,
            debuglevel: int = 0,
            method: str | None = None,
            url: str | None = None,
        ) -> None:
            super().__init__(sock, debuglevel, method, url)
            # the reads of the status line and headers happen in http.client, so the deadline
            # has to live in the stream it reads from
            self.fp = io.BufferedReader(_DeadlineReader(self.fp.detach(), sock, clock))

    class Connection(http.client.HTTPConnection):
        response_class = Response

        def connect(self) -> None:
            self.timeout = clock.next_wait()
            super().connect()

    class SecureConnection(http.client.HTTPSConnection):
        response_class = Response

        def connect(self) -> None:
            self.timeout = clock.next_wait()
            super().connect()

    class Handler(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(Connection, req)

    class SecureHandler(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(SecureConnection, req, context=ssl.create_default_context())

    return urllib.request.build_opener(Handler(), SecureHandler(), _HttpOnlyRedirects())


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        if not newurl.lower().startswith(("http://", "https://")):
            raise ParseError(f"redirected to a non-HTTP address: {newurl[:80]}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def is_url(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


def fetch(url: str, *, timeout: float, max_bytes: int) -> Fetched:
    """GET `url`: at most `max_bytes` of body, `timeout` seconds per network wait and in total."""
    if not is_url(url):
        raise ParseError("not an http(s) URL", url)
    timed_out = f"timed out after {timeout:g} s"
    clock = _Clock(deadline=time.monotonic() + timeout, per_wait=timeout)
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": "*/*"})
    try:
        with _deadline_opener(clock).open(request, timeout=timeout) as response:
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise ParseError(f"too large: {int(declared)} bytes, limit {max_bytes}", url)
            chunks: list[bytes] = []
            size = 0
            # read1 returns what has arrived instead of waiting for a full chunk
            while chunk := response.read1(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise ParseError(f"too large: more than {max_bytes} bytes", url)
                chunks.append(chunk)
            content_type = response.headers.get_content_type() if response.headers else ""
            return Fetched(url=response.geturl(), data=b"".join(chunks), content_type=content_type)
    except ParseError as exc:
        raise exc.at(url) from None
    except urllib.error.HTTPError as exc:
        raise ParseError(f"HTTP {exc.code} {exc.reason}", url) from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise ParseError(timed_out, url) from None
        raise ParseError(f"cannot fetch: {exc.reason}", url) from None
    except TimeoutError:
        raise ParseError(timed_out, url) from None
    except (OSError, ValueError, http.client.HTTPException) as exc:
        raise ParseError(f"cannot fetch: {exc.__class__.__name__}: {exc}"[:200], url) from None
