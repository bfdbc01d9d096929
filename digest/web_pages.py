"""What every page of the web side shares (`digest.web` assembles them into one app): the
small HTML pages and their base, a store per request, bounded form reading and the CSRF pair.

`Site` holds one project's secrets, read once when the app is made: the signing one first, then
any previous ones (DIGEST_SECRET_PREVIOUS), so links signed before a rotation still work.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from secrets import token_hex
from typing import Any

import jinja2
from starlette.datastructures import ImmutableMultiDict
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Message, Receive

from digest.keys import project_keys
from digest.project import Project
from digest.signup import csrf_ok, csrf_pair
from digest.store import Store

MAX_FORM_BYTES = 4096
# Under https the cookie has the __Host- prefix: a browser takes it only with Secure, Path=/ and
# no Domain, so a neighbouring subdomain (or plain-http injection) cannot plant its own nonce.
# Browsers refuse __Host- cookies without Secure, so a plain-http site (a test one) keeps the
# bare name.
CSRF_COOKIE = "digest_csrf"
HOST_CSRF_COOKIE = "__Host-digest_csrf"

BASE_PAGES = {
    "base.html": """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{% block title %}{{ newsletter }}{% endblock %}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;
line-height:1.5}button{font-size:1rem;padding:.5rem 1rem}fieldset{margin:0 0 1rem}
input,select,textarea{font-size:16px}
.hint{color:#555;font-size:.9rem;margin:0 0 .5rem 1.6rem}</style></head>
<body>{% block body %}{% endblock %}</body></html>
""",
    "error.html": """{% extends "base.html" %}
{% block title %}{{ title }} · {{ newsletter }}{% endblock %}
{% block body %}<h1>{{ title }}</h1><p id="error">{{ message }}</p>{% endblock %}
""",
}


def page_templates(templates: dict[str, str]) -> jinja2.Environment:
    """An autoescaping environment of `templates` over the shared base and error pages."""
    return jinja2.Environment(
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        loader=jinja2.DictLoader({**BASE_PAGES, **templates}),
    )


_BASE = page_templates({})


def no_store(response: Response) -> Response:
    """Pages that show an address or hold a token are not to be cached."""
    response.headers["Cache-Control"] = "no-store"
    return response


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


class Site:
    """One project's web side: its name, secrets and store, and the pages' common parts."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.config = project.config
        self.newsletter = project.config.name
        with self.open_store() as store:
            self.secrets = project_keys(project, store).verify
        self.secure = self.config.base_url.startswith("https:")
        self.csrf_cookie = HOST_CSRF_COOKIE if self.secure else CSRF_COOKIE

    @contextmanager
    def open_store(self) -> Iterator[Store]:
        """A store of the request's own (the app holds no SQLite handle across threads)."""
        store = self.project.open_store()
        try:
            yield store
        finally:
            store.close()

    def page(
        self, pages: jinja2.Environment, template: str, status: int = 200, /, **context: object
    ) -> HTMLResponse:
        html = pages.get_template(template).render(newsletter=self.newsletter, **context)
        return HTMLResponse(html, status_code=status)

    def error(self, status: int, title: str, message: str) -> HTMLResponse:
        return self.page(_BASE, "error.html", status, title=title, message=message)

    async def read_form(
        self, request: Request, what: str
    ) -> ImmutableMultiDict[str, Any] | Response:
        """The urlencoded or multipart form of a POST, each field's values, read no further than
        MAX_FORM_BYTES (declared, or counted as it arrives); an error page otherwise."""
        length = request.headers.get("content-length")
        declared_too_large = length is not None and (
            not length.isdigit() or int(length) > MAX_FORM_BYTES
        )
        try:
            body = None if declared_too_large else await _read_capped(request, MAX_FORM_BYTES)
        except ClientDisconnect:  # gone, or cut off at the request deadline: nobody to answer
            return Response(status_code=400)
        if body is None:
            return self.error(413, "Request too large", what)
        replayed = Request(request.scope, _replay(body))
        async with replayed.form(max_files=0, max_fields=16, max_part_size=MAX_FORM_BYTES) as form:
            return ImmutableMultiDict(form.multi_items())

    # -- CSRF: a signed double submit ------------------------------------------------------------

    def with_csrf(
        self,
        request: Request,
        pages: jinja2.Environment,
        template: str,
        status: int = 200,
        /,
        **context: object,
    ) -> Response:
        """A page holding a form: its CSRF field, signed, paired with a cookie nonce (kept if the
        browser has one)."""
        nonce = request.cookies.get(self.csrf_cookie, "")
        if not re.fullmatch(r"[0-9a-f]{32}", nonce):
            nonce = token_hex(16)
        response = self.page(
            pages, template, status, csrf=csrf_pair(self.secrets[0], nonce), **context
        )
        response.set_cookie(
            self.csrf_cookie, nonce, path="/", httponly=True, samesite="strict", secure=self.secure
        )
        return no_store(response)

    def csrf_ok(self, request: Request, form: ImmutableMultiDict[str, Any]) -> bool:
        return csrf_ok(self.secrets, request.cookies.get(self.csrf_cookie), form.get("csrf"))

    def bad_form(self) -> Response:
        return self.error(
            403,
            "This form has expired",
            "Please reload the page and send the form again (cookies must be allowed).",
        )
