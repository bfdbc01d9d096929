"""The small web side of a project: unsubscribe (RFC 8058 one-click, and a confirmation page for
people), the archive of sent issues and each issue's web version.

Run by `digest serve` under uvicorn, behind a reverse proxy in production (docs/deploy.md). Each
request opens its own connection to the store, so the app holds no SQLite handle across threads
and several workers may share one project.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from digest.errors import DigestError
from digest.models import Issue
from digest.project import DB_NAME, Project
from digest.render import format_date, web_version
from digest.store import Store
from digest.tokens import BadToken, load_secret, read_token
from digest.wording import plural

# Issues a reader may see on the web: the web-version link in a message must work while it is
# still being sent; a built or held issue is not public yet.
PUBLIC_STATUSES = ("sending", "sent")
ONE_CLICK = "One-Click"
MAX_FORM_BYTES = 4096

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


def _page(name: str, status: int = 200, **context: object) -> HTMLResponse:
    return HTMLResponse(
        _PAGES.get_template(name).render(**context),
        status_code=status,
        headers=SECURITY_HEADERS,
    )


def create_app(project: Project) -> Starlette:
    """The web app of `project`. The signing secret is read once, here, as the messages were
    signed with it."""
    secret = load_secret(project.state_dir, project.config.secret)
    newsletter = project.config.name
    db_path: Path = project.state_dir / DB_NAME

    @contextmanager
    def open_store() -> Iterator[Store]:
        store = Store(db_path)
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
            email, list_name = read_token(secret, token)
        except BadToken as exc:
            return bad_token(exc)
        return token, email, list_name

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
        length = request.headers.get("content-length", "0")
        if not length.isdigit() or int(length) > MAX_FORM_BYTES:
            return error(413, "Request too large", "An unsubscribe request is one short field.")
        async with request.form(max_files=0, max_fields=8) as form:
            field = form.get("List-Unsubscribe")
        if field != ONE_CLICK:
            return error(
                400,
                "Not an unsubscribe request",
                "Expected the form field List-Unsubscribe=One-Click (RFC 8058).",
            )
        await run_in_threadpool(_suppress, email, list_name)
        response = _page("done.html", newsletter=newsletter, email=email)
        response.headers["Cache-Control"] = "no-store"
        return response

    def _suppress(email: str, list_name: str) -> None:
        with open_store() as store:
            # an address already bounced or complained keeps that stronger reason
            if not store.is_suppressed(email):
                store.suppress(email, "unsubscribed", list_name=list_name)

    def _public_issues() -> list[Issue]:
        with open_store() as store:
            return [i for i in store.issues() if i.status in PUBLIC_STATUSES]

    def _public_issue(issue_id: int) -> Issue | None:
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
        return HTMLResponse(web_version(issue), headers=SECURITY_HEADERS)

    return Starlette(
        routes=[
            Route("/", archive, methods=["GET"]),
            Route("/issues/{issue_id:int}", issue_page, methods=["GET"]),
            Route("/unsubscribe", unsubscribe_page, methods=["GET"]),
            Route("/unsubscribe", unsubscribe, methods=["POST"]),
        ]
    )
