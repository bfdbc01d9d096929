"""`digest preview`: the editor's desk, and the issue as HTML and text, on a loopback server.

A draft is re-rendered with the project's *current* templates on every request, so an editor sees
a template change as soon as the page reloads (the pages poll `/version`, a fingerprint of the
template files, and reload when it changes). An approved, sending or sent issue shows its frozen
parts: exactly what is mailed (docs/editing.md).

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

import hashlib
import hmac
import html as html_lib
import secrets
import threading
from dataclasses import dataclass, replace
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import jinja2

from digest import desk
from digest.config import Config
from digest.desk_reasons import why_story
from digest.errors import DigestError
from digest.models import Issue
from digest.project import open_project
from digest.render import fill_placeholders, generic_values, web_version

_RELOAD_SCRIPT = """<script>
(function () {
  var seen = null;
  function poll() {
    fetch("/version", {cache: "no-store"}).then(function (r) { return r.text(); })
      .then(function (v) { if (seen !== null && v !== seen) { location.reload(); } seen = v; })
      .catch(function () {}).finally(function () { setTimeout(poll, 1000); });
  }
  poll();
})();
</script>"""


@dataclass
class Preview:
    """One issue as it mails now: a draft rendered with the templates in `template_dirs` right
    now, any other issue as frozen. With `root` (the project folder) the issue is read afresh
    from the store on every request, so the desk's changes show at once."""

    issue: Issue
    config: Config
    template_dirs: list[Path]
    root: Path | None = None

    def current(self) -> Issue:
        if self.root is None:
            return self.issue
        project = open_project(self.root)
        try:
            self.issue = project.store.issue(self.issue.id)
        finally:
            project.close()
        return self.issue

    def fresh_issue(self) -> Issue:
        issue = self.current()
        if issue.status != desk.DRAFT:
            return issue
        parts = desk.render_with(issue, self.config, self.template_dirs)
        return replace(issue, html=parts.html, text=parts.text)

    def html(self) -> str:
        return web_version(self.fresh_issue())

    def mail(self) -> str:
        """The HTML part as a reader gets it, with nobody's personal values."""
        issue = self.fresh_issue()
        return fill_placeholders(issue.html, generic_values(issue), escape_html=True)

    def text(self) -> str:
        issue = self.fresh_issue()
        return fill_placeholders(issue.text, generic_values(issue), escape_html=False)

    def templates_version(self) -> str:
        """Changes whenever a template file is added, removed or edited."""
        digest = hashlib.sha256()
        for folder in self.template_dirs:
            if not folder.is_dir():
                continue
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    stat = path.stat()
                    digest.update(f"{path}\0{stat.st_mtime_ns}\0{stat.st_size}\n".encode())
        return digest.hexdigest()[:16]


_DESK_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(Path(__file__).parent)),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_DESK_ENV.filters["why"] = why_story
_DESK_PAGE = _DESK_ENV.get_template("desk_page.html")
MAX_FORM_BYTES = 64 * 1024  # an intro and a summary fit many times over


SEARCH_RESULTS = 20  # stored articles the desk's search lists


def desk_page(
    preview: Preview,
    csrf: str,
    flash: tuple[str, bool] | None,
    anchor: str = "",
    search: str = "",
) -> str:
    """The editor's desk for the issue: controls for a draft, state and report otherwise;
    `search` finds stored articles to add (`digest articles` in the browser)."""
    assert preview.root is not None
    project = open_project(preview.root)
    try:
        issue = project.store.issue(preview.issue.id)
        draft = issue.status == desk.DRAFT
        search = " ".join(search.split())[:200]
        found = (
            project.store.find_articles(text=search, limit=SEARCH_RESULTS)
            if draft and search
            else []
        )
        stories = []
        history = desk.source_history(project) if draft else {}
        for position, entry in enumerate(issue.entries, 1):
            try:
                offered = desk.article_sentences(project, issue.id, position) if draft else []
            except DigestError:  # the article left the store: free text still works
                offered = []
            past = history.get(entry.source_name, "")
            stories.append({"entry": entry, "sentences": offered, "history": past})
        report = (
            desk.send_summary(project, issue) if issue.status in (desk.SENDING, desk.SENT) else None
        )
        return _DESK_PAGE.render(
            issue=issue,
            name=project.config.name,
            draft=draft,
            stories=stories,
            report=report,
            csrf=csrf,
            flash=flash[0] if flash else "",
            flash_error=bool(flash and flash[1]),
            anchor=anchor,
            search=search,
            found=found,
            taken={entry.article_id for entry in issue.entries},
        )
    finally:
        project.close()


def _number(form: dict[str, list[str]], name: str) -> int:
    value = (form.get(name) or [""])[0]
    if not value.isdigit():
        raise DigestError(f"{name} {value!r}: not a number")
    return int(value)


def _field(form: dict[str, list[str]], name: str) -> str:
    return (form.get(name) or [""])[0]


def apply_change(preview: Preview, form: dict[str, list[str]]) -> tuple[str, str]:
    """Make the one change a desk form asks for; (what was done, where the page goes back)."""
    from digest.send import send_test_copy

    assert preview.root is not None
    issue_id = preview.issue.id
    action = _field(form, "action")
    project = open_project(preview.root)
    try:
        if action in ("drop", "up", "down"):
            position = _number(form, "position")
            if action == "drop":
                desk.drop_stories(project, issue_id, [position])
                return f"Dropped story {position}.", "#h-stories"
            target = position - 1 if action == "up" else position + 1
            desk.move_story(project, issue_id, position, target)
            return f"Moved story {position} to {target}.", f"#story-{target}"
        if action == "edit":
            position = _number(form, "position")
            desk.edit_story(
                project,
                issue_id,
                position,
                title=_field(form, "title"),
                summary=_field(form, "summary"),
            )
            return f"Saved story {position}.", f"#story-{position}"
        if action == "sentences":
            position = _number(form, "position")
            numbers = [int(n) for n in form.get("sentence", []) if n.isdigit()]
            if not numbers:
                raise DigestError(f"story {position}: tick at least one sentence")
            desk.edit_story(project, issue_id, position, sentences=numbers)
            return f"Story {position} now uses sentences {', '.join(map(str, numbers))}.", (
                f"#story-{position}"
            )
        if action == "add":
            issue = desk.add_story(project, issue_id, _field(form, "article"))
            return f"Added story {len(issue.entries)}.", f"#story-{len(issue.entries)}"
        if action == "subject":
            issue = desk.set_subject(project, issue_id, _field(form, "subject"))
            return f"Subject: {issue.subject}", "#subject"
        if action == "intro":
            issue = desk.set_intro(project, issue_id, _field(form, "intro"))
            return ("Intro saved." if issue.intro else "Intro removed."), "#intro"
        if action == "test":
            copy = send_test_copy(project, issue_id, _field(form, "address"))
            if not copy.delivery.ok:
                raise DigestError(copy.said())
            return copy.said(), "#h-test"
        if action == "approve":
            desk.approve(project, issue_id)
            return f"Issue {issue_id} approved: frozen as shown.", "#h-state"
        if action == "reopen":
            desk.reopen(project, issue_id)
            return f"Issue {issue_id} is a draft again.", "#h-state"
        raise DigestError(f"unknown change {action!r}")
    finally:
        project.close()


def _error_page(message: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Template error</title>'
        '</head><body style="font-family: sans-serif; padding: 2em;"><h1>Template error</h1>'
        f"<pre>{html_lib.escape(message)}</pre>"
        "<p>Fix the template and this page reloads.</p></body></html>"
    )


def with_reload_script(html: str) -> str:
    index = html.lower().rfind("</body>")
    return html[:index] + _RELOAD_SCRIPT + html[index:] if index >= 0 else html + _RELOAD_SCRIPT


class PreviewServer(ThreadingHTTPServer):
    """The preview over HTTP on 127.0.0.1. `port=0` picks a free port (see `url`)."""

    daemon_threads = True

    def __init__(self, preview: Preview, port: int = 0, host: str = "127.0.0.1") -> None:
        self.preview = preview
        # every form of the desk carries it: a page elsewhere cannot post a change
        self.csrf = secrets.token_urlsafe(32)
        # every request carries this one (the link, then a cookie): another local user cannot
        self.token = secrets.token_urlsafe(32)
        self.flash: tuple[str, bool] | None = None  # the last change's message, shown once
        self.anchor = ""  # where the last change happened: the desk scrolls there
        self.lock = threading.Lock()  # one change at a time
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/"

    def link(self, path: str = "") -> str:
        """The address of `path` with the token: what the editor opens (and nobody else can)."""
        return f"{self.url}{path}?token={quote(self.token)}"

    @property
    def cookie_name(self) -> str:
        # cookies do not keep ports apart: two desks at once each keep their own
        return f"digest_desk_{self.server_address[1]}"

    @property
    def own_hosts(self) -> set[str]:
        """The Host header values that name this server."""
        host, port = self.server_address[:2]
        return {f"{name}:{port}" for name in (str(host), "localhost", "127.0.0.1", "[::1]")}

    def start_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="digest-preview", daemon=True)
        thread.start()
        return thread


def opener_file(server: PreviewServer) -> Path:
    """A page, readable by its owner only, that sends the browser on to the desk's link."""
    import tempfile

    fd, name = tempfile.mkstemp(prefix="digest-desk-", suffix=".html")  # mode 0600
    link = html_lib.escape(server.link("desk"))
    with open(fd, "w", encoding="utf-8") as f:
        f.write(
            '<!DOCTYPE html><meta charset="utf-8">'
            f'<meta http-equiv="refresh" content="0;url={link}">'
            f'<title>digest desk</title><p><a href="{link}">Open the editor\'s desk</a></p>\n'
        )
    return Path(name)


class _Handler(BaseHTTPRequestHandler):
    server: PreviewServer
    _give_cookie = False

    def _unauthorised(self) -> bool:
        """Refuse (403) a request without the server's token, in its query or its cookie; a
        request that brings it in the query gets the cookie, for the pages' own requests."""
        expected = self.server.token.encode()
        given = parse_qs(urlsplit(self.path).query).get("token", [""])[0]
        if given and hmac.compare_digest(given.encode(), expected):
            self._give_cookie = True
            return False
        try:
            jar = SimpleCookie(self.headers.get("Cookie") or "")
        except CookieError:
            jar = SimpleCookie()
        morsel = jar.get(self.server.cookie_name)
        if morsel is not None and hmac.compare_digest(morsel.value.encode(), expected):
            return False
        self._send(
            "This desk opens only with its token: use the link `digest preview` printed.\n",
            "text/plain",
            HTTPStatus.FORBIDDEN,
        )
        return True

    def _cookie_header(self) -> None:
        if self._give_cookie:
            self.send_header(
                "Set-Cookie",
                f"{self.server.cookie_name}={self.server.token}; HttpOnly; SameSite=Strict; Path=/",
            )

    def _foreign(self) -> bool:
        """Refuse (421) a request whose Host is not this server's loopback address."""
        if (self.headers.get("Host") or "").lower() in self.server.own_hosts:
            return False
        self._send(
            f"This preview answers only at {self.server.url}\n",
            "text/plain",
            HTTPStatus.MISDIRECTED_REQUEST,
        )
        return True

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        preview = self.server.preview
        path = self.path.split("?", 1)[0]
        if self._foreign() or self._unauthorised():
            return
        try:
            if path == "/desk" and preview.root is not None:
                with self.server.lock:
                    flash, self.server.flash = self.server.flash, None
                    anchor, self.server.anchor = self.server.anchor, ""
                query = parse_qs(self.path.partition("?")[2]).get("q", [""])[0]
                page = desk_page(preview, self.server.csrf, flash, anchor.lstrip("#"), search=query)
                self._send(page, "text/html")
            elif path == "/mail":
                self._send(preview.mail(), "text/html")
            elif path == "/version":
                self._send(preview.templates_version(), "text/plain")
            elif path == "/text":
                self._send(preview.text(), "text/plain")
            elif path in ("/", "/index.html"):
                self._send(with_reload_script(preview.html()), "text/html")
            elif path == "/html":
                self._send(preview.html(), "text/html")
            else:
                self._send("not found\n", "text/plain", HTTPStatus.NOT_FOUND)
        except DigestError as exc:
            # a broken template while editing: show it, keep polling so the fix shows up
            self._send(with_reload_script(_error_page(str(exc))), "text/html")

    def do_POST(self) -> None:  # noqa: N802
        if self._foreign() or self._unauthorised():
            return
        preview = self.server.preview
        if self.path.split("?", 1)[0] != "/desk" or preview.root is None:
            self._send("not found\n", "text/plain", HTTPStatus.NOT_FOUND)
            return
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_FORM_BYTES:
            self._send("form too large\n", "text/plain", HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
            return
        kind = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        body = self.rfile.read(length).decode("utf-8", "replace")
        if kind != "application/x-www-form-urlencoded":
            self._send("a form, please\n", "text/plain", HTTPStatus.UNSUPPORTED_MEDIA_TYPE)
            return
        form = parse_qs(body, keep_blank_values=True, max_num_fields=1000)
        if not hmac.compare_digest(_field(form, "csrf").encode(), self.server.csrf.encode()):
            self._send(
                "missing or wrong CSRF token: reload the desk\n", "text/plain", HTTPStatus.FORBIDDEN
            )
            return
        with self.server.lock:
            try:
                message, self.server.anchor = apply_change(preview, form)
                self.server.flash = (message, False)
            except DigestError as exc:
                self.server.flash, self.server.anchor = (str(exc), True), ""
        # back to the desk (POST/redirect/GET: a reload never repeats the change); no fragment,
        # which would take the focus away from the message
        self.send_response(HTTPStatus.SEE_OTHER)
        self.send_header("Location", "/desk")
        self._cookie_header()
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(self, body: str, kind: str, status: HTTPStatus = HTTPStatus.OK) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        # only the desk itself may frame these pages: no page elsewhere can overlay its buttons
        self.send_header("X-Frame-Options", "SAMEORIGIN")
        self.send_header("Content-Security-Policy", "frame-ancestors 'self'")
        self.send_header("Referrer-Policy", "no-referrer")
        self._cookie_header()
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Quiet: the terminal is the editor's, not an access log."""
