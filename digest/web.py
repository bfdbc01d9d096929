"""The small web side of a project, one Starlette app: unsubscribe (RFC 8058 one-click, and a
confirmation page for people), the archive of sent issues and each issue's web version, and the
sign-up, confirmation and preferences pages of `digest.web_signup`.

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
import time
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from digest.click_route import click_routes
from digest.errors import DigestError
from digest.models import Issue
from digest.project import Project
from digest.render import format_date, web_version
from digest.signup import unsubscribe_address
from digest.tokens import BadToken, read_unsubscribe_token
from digest.web_pages import Site, no_store, page_templates
from digest.web_signup import signup_routes
from digest.wording import plural

# Issues a reader may see on the web: the web-version link in a message must work while it is
# still being sent; a draft or an approved issue is not public yet.
PUBLIC_STATUSES = ("sending", "sent")
ONE_CLICK = "One-Click"
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

_PAGES = page_templates(
    {
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
)


# the archive lists issues by their date and headline, never by their internal key
_PAGES.filters["date"] = format_date
# under the newsletter's name, a subject "Name: lead story" reads as its lead story
_PAGES.filters["headline"] = lambda subject, name: subject.removeprefix(f"{name}: ")
_PAGES.filters["count_of"] = lambda items, noun, nouns: plural(len(items), noun, nouns)


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


def create_app(project: Project) -> ASGIApp:
    """The web app of `project`: these routes and those of `digest.web_signup`, one app."""
    from digest.redact import install

    install()  # uvicorn's and our log lines carry no credential
    site = Site(project)

    def bad_token(exc: BadToken | None = None) -> HTMLResponse:
        reason = f" ({exc})" if exc else ""
        return site.error(
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
            email, list_name = read_unsubscribe_token(site.secrets, token)
        except BadToken as exc:
            return bad_token(exc)
        return token, email, list_name

    async def unsubscribe_page(request: Request) -> Response:
        found = token_of(request)
        if isinstance(found, HTMLResponse):
            return found
        token, email, _ = found
        return no_store(site.page(_PAGES, "confirm.html", email=email, token=token))

    async def unsubscribe(request: Request) -> Response:
        found = token_of(request)
        if isinstance(found, HTMLResponse):
            return found
        _, email, list_name = found
        form = await site.read_form(request, "An unsubscribe request is one short field.")
        if isinstance(form, Response):
            return form
        if form.get("List-Unsubscribe") != ONE_CLICK:
            return site.error(
                400,
                "Not an unsubscribe request",
                "Expected the form field List-Unsubscribe=One-Click (RFC 8058).",
            )
        await run_in_threadpool(_suppress, email, list_name)
        return no_store(site.page(_PAGES, "done.html", email=email))

    async def unsubscribe_route(request: Request) -> Response:
        if request.method == "POST":
            return await unsubscribe(request)
        return await unsubscribe_page(request)

    def _suppress(email: str, list_name: str) -> None:
        with site.open_store() as store:
            unsubscribe_address(store, email, list_name)

    def _public_issues() -> list[Issue]:
        with site.open_store() as store:
            return [i for i in store.issues() if i.status in PUBLIC_STATUSES]

    def _public_issue(issue_id: int) -> Issue | None:
        if not 0 < issue_id <= MAX_ISSUE_ID:
            return None
        with site.open_store() as store:
            try:
                issue = store.issue(issue_id)
            except DigestError:
                return None
        return issue if issue.status in PUBLIC_STATUSES else None

    async def archive(request: Request) -> Response:
        issues = await run_in_threadpool(_public_issues)
        return site.page(_PAGES, "archive.html", issues=issues)

    def _feed() -> bytes:
        from digest.archive_feed import atom_feed

        with site.open_store() as store:
            issues = [i for i in store.issues() if i.status in PUBLIC_STATUSES]
            sent = []
            for issue in issues:
                started, finished = store.issue_send_times(issue.id)
                sent.append((issue, finished or started or issue.created))
        return atom_feed(sent, name=site.config.name, base_url=site.config.base_url)

    async def archive_feed(request: Request) -> Response:
        body = await run_in_threadpool(_feed)
        return Response(body, media_type="application/atom+xml; charset=utf-8")

    async def issue_page(request: Request) -> Response:
        issue = await run_in_threadpool(_public_issue, request.path_params["issue_id"])
        if issue is None:
            return site.error(
                404, "No such issue", "This issue does not exist or is not public yet."
            )
        return HTMLResponse(web_version(issue))

    async def not_found(request: Request, exc: Exception) -> Response:
        return site.error(404, "Not found", "There is no page at this address.")

    async def not_allowed(request: Request, exc: Exception) -> Response:
        allowed = exc.headers if isinstance(exc, HTTPException) and exc.headers else {}
        response = site.error(405, "Method not allowed", "This page does not accept that request.")
        response.headers.update(allowed)
        return response

    async def server_error(request: Request, exc: Exception) -> Response:
        return site.error(500, "Something went wrong", "Please try again later.")

    app = Starlette(
        routes=[
            Route("/", archive, methods=["GET"]),
            Route("/archive/feed.xml", archive_feed, methods=["GET"]),
            Route("/issues/{issue_id:int}", issue_page, methods=["GET"]),
            # one route for both, so a 405 lists every method the path allows
            Route("/unsubscribe", unsubscribe_route, methods=["GET", "POST"]),
            *signup_routes(site),
            *click_routes(site),
        ],
        middleware=[
            Middleware(
                TrustedHostMiddleware,
                allowed_hosts=[trusted_host(site.config.base_url)],
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
