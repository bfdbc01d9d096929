"""Fixtures shared across test modules."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked `slow` first, the rest in their order: the test processes (xdist)
    start on the long ones and share the short ones out around them, so that the run does not
    end with one long test still running alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def shared_chromium() -> Iterator[Any]:
    """One headless Chromium for this test process (browser_support.SharedChromium)."""
    from browser_support import SharedChromium

    browser = SharedChromium()
    yield browser
    browser.close()


@pytest.fixture
def chromium(shared_chromium: Any) -> Callable[[], AbstractContextManager[Any]]:
    """Debian's headless Chromium, driven by Playwright (never a browser download):
    `with chromium() as browser: ...`; each `browser.new_page()` is a fresh context. The
    browser is the session's, started once (browser_support.py); Playwright is this test's, and
    a context manager rather than an open browser, because Playwright's sync API keeps an event
    loop running that `asyncio.run` must not meet."""
    from browser_support import CHROMIUM

    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not at /usr/bin/chromium (apt install chromium)")

    @contextmanager
    def connect() -> Iterator[Any]:
        from playwright.sync_api import sync_playwright

        endpoint = shared_chromium.endpoint()
        with sync_playwright() as playwright:
            browser = playwright.chromium.connect_over_cdp(endpoint)
            try:
                yield browser
            finally:
                browser.close()  # the contexts this test made, and the connection

    return connect


@contextmanager
def http_server(
    handler: Callable[..., BaseHTTPRequestHandler], host: str = "127.0.0.1"
) -> Iterator[str]:
    """A real `http.server` on a loopback port, in a thread: yields its base URL."""
    httpd = ThreadingHTTPServer((host, 0), handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://{host}:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def allow_loopback_sources(root: Path) -> None:
    """Let the project at `root` fetch from 127.0.0.1, where the tests' feed servers listen: a
    project refuses loopback and private addresses by default."""
    config = root / "digest.toml"
    text = config.read_text()
    assert "allow_private = false" in text
    config.write_text(text.replace("allow_private = false", 'allow_private = ["127.0.0.1/32"]'))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A new project signing its links with web_support's SECRET (the web tests' project; a
    module with a `project` fixture of its own uses that one)."""
    from web_support import SECRET

    from digest.project import init_project

    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    project = init_project(tmp_path / "news")
    yield project
    project.close()


@pytest.fixture
def client(project: Any) -> Any:
    """The web app of `project`, in-process (web_support.web_client)."""
    from web_support import web_client

    return web_client(project)


@pytest.fixture(scope="session")
def dovecot_servers() -> Iterator[Any]:
    """dovecot on loopback for the whole session, one per capability list
    (imap_support.DovecotServers); skips where Debian's dovecot is not installed."""
    from imap_support import DOVECOT, DovecotServers

    if not DOVECOT.exists():
        pytest.skip("Debian's dovecot is not installed (apt install dovecot-imapd)")
    servers = DovecotServers()
    yield servers
    servers.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """One real PostgreSQL for the whole session (see postgres_support.py)."""
    from postgres_support import postgres_server

    with postgres_server() as server:
        yield server


@pytest.fixture
def postgres_url(postgres: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh database on the session's server, its password in PGPASSWORD."""
    if isinstance(postgres, str):
        pytest.skip(postgres)
    from postgres_support import PASSWORD

    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    url: str = postgres.new_database()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test's commands on each state store: the project's SQLite file, then a fresh
    database on the session's PostgreSQL (DIGEST_DATABASE_URL, with the shared DIGEST_SECRET
    that PostgreSQL requires)."""
    if request.param == "postgresql":
        monkeypatch.setenv("DIGEST_DATABASE_URL", request.getfixturevalue("postgres_url"))
        monkeypatch.setenv("DIGEST_SECRET", "store-backend-test-secret-0123456789abcdef")
    return str(request.param)
