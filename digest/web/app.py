"""The web app factory: one Starlette app of a project's public surfaces (`digest.web.signup`,
`.unsubscribe`, `.archive`) behind the shared middleware (`digest.web.middleware`), and the
desk's app (`digest.web.desk`): the same stack with only the desk's route group, behind its
loopback and token guard.

Run by `digest serve` under uvicorn (`digest.web.server`), behind a reverse proxy in production
(docs/deploy.md). Each request opens its own connection to the store, so the app holds no SQLite
handle across threads and several workers may share one project.

Every response, Starlette's own 404/405/500 included, carries the security headers; only the
host of `base_url` is answered (a forged Host header would otherwise be reflected in redirects).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from digest.project import Project
from digest.web.archive import archive_routes
from digest.web.desk import DeskGuard, DeskState, desk_routes, not_found
from digest.web.middleware import SecurityHeaders, host_check
from digest.web.pages import Site
from digest.web.redirects import click_routes
from digest.web.signup import signup_routes
from digest.web.unsubscribe import unsubscribe_routes


def create_app(project: Project) -> ASGIApp:
    """The web app of `project`: every public surface, one app."""
    from digest.redact import install

    install()  # uvicorn's and our log lines carry no credential
    site = Site(project)

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
            *archive_routes(site),
            *unsubscribe_routes(site),
            *signup_routes(site),
            *click_routes(site),
        ],
        middleware=[host_check(site.config.base_url)],
        exception_handlers={404: not_found, 405: not_allowed, 500: server_error},
    )
    return SecurityHeaders(app)


def create_desk_app(state: DeskState) -> ASGIApp:
    """The editor's desk of one `digest preview` launch: its route group only, on 127.0.0.1."""
    app = Starlette(
        routes=desk_routes(state),
        exception_handlers={404: not_found, 405: not_found},
    )
    return DeskGuard(app, state)
