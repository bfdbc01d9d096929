"""HTTP(S) fetching with a timeout, an overall deadline and a size cap (stdlib urllib).

Only http and https are fetched, redirects included; every failure is a `ParseError` whose reason
says what went wrong with that URL.
"""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import IO

from digest import __version__ as _digest_version
from digest.sources.errors import ParseError

USER_AGENT = f"digest/{_digest_version} (+newsletter digest; article fetcher)"
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    data: bytes
    content_type: str  # lower-cased media type, without parameters; "" when not sent


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


_opener = urllib.request.build_opener(_HttpOnlyRedirects())


def is_url(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


def fetch(url: str, *, timeout: float, max_bytes: int) -> Fetched:
    """GET `url`: at most `max_bytes` of body, `timeout` seconds per network wait and in total."""
    if not is_url(url):
        raise ParseError("not an http(s) URL", url)
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": "*/*"})
    try:
        with _opener.open(request, timeout=timeout) as response:
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise ParseError(f"too large: {int(declared)} bytes, limit {max_bytes}", url)
            chunks: list[bytes] = []
            size = 0
            while chunk := response.read(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise ParseError(f"too large: more than {max_bytes} bytes", url)
                if time.monotonic() > deadline:
                    raise ParseError(f"timed out after {timeout:g} s", url)
                chunks.append(chunk)
            content_type = response.headers.get_content_type() if response.headers else ""
            return Fetched(url=response.geturl(), data=b"".join(chunks), content_type=content_type)
    except ParseError as exc:
        raise exc.at(url) from None
    except urllib.error.HTTPError as exc:
        raise ParseError(f"HTTP {exc.code} {exc.reason}", url) from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise ParseError(f"timed out after {timeout:g} s", url) from None
        raise ParseError(f"cannot fetch: {exc.reason}", url) from None
    except TimeoutError:
        raise ParseError(f"timed out after {timeout:g} s", url) from None
    except (OSError, ValueError, http.client.HTTPException) as exc:
        raise ParseError(f"cannot fetch: {exc.__class__.__name__}: {exc}"[:200], url) from None
