"""HTTP(S) fetching with a timeout, an overall deadline and a size cap (stdlib urllib).

Only http and https are fetched, redirects included; every failure is a `ParseError` whose reason
says what went wrong with that URL.

Only public destinations are fetched unless private ones are allowed: every connection, the
first and each redirect's, resolves the host name itself, refuses it when any address it resolves
to is loopback, private, link-local (cloud metadata) or otherwise not globally reachable, and then
connects to exactly the addresses it checked, so a feed cannot make us fetch an internal service
and a name cannot resolve differently between the check and the connection.

Proxy variables in the environment (http_proxy, https_proxy, all_proxy) are ignored: through a
proxy, the proxy would connect, and the check above would judge only the proxy's address. A
proxy named in `[sources] proxy` (`use_proxy`) is used, and then the target's own addresses are
checked before each request and redirect (resolved here: the proxy resolves again, so pinning is
lost, which the operator who chose a proxy accepts).

The deadline covers the whole exchange — connecting, every redirect, the status line, the headers
and the body — because a per-read socket timeout alone never fires on a server that drips one
byte at a time: each read is given only the time that is left.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Collection
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import urlsplit

from digest import __version__ as _digest_version
from digest.sources.errors import ParseError

USER_AGENT = f"digest/{_digest_version} (+newsletter digest; article fetcher)"
_CHUNK = 64 * 1024


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# True: any destination; a collection: public ones and these networks; False: public ones only
PrivatePolicy = bool | Collection[IPNetwork]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NON_PUBLIC = (
    ("unspecified", "an unspecified"),
    ("loopback", "a loopback"),
    ("link_local", "a link-local"),
    ("private", "a private"),
    ("multicast", "a multicast"),
    ("reserved", "a reserved"),
)
# IANA's special-purpose address registries (IPv4 and IPv6, as of 2024), the blocks that are not
# globally reachable or that no feed lives at, named because ipaddress's is_global misses some
# of them (Python 3.11: 192.0.0.9, 192.88.99.1, fec0::/10, 3fff::/20, 5f00::/16, 64:ff9b:1::/48)
# and varies between Python versions. The anycast blocks in 192.0.0.0/24 and 192.88.99.0/24
# serve protocols (PCP, TURN, the 6to4 relays), never a web page.
_SPECIAL_PURPOSE = tuple(
    ipaddress.ip_network(block)
    for block in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/127",
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "3fff::/20",
        "5f00::/16",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
)
ALLOW_PRIVATE_HINT = "set [sources] allow_private in digest.toml for an intranet source"


def non_public_reason(address: str, allow_private: PrivatePolicy = False) -> str | None:
    """Why `address` (an IP address) may not be fetched from, or None when it may."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if allow_private is True or (
        allow_private is not False and any(ip in net for net in allow_private)
    ):
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        # an IPv4 address wrapped in IPv6 is judged as the IPv4 address it reaches
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return non_public_reason(str(embedded), allow_private)
    for kind, described in _NON_PUBLIC:
        if getattr(ip, f"is_{kind}"):
            return f"{ip} is {described} address, not a public one"
    if not ip.is_global or any(ip in block for block in _SPECIAL_PURPOSE):
        return f"{ip} is not a public address (IANA special-purpose)"
    return None


# `[sources] proxy` of the project opened last (digest.project.open_project sets it)
_proxy = ""


def use_proxy(url: str) -> None:
    """Send fetches through the HTTP proxy at `url` ("" for none: connect directly)."""
    global _proxy
    _proxy = url


def _endpoint(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return (parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))


def _vet(host: str, port: int, allow_private: PrivatePolicy, verb: str) -> Any:
    """The addresses `host` resolves to, once every one has passed `non_public_reason`."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    for *_ignored, sockaddr in found:
        reason = non_public_reason(str(sockaddr[0]), allow_private)
        if reason:
            raise ParseError(f"refused to {verb} {host}: {reason} ({ALLOW_PRIVATE_HINT})")
    return found


def _public_connection(allow_private: PrivatePolicy) -> Any:
    """socket.create_connection for http.client that connects only to the addresses it vetted
    (or to the configured proxy, wherever it is)."""
    proxy = _endpoint(_proxy) if _proxy else None

    def create_connection(
        address: tuple[str, int], timeout: Any = None, source_address: Any = None, *_: Any
    ) -> socket.socket:
        host, port = address
        if proxy is not None and (host, port) == proxy:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        else:
            found = _vet(host, port, allow_private, "connect to")
        error: OSError | None = None
        for family, kind, proto, _name, sockaddr in found:
            sock = socket.socket(family, kind, proto)
            try:
                if timeout is not None:
                    sock.settimeout(timeout)
                if source_address:
                    sock.bind(source_address)
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                sock.close()
                error = exc
        raise error or OSError(f"{host}: no address to connect to")

    return create_connection


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    data: bytes
    content_type: str  # lower-cased media type, without parameters; "" when not sent
    charset: str | None = None  # the Content-Type header's charset parameter, when sent


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


def _deadline_opener(clock: _Clock, allow_private: PrivatePolicy) -> urllib.request.OpenerDirector:
    """An opener whose connections and responses all keep to `clock`'s deadline, and whose
    connections go only where `allow_private` lets them."""
    create_connection = _public_connection(allow_private)

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
            self._create_connection = create_connection
            super().connect()

    class SecureConnection(http.client.HTTPSConnection):
        response_class = Response

        def connect(self) -> None:
            self.timeout = clock.next_wait()
            self._create_connection = create_connection
            super().connect()

    class Handler(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(Connection, req)

    class SecureHandler(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(SecureConnection, req, context=ssl.create_default_context())

    # an empty ProxyHandler replaces the default one, which reads the environment's variables
    proxies = {"http": _proxy, "https": _proxy} if _proxy else {}
    return urllib.request.build_opener(
        urllib.request.ProxyHandler(proxies),
        Handler(),
        SecureHandler(),
        _HttpOnlyRedirects(allow_private),
    )


def _vet_target(url: str, allow_private: PrivatePolicy) -> None:
    """Through a proxy, the proxy connects: check the target's addresses here first."""
    if _proxy:
        host, port = _endpoint(url)
        _vet(host, port, allow_private, "fetch")


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    def __init__(self, allow_private: PrivatePolicy) -> None:
        super().__init__()
        self.allow_private = allow_private

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
        _vet_target(newurl, self.allow_private)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def is_url(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


def fetch(
    url: str, *, timeout: float, max_bytes: int, allow_private: PrivatePolicy = False
) -> Fetched:
    """GET `url`: at most `max_bytes` of body, `timeout` seconds per network wait and in total,
    from public addresses only unless `allow_private` (True, or the networks allowed)."""
    if not is_url(url):
        raise ParseError("not an http(s) URL", url)
    timed_out = f"timed out after {timeout:g} s"
    clock = _Clock(deadline=time.monotonic() + timeout, per_wait=timeout)
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": "*/*"})
    try:
        _vet_target(url, allow_private)
        with _deadline_opener(clock, allow_private).open(request, timeout=timeout) as response:
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
            headers = response.headers
            return Fetched(
                url=response.geturl(),
                data=b"".join(chunks),
                content_type=headers.get_content_type() if headers else "",
                charset=headers.get_content_charset() if headers else None,
            )
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
