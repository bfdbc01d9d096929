"""The web side of counted story links (digest.clicks): `/r/{issue}/{story}/{mac}` answers a
302 to the story and adds one to its count, or a 404 that redirects nowhere. Nothing about the
request is kept: the method and User-Agent only decide counted or set aside (a scanner's)."""

from __future__ import annotations

import contextlib

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from digest.clicks import is_scanner, verified_target
from digest.errors import DigestError
from digest.models import Issue
from digest.store import Store
from digest.web.pages import Site

MAX_ID = 2**63 - 1  # SQLite's largest integer; a longer number names nothing
# issues whose follows count: an approved issue's links (the preview) redirect uncounted
COUNTED_STATUSES = ("sending", "sent")


def click_routes(site: Site) -> list[Route]:
    """`/r/{issue}/{story}/{mac}`: a 302 to the story, counted, or a 404."""

    def follow(issue_id: int, story: int, mac: str, counted: bool) -> str | None:
        """The story's URL, its follow counted (or set aside); None for no story's link."""
        if not (0 < issue_id <= MAX_ID and 0 < story <= MAX_ID):
            return None
        with site.open_store() as store:
            issue = _stored(store, issue_id)
            target = verified_target(site.secrets, issue, story, mac) if issue else None
            if target is not None and issue and issue.status in COUNTED_STATUSES:
                store.count_story_click(issue_id, story, set_aside=not counted)
        return target

    async def story_redirect(request: Request) -> Response:
        params = request.path_params
        counted = request.method == "GET" and not is_scanner(request.headers.get("user-agent", ""))
        target = await run_in_threadpool(
            follow, params["issue_id"], params["story"], params["mac"], counted
        )
        if target is None:
            return site.error(404, "No such link", "This link does not lead to a story.")
        response = RedirectResponse(target, status_code=302)
        response.headers["Cache-Control"] = "no-store"  # every follow reaches the counter
        return response

    return [Route("/r/{issue_id:int}/{story:int}/{mac}", story_redirect, methods=["GET"])]


def _stored(store: Store, issue_id: int) -> Issue | None:
    with contextlib.suppress(DigestError):
        return store.issue(issue_id)
    return None
