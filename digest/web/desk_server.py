"""`digest preview`'s server: the desk's app (`digest.web.app.create_desk_app`) under uvicorn,
on a socket bound to 127.0.0.1 when it is made; and the private page that opens it."""

from __future__ import annotations

import html as html_lib
import socket
import threading
import time
from pathlib import Path
from urllib.parse import quote

import uvicorn

from digest.web.app import create_desk_app
from digest.web.desk import DeskState
from digest.web.desk_view import Preview


class DeskServer:
    """The desk over HTTP on 127.0.0.1 under uvicorn, on a socket bound when it is made (so a
    busy port is an OSError here, and `port=0` picks a free one: see `url`)."""

    def __init__(self, preview: Preview, port: int = 0, host: str = "127.0.0.1") -> None:
        self.state = DeskState(preview)
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self.socket.bind((host, port))
            self.socket.listen(128)
        except OSError:
            self.socket.close()
            raise
        self.state.host, self.state.port = self.socket.getsockname()[:2]
        config = uvicorn.Config(
            create_desk_app(self.state),
            log_level="warning",
            access_log=False,  # quiet: the terminal is the editor's, not an access log
            server_header=False,
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(config)
        self.thread: threading.Thread | None = None

    # the launch's state, read by the CLI and the tests
    preview = property(lambda self: self.state.preview)
    csrf = property(lambda self: self.state.csrf)
    token = property(lambda self: self.state.token)
    flash = property(lambda self: self.state.flash)
    url = property(lambda self: self.state.url)
    cookie_name = property(lambda self: self.state.cookie_name)

    @property
    def server_address(self) -> tuple[str, int]:
        return self.state.host, self.state.port

    def link(self, path: str = "") -> str:
        """The address of `path` with the token: what the editor opens (and nobody else can)."""
        return f"{self.url}{path}?token={quote(self.token)}"

    def serve_forever(self) -> None:
        """Serve until Ctrl-C (uvicorn's own signal handling) or `shutdown()`."""
        self.server.run(sockets=[self.socket])

    def start_in_thread(self) -> threading.Thread:
        self.thread = threading.Thread(
            target=self.serve_forever, name="digest-preview", daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.thread

    def shutdown(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=10)

    def server_close(self) -> None:
        self.socket.close()


# the name the desk's callers have used since it was an http.server
PreviewServer = DeskServer


def opener_file(server: DeskServer) -> Path:
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
