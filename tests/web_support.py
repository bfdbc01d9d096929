"""What the web tests share: the secret their projects sign with, the app in-process under
Starlette's TestClient, and the app under a real uvicorn on a loopback port, in a thread."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.testclient import TestClient

from digest.project import Project
from digest.web import create_app, server_config

SECRET = "a-test-secret-that-is-long-enough"


def web_client(project: Project, **options: Any) -> TestClient:
    """The app in-process, addressed by its public host (the only Host header it answers)."""
    return TestClient(create_app(project), base_url=project.config.base_url, **options)


@contextmanager
def uvicorn_thread(project: Project, **options: Any) -> Iterator[str]:
    """The app under a real uvicorn (`server_config(app, **options)`) on a free loopback port,
    in a thread: yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(server_config(create_app(project), log_level="warning", **options))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def csrf_of(page: str) -> str:
    """The CSRF field of the (first) form on a page."""
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)
