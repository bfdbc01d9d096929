"""The archive of sent issues: `/` lists them, `/issues/{id}` is each one's web version, and
`/archive/feed.xml` is the same list as an Atom feed, one entry per sent issue, newest first.

The feed is built with ElementTree, so every title and name is escaped by the serialiser; dates
are RFC 3339 in UTC, ids the issues' web addresses (RFC 4287: a feed has an author, an id, a
title, an updated date and a link to itself; each entry an id, a title, an updated date and a
link).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from xml.etree import ElementTree

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from digest.errors import DigestError
from digest.models import Issue
from digest.render import format_date, web_version
from digest.web.pages import Site, page_templates
from digest.wording import plural

ATOM = "http://www.w3.org/2005/Atom"
FEED_PATH = "/archive/feed.xml"
MAX_ENTRIES = 50
# Issues a reader may see on the web: the web-version link in a message must work while it is
# still being sent; a draft or an approved issue is not public yet.
PUBLIC_STATUSES = ("sending", "sent")
MAX_ISSUE_ID = 2**63 - 1  # SQLite's largest integer; a longer number names no issue

_PAGES = page_templates(
    {
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


def _rfc3339(moment: datetime) -> str:
    when = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _add(parent: ElementTree.Element, tag: str, text: str = "", **attributes: str) -> None:
    child = ElementTree.SubElement(parent, f"{{{ATOM}}}{tag}", attributes)
    if text:
        child.text = text


def atom_feed(issues: Sequence[tuple[Issue, datetime]], *, name: str, base_url: str) -> bytes:
    """The feed of `issues` (each with when its send finished, or began), newest first."""
    ElementTree.register_namespace("", ATOM)
    base = base_url.rstrip("/")
    newest = sorted(issues, key=lambda pair: pair[1], reverse=True)[:MAX_ENTRIES]
    feed = ElementTree.Element(f"{{{ATOM}}}feed")
    _add(feed, "id", f"{base}/")
    _add(feed, "title", name)
    _add(feed, "updated", _rfc3339(newest[0][1] if newest else datetime(1970, 1, 1, tzinfo=UTC)))
    _add(feed, "link", rel="self", type="application/atom+xml", href=f"{base}{FEED_PATH}")
    _add(feed, "link", rel="alternate", type="text/html", href=f"{base}/")
    author = ElementTree.SubElement(feed, f"{{{ATOM}}}author")
    _add(author, "name", name)
    for issue, sent in newest:
        entry = ElementTree.SubElement(feed, f"{{{ATOM}}}entry")
        url = f"{base}/issues/{issue.id}"
        _add(entry, "id", url)
        _add(entry, "title", issue.subject)
        _add(entry, "updated", _rfc3339(sent))
        _add(entry, "published", _rfc3339(sent))
        _add(entry, "link", rel="alternate", type="text/html", href=url)
        stories = "; ".join(e.title for e in issue.entries)
        if stories:
            _add(entry, "summary", stories)
    return ElementTree.tostring(feed, encoding="utf-8", xml_declaration=True)


def archive_routes(site: Site) -> list[Route]:
    """The routes of `/`, `/issues/{id}` and `FEED_PATH` for the app of `site`."""

    def public_issues() -> list[Issue]:
        with site.open_store() as store:
            return [i for i in store.issues() if i.status in PUBLIC_STATUSES]

    def public_issue(issue_id: int) -> Issue | None:
        if not 0 < issue_id <= MAX_ISSUE_ID:
            return None
        with site.open_store() as store:
            try:
                issue = store.issue(issue_id)
            except DigestError:
                return None
        return issue if issue.status in PUBLIC_STATUSES else None

    def feed() -> bytes:
        with site.open_store() as store:
            issues = [i for i in store.issues() if i.status in PUBLIC_STATUSES]
            sent = []
            for issue in issues:
                started, finished = store.issue_send_times(issue.id)
                sent.append((issue, finished or started or issue.created))
        return atom_feed(sent, name=site.config.name, base_url=site.config.base_url)

    async def archive(request: Request) -> Response:
        issues = await run_in_threadpool(public_issues)
        return site.page(_PAGES, "archive.html", issues=issues)

    async def archive_feed(request: Request) -> Response:
        body = await run_in_threadpool(feed)
        return Response(body, media_type="application/atom+xml; charset=utf-8")

    async def issue_page(request: Request) -> Response:
        issue = await run_in_threadpool(public_issue, request.path_params["issue_id"])
        if issue is None:
            return site.error(
                404, "No such issue", "This issue does not exist or is not public yet."
            )
        return HTMLResponse(web_version(issue))

    return [
        Route("/", archive, methods=["GET"]),
        Route(FEED_PATH, archive_feed, methods=["GET"]),
        Route("/issues/{issue_id:int}", issue_page, methods=["GET"]),
    ]
