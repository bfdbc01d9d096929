"""`digest preview`: the editor's desk, and the issue as HTML and text, a route group of the web
stack served on 127.0.0.1 only (`DeskServer`).

Routes: `/desk` the editor's desk (controls beside the issue; POST `/desk` makes one change, with
the page's CSRF token), `/` the web version with the reload script, `/html` the same without it,
`/mail` the HTML part as mailed with generic personal values, `/text` the plain-text part,
`/version` the template fingerprint. Only requests naming the server's own loopback address in
their Host header are answered: a page elsewhere whose name is made to resolve to 127.0.0.1 (DNS
rebinding) must not read the unpublished issue, and a form elsewhere cannot post without the
token.

Any local user can reach a loopback port, so every request must also carry the server's
per-launch token (as Jupyter's does): in the link `digest preview` prints (`?token=…`), after
which the browser holds it in a cookie (HttpOnly, SameSite=Strict, named for the port).
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from digest.errors import DigestError
from digest.web.desk_view import (
    Preview,
    apply_change,
    desk_page,
    error_page,
    with_reload_script,
)
from digest.web.middleware import ClientGone, FormTooLarge, read_bounded_form

MAX_FORM_BYTES = 64 * 1024  # an intro and a summary fit many times over
MAX_FORM_FIELDS = 1000

# only the desk itself may frame these pages: no page elsewhere can overlay its buttons
DESK_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "SAMEORIGIN",
    "Content-Security-Policy": "frame-ancestors 'self'",
    "Referrer-Policy": "no-referrer",
}


class DeskState:
    """One launch of the desk: the issue, its tokens, the last change's message (shown once)."""

    def __init__(self, preview: Preview) -> None:
        self.preview = preview
        # every form of the desk carries it: a page elsewhere cannot post a change
        self.csrf = secrets.token_urlsafe(32)
        # every request carries this one (the link, then a cookie): another local user cannot
        self.token = secrets.token_urlsafe(32)
        self.flash: tuple[str, bool] | None = None
        self.anchor = ""  # where the last change happened: the desk scrolls there
        self.lock = threading.Lock()  # one change at a time
        self.host = "127.0.0.1"
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def cookie_name(self) -> str:
        # cookies do not keep ports apart: two desks at once each keep their own
        return f"digest_desk_{self.port}"

    @property
    def own_hosts(self) -> set[str]:
        """The Host header values that name this server."""
        names = (self.host, "localhost", "127.0.0.1", "[::1]")
        return {f"{name}:{self.port}" for name in names}


def _text(body: str, status: int = 200) -> Response:
    return PlainTextResponse(body, status_code=status)


class DeskGuard:
    """The desk's door: the loopback Host check (421) and the per-launch token (403), in the
    query (which then leaves the cookie) or the cookie; the desk's headers on every response."""

    def __init__(self, app: ASGIApp, state: DeskState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith("//"):  # as http.server reads it: `//desk` is `/desk`
            scope = {**scope, "path": "/" + scope["path"].lstrip("/")}
        state, request = self.state, Request(scope)
        refusal, give_cookie = None, False
        expected = state.token.encode()
        if request.headers.get("host", "").lower() not in state.own_hosts:
            refusal = _text(f"This preview answers only at {state.url}\n", 421)
        elif hmac.compare_digest(request.query_params.get("token", "").encode(), expected):
            give_cookie = True
        elif not hmac.compare_digest(request.cookies.get(state.cookie_name, "").encode(), expected):
            refusal = _text(
                "This desk opens only with its token: use the link `digest preview` printed.\n",
                403,
            )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                # named as http.server named them (h11 sends a name as given): callers that
                # look a header up by its usual spelling keep finding it
                headers += [(k.encode(), v.encode()) for k, v in DESK_HEADERS.items()]
                if give_cookie:
                    cookie = f"{state.cookie_name}={state.token}; HttpOnly; SameSite=Strict; Path=/"
                    headers.append((b"Set-Cookie", cookie.encode()))
                message = {**message, "headers": headers}
            await send(message)

        target = refusal if refusal is not None else self.app
        await target(scope, receive, send_with_headers)


def desk_routes(state: DeskState) -> list[Route]:
    """The desk's route group: its page and change, and the issue as web page, mail and text."""
    preview = state.preview

    def view(render: Callable[[], str], html: bool = True) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            try:
                body = await run_in_threadpool(render)
            except DigestError as exc:
                # a broken template while editing: show it, keep polling so the fix shows up
                body, html_page = with_reload_script(error_page(str(exc))), True
            else:
                html_page = html
            kind = "text/html" if html_page else "text/plain"
            return Response(body, media_type=kind)

        return endpoint

    def show_desk(search: str) -> str:
        with state.lock:
            flash, state.flash = state.flash, None
            anchor, state.anchor = state.anchor, ""
        return desk_page(preview, state.csrf, flash, anchor.lstrip("#"), search=search)

    async def desk_get(request: Request) -> Response:
        search = request.query_params.get("q", "")
        return await view(lambda: show_desk(search))(request)

    def change(form: dict[str, list[str]]) -> None:
        with state.lock:
            try:
                message, state.anchor = apply_change(preview, form)
                state.flash = (message, False)
            except DigestError as exc:
                state.flash, state.anchor = (str(exc), True), ""

    async def desk_post(request: Request) -> Response:
        kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if kind != "application/x-www-form-urlencoded":
            return _text("a form, please\n", 415)
        try:
            fields = await read_bounded_form(request, MAX_FORM_BYTES, MAX_FORM_FIELDS)
        except FormTooLarge:
            return _text("form too large\n", 413)
        except ClientGone:
            return Response(status_code=400)
        form = {name: fields.getlist(name) for name in fields}
        given = (form.get("csrf") or [""])[0]
        if not hmac.compare_digest(given.encode(), state.csrf.encode()):
            return _text("missing or wrong CSRF token: reload the desk\n", 403)
        await run_in_threadpool(change, form)
        # back to the desk (POST/redirect/GET: a reload never repeats the change); no fragment,
        # which would take the focus away from the message
        return Response(status_code=303, headers={"Location": "/desk"})

    async def desk_route(request: Request) -> Response:
        if preview.root is None:
            return _text("not found\n", 404)
        if request.method == "POST":
            return await desk_post(request)
        return await desk_get(request)

    return [
        Route("/desk", desk_route, methods=["GET", "POST"]),
        Route("/", view(lambda: with_reload_script(preview.html())), methods=["GET"]),
        Route("/index.html", view(lambda: with_reload_script(preview.html())), methods=["GET"]),
        Route("/html", view(preview.html), methods=["GET"]),
        Route("/mail", view(preview.mail), methods=["GET"]),
        Route("/text", view(preview.text, html=False), methods=["GET"]),
        Route("/version", view(preview.templates_version, html=False), methods=["GET"]),
    ]


async def not_found(request: Request, exc: Exception) -> Response:
    """Any other path or method: the desk has nothing there."""
    return _text("not found\n", 404)
