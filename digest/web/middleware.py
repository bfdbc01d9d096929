"""What every surface of the web side shares at the door: the security headers on every
response, the one Host answered, the bounded form read and the CSRF pair (a signed double
submit). A security fix here lands on every route at once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from secrets import token_hex
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import ImmutableMultiDict, MutableHeaders
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from digest.signup import csrf_ok

MAX_FORM_BYTES = 4096
# Under https the cookie has the __Host- prefix: a browser takes it only with Secure, Path=/ and
# no Domain, so a neighbouring subdomain (or plain-http injection) cannot plant its own nonce.
# Browsers refuse __Host- cookies without Secure, so a plain-http site (a test one) keeps the
# bare name.
CSRF_COOKIE = "digest_csrf"
HOST_CSRF_COOKIE = "__Host-digest_csrf"

SECURITY_HEADERS = {
    # the token is in the URL: never send it on to another site as a Referer
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every response that does not set them, whoever made it: our
    pages, the router's 404/405, the trusted-host check's 400 and the error handler's 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def trusted_host(base_url: str) -> str:
    """The one Host the app answers: the one in the links it sends out."""
    return urlsplit(base_url).hostname or ""


def host_check(base_url: str) -> Middleware:
    """Only `base_url`'s host is answered (a forged Host would be reflected in redirects)."""
    return Middleware(
        TrustedHostMiddleware, allowed_hosts=[trusted_host(base_url)], www_redirect=False
    )


# -- limits: a form read no further than MAX_FORM_BYTES ------------------------------------------


async def _read_capped(request: Request, limit: int) -> bytes | None:
    """The request body, or None once more than `limit` bytes arrived: counted as read, so a
    chunked body (no Content-Length) cannot slip past the limit."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def _replay(body: bytes) -> Receive:
    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


class FormTooLarge(Exception):
    """More than MAX_FORM_BYTES, declared or counted."""


class ClientGone(Exception):
    """The client left (or was cut off at the request deadline) before its form arrived."""


async def read_bounded_form(
    request: Request, limit: int = MAX_FORM_BYTES, max_fields: int = 16
) -> ImmutableMultiDict[str, Any]:
    """The urlencoded or multipart form of a POST, each field's values, read no further than
    `limit` bytes (declared, or counted as it arrives)."""
    length = request.headers.get("content-length")
    declared_too_large = length is not None and (not length.isdigit() or int(length) > limit)
    try:
        body = None if declared_too_large else await _read_capped(request, limit)
    except ClientDisconnect:
        raise ClientGone from None
    if body is None:
        raise FormTooLarge
    replayed = Request(request.scope, _replay(body))
    async with replayed.form(max_files=0, max_fields=max_fields, max_part_size=limit) as form:
        return ImmutableMultiDict(form.multi_items())


# -- CSRF: a signed double submit ----------------------------------------------------------------


def csrf_cookie_name(secure: bool) -> str:
    return HOST_CSRF_COOKIE if secure else CSRF_COOKIE


def csrf_nonce(request: Request, cookie: str) -> str:
    """The browser's nonce when it has a well-formed one, else a new one."""
    nonce = request.cookies.get(cookie, "")
    return nonce if re.fullmatch(r"[0-9a-f]{32}", nonce) else token_hex(16)


def set_csrf_cookie(response: Response, cookie: str, nonce: str, secure: bool) -> None:
    response.set_cookie(cookie, nonce, path="/", httponly=True, samesite="strict", secure=secure)


def csrf_form_ok(
    secrets: Sequence[bytes], request: Request, cookie: str, form: ImmutableMultiDict[str, Any]
) -> bool:
    return csrf_ok(secrets, request.cookies.get(cookie), form.get("csrf"))
