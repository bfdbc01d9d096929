"""`digest preview`: a stored issue, shown as HTML and as text on a tiny loopback server.

The preview re-renders the issue's stored entries with the project's *current* templates on every
request, so an editor sees a template change as soon as the page reloads; the page polls
`/version` (a fingerprint of the template files) and reloads itself when it changes. What is sent
is still the frozen copy made by `digest build`; rebuild to send a changed design.

Routes: `/` the HTML (web version, with the reload script), `/html` the same without the script,
`/text` the plain-text part, `/version` the template fingerprint. Only requests naming the server's
own loopback address in their Host header are answered: a page elsewhere whose name is made to
resolve to 127.0.0.1 (DNS rebinding) must not read the unpublished issue.
"""

from __future__ import annotations

import hashlib
import html as html_lib
import threading
from dataclasses import dataclass, replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from digest.config import Config
from digest.errors import DigestError
from digest.models import Issue
from digest.render import fill_placeholders, generic_values, render_issue, web_version

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
    """Renders one issue with the templates found in `template_dirs` right now."""

    issue: Issue
    config: Config
    template_dirs: list[Path]

    def fresh_issue(self) -> Issue:
        parts = render_issue(
            self.issue.entries,
            config=self.config,
            template_dirs=self.template_dirs,
            subject=self.issue.subject,
            issued=self.issue.created,
        )
        return replace(self.issue, html=parts.html, text=parts.text)

    def html(self) -> str:
        return web_version(self.fresh_issue())

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
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/"

    @property
    def own_hosts(self) -> set[str]:
        """The Host header values that name this server."""
        host, port = self.server_address[:2]
        return {f"{name}:{port}" for name in (str(host), "localhost", "127.0.0.1", "[::1]")}

    def start_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="digest-preview", daemon=True)
        thread.start()
        return thread


class _Handler(BaseHTTPRequestHandler):
    server: PreviewServer

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        preview = self.server.preview
        path = self.path.split("?", 1)[0]
        if (self.headers.get("Host") or "").lower() not in self.server.own_hosts:
            self._send(
                f"This preview answers only at {self.server.url}\n",
                "text/plain",
                HTTPStatus.MISDIRECTED_REQUEST,
            )
            return
        try:
            if path == "/version":
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

    def _send(self, body: str, kind: str, status: HTTPStatus = HTTPStatus.OK) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Quiet: the terminal is the editor's, not an access log."""
