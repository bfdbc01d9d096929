"""What every page of the web side shares (`digest.web.app` assembles them into one app): the
small HTML pages and their base, a store per request, and the page-side of the bounded form
read and the CSRF pair (`digest.web.middleware`).

`Site` holds one project's secrets, read once when the app is made: the signing one first, then
any previous ones (DIGEST_SECRET_PREVIOUS), so links signed before a rotation still work.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import jinja2
from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from digest.keys import project_keys
from digest.project import Project
from digest.signup import csrf_pair
from digest.store import Store
from digest.web.middleware import (
    ClientGone,
    FormTooLarge,
    csrf_cookie_name,
    csrf_form_ok,
    csrf_nonce,
    read_bounded_form,
    set_csrf_cookie,
)

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


class Site:
    """One project's web side: its name, secrets and store, and the pages' common parts."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.config = project.config
        self.newsletter = project.config.name
        with self.open_store() as store:
            self.secrets = project_keys(project, store).verify
        self.secure = self.config.base_url.startswith("https:")
        self.csrf_cookie = csrf_cookie_name(self.secure)

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
        """The POST's form, bounded (`read_bounded_form`); an error page otherwise."""
        try:
            return await read_bounded_form(request)
        except ClientGone:  # gone, or cut off at the request deadline: nobody to answer
            return Response(status_code=400)
        except FormTooLarge:
            return self.error(413, "Request too large", what)

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
        nonce = csrf_nonce(request, self.csrf_cookie)
        response = self.page(
            pages, template, status, csrf=csrf_pair(self.secrets[0], nonce), **context
        )
        set_csrf_cookie(response, self.csrf_cookie, nonce, self.secure)
        return no_store(response)

    def csrf_ok(self, request: Request, form: ImmutableMultiDict[str, Any]) -> bool:
        return csrf_form_ok(self.secrets, request, self.csrf_cookie, form)

    def bad_form(self) -> Response:
        return self.error(
            403,
            "This form has expired",
            "Please reload the page and send the form again (cookies must be allowed).",
        )
