"""`/unsubscribe`: RFC 8058 one-click (a POST of List-Unsubscribe=One-Click with the token in
the query), and a confirmation page for people who follow the link in a browser."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from digest.signup import unsubscribe_address
from digest.tokens import BadToken, read_unsubscribe_token
from digest.web.pages import Site, no_store, page_templates

ONE_CLICK = "One-Click"

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
    }
)


def unsubscribe_routes(site: Site) -> list[Route]:
    """The route of `/unsubscribe` for the app of `site`."""

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

    def suppress(email: str, list_name: str) -> None:
        with site.open_store() as store:
            unsubscribe_address(store, email, list_name)

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
        await run_in_threadpool(suppress, email, list_name)
        return no_store(site.page(_PAGES, "done.html", email=email))

    async def unsubscribe_route(request: Request) -> Response:
        if request.method == "POST":
            return await unsubscribe(request)
        return await unsubscribe_page(request)

    # one route for both, so a 405 lists every method the path allows
    return [Route("/unsubscribe", unsubscribe_route, methods=["GET", "POST"])]
