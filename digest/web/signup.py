"""The web side's pages for joining and changing one's mind: `/subscribe` (double opt-in),
`/confirm` and `/preferences`; the rules behind them are `digest.signup`'s.

Other sites may post to `/subscribe` (fields `email`, `name`, `lists`), but nothing is signed up
without the CSRF pair of our own form: such a post gets our form back, filled in as posted with
a fresh pair, for the person to press once. So a page elsewhere can help people sign up, and
cannot sign anyone up behind their back.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.config import ListInfo
from digest.maildomain import domain_checker
from digest.models import Subscriber
from digest.signup import (
    clean_name,
    confirm,
    latest_sent_issue,
    offered_lists,
    preference_lists,
    read_confirm_token,
    read_confirmation,
    request_confirmation,
    save_preferences,
    send_confirmation,
    signup_wait,
    unsubscribe_address,
    welcome_envelope,
)
from digest.subscribers import ListError, normalise_email
from digest.tokens import BadToken, read_preferences_token
from digest.transports.base import Envelope
from digest.web.pages import Site, no_store, page_templates
from digest.wording import plural

log = logging.getLogger(__name__)

_LIST_CHOICE = """{% macro list_choice(lists, chosen) %}
{% if lists | length > 1 %}<fieldset><legend>Lists</legend>
{% for list in lists %}<p><input type="checkbox" id="list-{{ loop.index }}" name="lists"
value="{{ list.name }}"{% if list.name in chosen %} checked{% endif %}
{% if list.description %} aria-describedby="list-{{ loop.index }}-about"{% endif %}>
<label for="list-{{ loop.index }}">{{ list.title }}</label></p>
{% if list.description %}<p class="hint" id="list-{{ loop.index }}-about">{{ list.description }}</p>
{% endif %}{% endfor %}</fieldset>
{% else %}<input type="hidden" name="lists" value="{{ lists[0].name }}">{% endif %}
{% endmacro %}
"""


def default_choice(lists: Sequence[ListInfo]) -> list[str]:
    names = [info.name for info in lists]
    return ["default"] if "default" in names else names[:1]


_PAGES = page_templates(
    {
        "lists.html": _LIST_CHOICE,
        "subscribe.html": """{% extends "base.html" %}{% from "lists.html" import list_choice %}
{% block title %}Subscribe · {{ newsletter }}{% endblock %}
{% block body %}<h1>Subscribe to {{ newsletter }}</h1>
{% if problem %}<p id="problem" role="alert">{{ problem }}</p>{% endif %}
<form method="post" action="subscribe">
<input type="hidden" name="csrf" value="{{ csrf }}">
<p><label for="email">Email address</label><br>
<input type="email" id="email" name="email" required autocomplete="email" value="{{ email }}"></p>
<p><label for="name">Name (optional)</label><br>
<input type="text" id="name" name="name" autocomplete="name" maxlength="200" value="{{ name }}"></p>
{{ list_choice(lists, chosen) }}
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
        "preferences.html": """{% extends "base.html" %}{% from "lists.html" import list_choice %}
{% block title %}Your preferences · {{ newsletter }}{% endblock %}
{% block body %}<h1>Your preferences for {{ newsletter }}</h1>
{% if problem %}<p id="problem" role="alert">{{ problem }}</p>{% endif %}
{% if saved %}<p id="saved" role="status">Your preferences are saved.</p>{% endif %}
<p>For <strong id="email">{{ email }}</strong>.</p>
<form method="post" action="preferences">
<input type="hidden" name="csrf" value="{{ csrf }}">
<input type="hidden" name="token" value="{{ token }}">
<p><label for="name">Name</label><br>
<input type="text" id="name" name="name" autocomplete="name" maxlength="200" value="{{ name }}"></p>
{% if lists | length > 1 %}{{ list_choice(lists, chosen) }}{% endif %}
<button type="submit" id="save" name="action" value="save">Save</button>
</form>
<h2>Leave</h2>
<form method="post" action="preferences">
<input type="hidden" name="csrf" value="{{ csrf }}">
<input type="hidden" name="token" value="{{ token }}">
<p>Stop receiving {{ newsletter }} at this address, on every list.</p>
<button type="submit" id="leave" name="action" value="leave">Leave {{ newsletter }}</button>
</form>{% endblock %}
""",
        "left.html": """{% extends "base.html" %}
{% block title %}Unsubscribed · {{ newsletter }}{% endblock %}
{% block body %}<h1>You receive nothing from {{ newsletter }}</h1>
<p id="left"><strong>{{ email }}</strong> will not receive {{ newsletter }}. To come back,
<a href="subscribe">sign up again</a> and confirm.</p>{% endblock %}
""",
    }
)


class _Subscribe:
    """`/subscribe`: the form, and a sign-up recorded and mailed after the response has gone."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.checker = domain_checker(site.config)

    def offered(self) -> list[ListInfo]:
        with self.site.open_store() as store:
            return offered_lists(self.site.project, store)

    async def form(
        self,
        request: Request,
        status: int = 200,
        problem: str = "",
        email: str = "",
        name: str = "",
        chosen: Sequence[str] = (),
    ) -> Response:
        lists = await run_in_threadpool(self.offered)
        return self.site.with_csrf(
            request,
            _PAGES,
            "subscribe.html",
            status,
            lists=lists,
            # a first visit has a list chosen already (`default`, else the first offered)
            chosen=chosen or default_choice(lists),
            problem=problem,
            email=email,
            name=name,
        )

    def too_many(self, wait: float) -> Response:
        minutes = math.ceil(wait / 60)
        response = self.site.error(
            429,
            "Too many sign-ups",
            "Too many sign-ups came from your network. Please try again in "
            f"{plural(minutes, 'minute')}.",
        )
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response

    def client_wait(self, client: str) -> float:
        with self.site.open_store() as store:
            return signup_wait(store, self.site.config, client)

    async def subscribe(self, request: Request) -> Response:
        site = self.site
        wait = await run_in_threadpool(
            self.client_wait, request.client.host if request.client else ""
        )
        if wait:
            return self.too_many(wait)
        form = await site.read_form(request, "A sign-up is a few short fields.")
        if isinstance(form, Response):
            return form
        if form.get("website"):  # the honeypot: only a robot fills in a field nobody sees
            return no_store(site.page(_PAGES, "check_inbox.html"))
        raw_email, name = form.get("email", "")[:320], clean_name(form.get("name", ""))
        chosen = list(dict.fromkeys(form.getlist("lists")))
        if not site.csrf_ok(request, form):
            # another site's form, or our own one from long ago: ours, as filled in, to press
            return await self.form(
                request,
                403,
                "Please check the details and press Subscribe to confirm.",
                raw_email,
                name,
                chosen,
            )
        try:
            address = normalise_email(raw_email)  # the syntax: no lookup, no thread needed
        except ListError as exc:
            return await self.form(request, 400, str(exc), raw_email, name, chosen)
        problem = self.checker and await self.checker.problem(address.rpartition("@")[2])
        if problem:  # on the event loop, with a deadline: a slow resolver holds no thread
            problem = f"{raw_email.strip()!r} is not a valid email address: {problem}"
            return await self.form(request, 400, problem, raw_email, name, chosen)
        names = [info.name for info in await run_in_threadpool(self.offered)]
        unknown = [c for c in chosen if c not in names]
        if unknown:
            return await self.form(
                request,
                400,
                f"There is no list “{unknown[0][:64]}” here; choose from the lists below.",
                address,
                name,
                [c for c in chosen if c in names],
            )
        chosen = chosen or (names if len(names) == 1 else [])
        if not chosen:
            return await self.form(request, 400, "Choose at least one list.", address, name)
        # Recorded and mailed after the response has gone: the time to answer must not tell an
        # address that gets a confirmation (a new one) from one that does not (active already).
        response = no_store(site.page(_PAGES, "check_inbox.html"))
        response.background = BackgroundTask(self.confirm_later, Subscriber(address, name), chosen)
        return response

    async def confirm_later(self, subscriber: Subscriber, lists: list[str]) -> None:
        """Record the sign-up and send its confirmation, once the page is sent: nobody waits
        for it, so a failure is logged (without the address) and goes no further."""
        try:
            envelope = await run_in_threadpool(self.record, subscriber, lists)
            failure = envelope and await send_confirmation(self.site.project, envelope)
        except Exception as exc:  # noqa: BLE001 - the response is gone; the server must live on
            failure = f"{type(exc).__name__}: {exc}"
        if failure:
            log.warning("a confirmation email was not sent: %s", failure)

    def record(self, subscriber: Subscriber, lists: list[str]) -> Envelope | None:
        site = self.site
        with site.open_store() as store:
            return request_confirmation(store, site.config, site.secrets[0], subscriber, lists)

    async def route(self, request: Request) -> Response:
        if request.method == "POST":
            return await self.subscribe(request)
        return await self.form(request)


class _Confirm:
    """`/confirm`: the link in the confirmation email, pressed once more on our own page."""

    def __init__(self, site: Site) -> None:
        self.site = site

    def bad_confirmation(self, exc: BadToken) -> Response:
        return self.site.error(
            400,
            "This confirmation link does not work",
            f"The link is incomplete, altered or too old ({exc}). Please sign up again.",
        )

    async def route(self, request: Request) -> Response:
        site = self.site
        if request.method == "GET":
            token = request.query_params.get("token", "")
            try:
                read_confirm_token(site.secrets, token)
            except BadToken as exc:
                return self.bad_confirmation(exc)
            return site.with_csrf(request, _PAGES, "confirm_signup.html", token=token)
        form = await site.read_form(request, "A confirmation is two short fields.")
        if isinstance(form, Response):
            return form
        if not site.csrf_ok(request, form):
            return site.bad_form()
        try:
            email, lists, name = read_confirmation(site.secrets, form.get("token", ""))
        except BadToken as exc:
            return self.bad_confirmation(exc)
        welcome = await run_in_threadpool(self.confirm, email, lists, name)
        if welcome is not None:
            failure = await send_confirmation(site.project, welcome)
            if failure is not None:  # the reader is subscribed all the same
                log.warning("welcome email to %s not sent: %s", email, failure)
        return no_store(site.page(_PAGES, "confirmed.html"))

    def confirm(self, email: str, lists: list[str], name: str | None) -> Envelope | None:
        """Confirm; the welcome email for a reader who joined now (a second press of Confirm
        sends nothing more)."""
        with self.site.open_store() as store:
            joined = False
            for list_name in lists:
                was = store.subscriber_status(email, list_name)
                joined |= confirm(store, email, list_name, name) and was != "active"
            if not joined:
                return None
            return welcome_envelope(self.site.config, email, latest_sent_issue(store))


class _Preferences:
    """`/preferences`: the link in every message (name, lists, leaving)."""

    def __init__(self, site: Site) -> None:
        self.site = site

    def current(self, email: str) -> tuple[bool, str, list[ListInfo], list[str]]:
        """(suppressed, name, the lists shown, those the address is active on)."""
        with self.site.open_store() as store:
            rows = store.subscriptions(email)
            shown = preference_lists(offered_lists(self.site.project, store), rows)
            active = [name for name, row in rows.items() if row.status == "active"]
            name = next((row.name for row in rows.values() if row.name), "")
            return store.is_suppressed(email), name, shown, active

    async def page(
        self,
        request: Request,
        token: str,
        email: str,
        status: int = 200,
        problem: str = "",
        saved: bool = False,
    ) -> Response:
        suppressed, name, shown, active = await run_in_threadpool(self.current, email)
        if suppressed:
            return no_store(self.site.page(_PAGES, "left.html", email=email))
        return self.site.with_csrf(
            request,
            _PAGES,
            "preferences.html",
            status,
            token=token,
            email=email,
            name=name,
            lists=shown,
            chosen=active,
            problem=problem,
            saved=saved,
        )

    def preferences_of(self, token: str) -> tuple[str, str] | Response:
        """(email, list) of a genuine preferences token; an error page otherwise."""
        try:
            return read_preferences_token(self.site.secrets, token)
        except BadToken as exc:
            return self.site.error(
                400,
                "This preferences link does not work",
                f"The link is incomplete or has been altered ({exc}). Please use the link "
                "exactly as it appears in the newsletter.",
            )

    async def route(self, request: Request) -> Response:
        site = self.site
        if request.method == "GET":
            token = request.query_params.get("token", "")
            found = self.preferences_of(token)
            if isinstance(found, Response):
                return found
            return await self.page(request, token, found[0])
        form = await site.read_form(request, "A preferences form is a few short fields.")
        if isinstance(form, Response):
            return form
        if not site.csrf_ok(request, form):
            return site.bad_form()
        token = form.get("token", "")
        found = self.preferences_of(token)
        if isinstance(found, Response):
            return found
        email, list_name = found
        if form.get("action") == "leave":
            await run_in_threadpool(self.leave, email, list_name)
            return no_store(site.page(_PAGES, "left.html", email=email))
        problem = await run_in_threadpool(self.save, email, form)
        if problem:
            return await self.page(request, token, email, 400, problem)
        return await self.page(request, token, email, saved=True)

    def leave(self, email: str, list_name: str) -> None:
        with self.site.open_store() as store:
            unsubscribe_address(store, email, list_name)

    def save(self, email: str, form: ImmutableMultiDict[str, str]) -> str:
        """Apply the form; a reason when it names a list that is not shown, else ""."""
        with self.site.open_store() as store:
            shown = [
                info.name
                for info in preference_lists(
                    offered_lists(self.site.project, store), store.subscriptions(email)
                )
            ]
            chosen = form.getlist("lists")
            unknown = [c for c in chosen if c not in shown]
            if unknown:
                return f"There is no list “{unknown[0][:64]}” here; nothing was changed."
            # one list shown has no checkbox: the page offers the name and leaving only
            changeable = shown if len(shown) > 1 else []
            save_preferences(store, email, clean_name(form.get("name", "")), chosen, changeable)
            return ""


def signup_routes(site: Site) -> list[Route]:
    """The routes of `/subscribe`, `/confirm` and `/preferences` for the app of `site`."""
    return [
        Route("/subscribe", _Subscribe(site).route, methods=["GET", "POST"]),
        Route("/confirm", _Confirm(site).route, methods=["GET", "POST"]),
        Route("/preferences", _Preferences(site).route, methods=["GET", "POST"]),
    ]
