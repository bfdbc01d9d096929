"""The small web side of a project: unsubscribe (RFC 8058 one-click, and a confirmation page for
people), the archive of sent issues and each issue's web version.

Run by `digest serve` under uvicorn (`serve`), behind a reverse proxy in production
(docs/deploy.md). Each request opens its own connection to the store, so the app holds no SQLite
handle across threads and several workers may share one project.

Every response, Starlette's own 404/405/500 included, carries the security headers; only the
host of `base_url` is answered (a forged Host header would otherwise be reflected in redirects).
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from secrets import token_hex
from typing import Any
from urllib.parse import urlsplit

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import ImmutableMultiDict, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from digest.errors import DigestError
from digest.models import Issue, Subscriber
from digest.project import Project
from digest.render import format_date, web_version
from digest.send import choose_transport
from digest.signup import (
    confirm,
    confirm_link,
    confirm_token,
    confirmation_envelope,
    csrf_ok,
    csrf_pair,
    read_confirm_token,
    request_signup,
)
from digest.store import Store
from digest.subscribers import DEFAULT_LIST, ListError, known_lists, normalise_email
from digest.tokens import BadToken, load_verification_secrets, read_token
from digest.transports.base import Envelope
from digest.wording import plural

# Issues a reader may see on the web: the web-version link in a message must work while it is
# still being sent; a draft or an approved issue is not public yet.
PUBLIC_STATUSES = ("sending", "sent")
ONE_CLICK = "One-Click"
MAX_FORM_BYTES = 4096
CSRF_COOKIE = "digest_csrf"
log = logging.getLogger(__name__)
MAX_ISSUE_ID = 2**63 - 1  # SQLite's largest integer; a longer number names no issue

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

_PAGES = jinja2.Environment(
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    loader=jinja2.DictLoader(
        {
            "base.html": """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{% block title %}{{ newsletter }}{% endblock %}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;
line-height:1.5}button{font-size:1rem;padding:.5rem 1rem}</style></head>
<body>{% block body %}{% endblock %}</body></html>
""",
            "confirm.html": """{% extends "base.html" %}
{% block title %}Unsubscribe · {{ newsletter }}{% endblock %}
{% block body %}<h1>Unsubscribe from {{ newsletter }}?</h1>
<p>Stop sending {{ newsletter }} to <strong id="email">{{ email }}</strong>.</p>
<form method="post" action="?token={{ token | urlencode }}">
<input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit" id="unsubscribe">Unsubscribe</button>
</form>{% endblock %}
""",
            "done.html": """{% extends "base.html" %}
{% block title %}Unsubscribed · {{ newsletter }}{% endblock %}
{% block body %}<h1>You are unsubscribed</h1>
<p id="done"><strong>{{ email }}</strong> will not receive {{ newsletter }} any more.</p>
{% endblock %}
""",
            "subscribe.html": """{% extends "base.html" %}
{% block title %}Subscribe · {{ newsletter }}{% endblock %}
{% block body %}<h1>Subscribe to {{ newsletter }}</h1>
{% if problem %}<p id="problem" role="alert">{{ problem }}</p>{% endif %}
<form method="post" action="subscribe">
<input type="hidden" name="csrf" value="{{ csrf }}">
<p><label for="email">Email address</label><br>
<input type="email" id="email" name="email" required autocomplete="email" value="{{ email }}"></p>
<p><label for="name">Name (optional)</label><br>
<input type="text" id="name" name="name" autocomplete="name" maxlength="200" value="{{ name }}"></p>
{% if lists | length > 1 %}<fieldset><legend>Lists</legend>
{% for list in lists %}<label><input type="checkbox" name="lists" value="{{ list }}"
{% if list in chosen %}checked{% endif %}> {{ list }}</label><br>
{% endfor %}</fieldset>
{% else %}<input type="hidden" name="lists" value="{{ lists[0] }}">{% endif %}
<p style="display:none" aria-hidden="true"><label>Leave this empty
<input type="text" name="website" tabindex="-1" autocomplete="off"></label></p>
<button type="submit" id="subscribe">Subscribe</button>
</form>{% endblock %}
""",
            "check_inbox.html": """{% extends "base.html" %}
{% block title %}Check your inbox · {{ newsletter }}{% endblock %}
{% block body %}<h1>Check your inbox</h1>
<p id="sent">If this address can be subscribed, a message with a confirmation link is on its way
to it. Nothing will be sent until the link is used.</p>{% endblock %}
""",
            "confirm_signup.html": """{% extends "base.html" %}
{% block title %}Confirm · {{ newsletter }}{% endblock %}
{% block body %}<h1>Confirm your subscription to {{ newsletter }}</h1>
<form method="post" action="confirm">
<input type="hidden" name="csrf" value="{{ csrf }}">
<input type="hidden" name="token" value="{{ token }}">
<button type="submit" id="confirm">Confirm</button>
</form>{% endblock %}
""",
            "confirmed.html": """{% extends "base.html" %}
{% block title %}Thank you · {{ newsletter }}{% endblock %}
{% block body %}<h1>Thank you</h1>
<p id="confirmed">If this address can receive {{ newsletter }}, it will from the next issue.</p>
{% endblock %}
""",
            "error.html": """{% extends "base.html" %}
{% block title %}{{ title }} · {{ newsletter }}{% endblock %}
{% block body %}<h1>{{ title }}</h1><p id="error">{{ message }}</p>{% endblock %}
""",
            "archive.html": """{% extends "base.html" %}
{% block title %}Archive · {{ newsletter }}{% endblock %}
{% block body %}<h1>{{ newsletter }}</h1>
{% if issues %}<ul id="issues">
{% for issue in issues %}<li><a href="issues/{{ issue.id }}">{{ issue.created | date }}</a>:
{{ issue.subject | headline(newsletter) }}
<small>{{ issue.entries | count_of("story", "stories") }}</small></li>
{% endfor %}</ul>{% else %}<p>No issue has been sent yet.</p>{% endif %}
{% endblock %}
""",
        }
    ),
)


# the archive lists issues by their date and headline, never by their internal key
_PAGES.filters["date"] = format_date
# under the newsletter's name, a subject "Name: lead story" reads as its lead story
_PAGES.filters["headline"] = lambda subject, name: subject.removeprefix(f"{name}: ")
_PAGES.filters["count_of"] = lambda items, noun, nouns: plural(len(items), noun, nouns)


def _page(template: str, status: int = 200, /, **context: object) -> HTMLResponse:
    return HTMLResponse(_PAGES.get_template(template).render(**context), status_code=status)


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


def create_app(project: Project) -> ASGIApp:
    """The web app of `project`. The secrets are read once, here: the signing one and any
    previous ones (DIGEST_SECRET_PREVIOUS), so links signed before a rotation still work."""
    config = project.config
    project.check_shared_secret()
    secrets = load_verification_secrets(project.state_dir, config.secret, config.previous_secrets)
    newsletter = config.name

    @contextmanager
    def open_store() -> Iterator[Store]:
        store = project.open_store()
        try:
            yield store
        finally:
            store.close()

    def error(status: int, title: str, message: str) -> HTMLResponse:
        return _page("error.html", status, newsletter=newsletter, title=title, message=message)

    def bad_token(exc: BadToken | None = None) -> HTMLResponse:
        reason = f" ({exc})" if exc else ""
        return error(
            400,
            "This unsubscribe link does not work",
            f"The link is incomplete or has been altered{reason}. Please use the link exactly "
            "as it appears in the newsletter, or reply to the email and ask to be removed.",
        )

    def token_of(request: Request) -> tuple[str, str, str] | HTMLResponse:
        token = request.query_params.get("token", "")
        if not token:
            return bad_token()
        try:
            email, list_name = read_token(secrets, token)
        except BadToken as exc:
            return bad_token(exc)
        if ":" in list_name:  # a confirmation or form token (digest.signup), not a list's
            return bad_token(BadToken("not an unsubscribe token"))
        return token, email, list_name

    async def read_form(request: Request, what: str) -> ImmutableMultiDict[str, Any] | Response:
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
            return error(413, "Request too large", what)
        replayed = Request(request.scope, _replay(body))
        async with replayed.form(max_files=0, max_fields=16, max_part_size=MAX_FORM_BYTES) as form:
            return ImmutableMultiDict(form.multi_items())

    async def unsubscribe_page(request: Request) -> Response:
        found = token_of(request)
        if isinstance(found, HTMLResponse):
            return found
        token, email, _ = found
        response = _page("confirm.html", newsletter=newsletter, email=email, token=token)
        response.headers["Cache-Control"] = "no-store"
        return response

    async def unsubscribe(request: Request) -> Response:
        found = token_of(request)
        if isinstance(found, HTMLResponse):
            return found
        _, email, list_name = found
        form = await read_form(request, "An unsubscribe request is one short field.")
        if isinstance(form, Response):
            return form
        if form.get("List-Unsubscribe") != ONE_CLICK:
            return error(
                400,
                "Not an unsubscribe request",
                "Expected the form field List-Unsubscribe=One-Click (RFC 8058).",
            )
        await run_in_threadpool(_suppress, email, list_name)
        response = _page("done.html", newsletter=newsletter, email=email)
        response.headers["Cache-Control"] = "no-store"
        return response

    async def unsubscribe_route(request: Request) -> Response:
        if request.method == "POST":
            return await unsubscribe(request)
        return await unsubscribe_page(request)

    # -- signing up (double opt-in: digest.signup) --------------------------------------------

    def with_csrf(request: Request, page: str, status: int = 200, **context: object) -> Response:
        """A page holding a form: its CSRF field, signed, paired with a cookie nonce (kept if the
        browser has one)."""
        nonce = request.cookies.get(CSRF_COOKIE, "")
        if not re.fullmatch(r"[0-9a-f]{32}", nonce):
            nonce = token_hex(16)
        response = _page(
            page, status, newsletter=newsletter, csrf=csrf_pair(secrets[0], nonce), **context
        )
        response.headers["Cache-Control"] = "no-store"
        response.set_cookie(
            CSRF_COOKIE,
            nonce,
            httponly=True,
            samesite="strict",
            secure=config.base_url.startswith("https:"),
        )
        return response

    def bad_form() -> Response:
        return error(
            403,
            "This form has expired",
            "Please reload the page and send the form again (cookies must be allowed).",
        )

    def signup_lists() -> list[str]:
        with open_store() as store:
            return known_lists(project.subscribers_dir, store) or [DEFAULT_LIST]

    async def subscribe_form(
        request: Request,
        status: int = 200,
        problem: str = "",
        email: str = "",
        name: str = "",
        chosen: Sequence[str] = (),
    ) -> Response:
        lists = await run_in_threadpool(signup_lists)
        return with_csrf(
            request,
            "subscribe.html",
            status,
            lists=lists,
            chosen=chosen,
            problem=problem,
            email=email,
            name=name,
        )

    async def subscribe(request: Request) -> Response:
        form = await read_form(request, "A sign-up is a few short fields.")
        if isinstance(form, Response):
            return form
        if not csrf_ok(secrets, request.cookies.get(CSRF_COOKIE), form.get("csrf")):
            return bad_form()
        if form.get("website"):  # the honeypot: only a robot fills in a field nobody sees
            return _page("check_inbox.html", newsletter=newsletter)
        raw_email, name = form.get("email", ""), " ".join(form.get("name", "").split())[:200]
        chosen = form.getlist("lists")
        lists = await run_in_threadpool(signup_lists)
        try:
            address = normalise_email(raw_email)
        except ListError as exc:
            return await subscribe_form(request, 400, str(exc), raw_email[:320], name, chosen)
        chosen = [c for c in chosen if c in lists] or (lists if len(lists) == 1 else [])
        if not chosen:
            return await subscribe_form(
                request, 400, "Choose at least one list.", address, name, chosen
            )
        wanted = [Subscriber(email=address, name=name, list=c) for c in chosen]
        if await run_in_threadpool(_record_signup, wanted):
            token = confirm_token(secrets[0], address, chosen, config.confirm_hours)
            envelope = confirmation_envelope(config, address, confirm_link(config.base_url, token))
            await _send_confirmation(envelope)
        response = _page("check_inbox.html", newsletter=newsletter)
        response.headers["Cache-Control"] = "no-store"
        return response

    def _record_signup(wanted: list[Subscriber]) -> bool:
        with open_store() as store:
            return any([request_signup(store, subscriber) for subscriber in wanted])

    async def _send_confirmation(envelope: Envelope) -> None:
        """Through the project's transport. A failure is logged (without the address) and the
        page stays the same: it must not say anything about the address."""
        try:
            async with choose_transport(project) as transport:
                delivery = await transport.send(envelope)
        except (DigestError, OSError) as exc:
            log.warning("a confirmation email was not sent: %s", exc)
            return
        if not delivery.ok:
            log.warning("a confirmation email was not sent: %s", delivery.reply)

    async def subscribe_route(request: Request) -> Response:
        if request.method == "POST":
            return await subscribe(request)
        return await subscribe_form(request)

    def bad_confirmation(exc: BadToken) -> Response:
        return error(
            400,
            "This confirmation link does not work",
            f"The link is incomplete, altered or too old ({exc}). Please sign up again.",
        )

    async def confirm_route(request: Request) -> Response:
        if request.method == "GET":
            token = request.query_params.get("token", "")
            try:
                read_confirm_token(secrets, token)
            except BadToken as exc:
                return bad_confirmation(exc)
            return with_csrf(request, "confirm_signup.html", token=token)
        form = await read_form(request, "A confirmation is two short fields.")
        if isinstance(form, Response):
            return form
        if not csrf_ok(secrets, request.cookies.get(CSRF_COOKIE), form.get("csrf")):
            return bad_form()
        try:
            email, lists = read_confirm_token(secrets, form.get("token", ""))
        except BadToken as exc:
            return bad_confirmation(exc)
        await run_in_threadpool(_confirm, email, lists)
        response = _page("confirmed.html", newsletter=newsletter)
        response.headers["Cache-Control"] = "no-store"
        return response

    def _confirm(email: str, lists: list[str]) -> None:
        with open_store() as store:
            for list_name in lists:
                confirm(store, email, list_name)

    def _suppress(email: str, list_name: str) -> None:
        with open_store() as store:
            # an address already bounced or complained keeps that stronger reason
            if not store.is_suppressed(email):
                store.suppress(email, "unsubscribed", list_name=list_name)

    def _public_issues() -> list[Issue]:
        with open_store() as store:
            return [i for i in store.issues() if i.status in PUBLIC_STATUSES]

    def _public_issue(issue_id: int) -> Issue | None:
        if not 0 < issue_id <= MAX_ISSUE_ID:
            return None
        with open_store() as store:
            try:
                issue = store.issue(issue_id)
            except DigestError:
                return None
        return issue if issue.status in PUBLIC_STATUSES else None

    async def archive(request: Request) -> Response:
        issues = await run_in_threadpool(_public_issues)
        return _page("archive.html", newsletter=newsletter, issues=issues)

    async def issue_page(request: Request) -> Response:
        issue = await run_in_threadpool(_public_issue, request.path_params["issue_id"])
        if issue is None:
            return error(404, "No such issue", "This issue does not exist or is not public yet.")
        return HTMLResponse(web_version(issue))

    async def not_found(request: Request, exc: Exception) -> Response:
        return error(404, "Not found", "There is no page at this address.")

    async def not_allowed(request: Request, exc: Exception) -> Response:
        allowed = exc.headers if isinstance(exc, HTTPException) and exc.headers else {}
        response = error(405, "Method not allowed", "This page does not accept that request.")
        response.headers.update(allowed)
        return response

    async def server_error(request: Request, exc: Exception) -> Response:
        return error(500, "Something went wrong", "Please try again later.")

    app = Starlette(
        routes=[
            Route("/", archive, methods=["GET"]),
            Route("/issues/{issue_id:int}", issue_page, methods=["GET"]),
            # one route for both, so a 405 lists every method the path allows
            Route("/unsubscribe", unsubscribe_route, methods=["GET", "POST"]),
            Route("/subscribe", subscribe_route, methods=["GET", "POST"]),
            Route("/confirm", confirm_route, methods=["GET", "POST"]),
        ],
        middleware=[
            Middleware(
                TrustedHostMiddleware,
                allowed_hosts=[trusted_host(config.base_url)],
                www_redirect=False,
            )
        ],
        exception_handlers={404: not_found, 405: not_allowed, 500: server_error},
    )
    return SecurityHeaders(app)


def trusted_host(base_url: str) -> str:
    """The one Host the app answers: the one in the links it sends out."""
    return urlsplit(base_url).hostname or ""


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
