"""The sign-up form and the editor's desk under attack (issue 24): the form's clock, mail bombs
through address variants, name poisoning, the CSRF cookie, a slow resolver, and another local
user at the desk's port; real servers on loopback. docs/security.md says what is defended."""

from __future__ import annotations

import asyncio
import http.client
import http.server
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import dns.message
import dns.rcode
import httpx
import pytest
from send_support import FaultyRelay, Relay
from starlette.testclient import TestClient
from test_signup import configured, link_token, mails, sign_up
from typer.testing import CliRunner
from web_support import SECRET, csrf_of, uvicorn_thread, web_client

from digest.cli import app
from digest.project import Project, init_project, open_project
from digest.signup import csrf_pair, read_confirmation
from digest.tokens import make_token
from digest.web.desk_server import PreviewServer
from digest.web.desk_view import Preview


def _cli(root: Path, *args: str) -> object:
    return CliRunner().invoke(app, ["--project", str(root), *args])


# -- 2. the sign-up form's clock tells nothing ---------------------------------------------------


def test_the_confirmation_is_mailed_after_the_response_has_gone(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through a real uvicorn and a real SMTP relay that takes seconds to accept the mail: the
    page arrives while the relay still holds the message, and the mail arrives after."""
    handler = FaultyRelay(slow_data={"ada@example.org": 1}, slow_seconds=3.0)
    relay = Relay(handler).start()
    try:
        monkeypatch.setenv("DIGEST_SMTP_URL", f"smtp://127.0.0.1:{relay.port}?starttls=no")
        reopened = configured(project)
        with (
            uvicorn_thread(reopened) as base,
            httpx.Client(base_url=base, headers={"Host": "127.0.0.1:8080"}) as browser,
        ):
            csrf = csrf_of(browser.get("/subscribe").text)
            page = browser.post("/subscribe", data={"csrf": csrf, "email": "ada@example.org"})
            assert page.status_code == 200 and "Check your inbox" in page.text
            assert handler.copies()["ada@example.org"] == 0  # the mail is still on its way
            deadline = time.monotonic() + 20
            while not handler.copies() and time.monotonic() < deadline:
                time.sleep(0.05)
        assert handler.copies()["ada@example.org"] == 1
        rows = reopened.store.subscriptions("ada@example.org")
        assert [row.status for row in rows.values()] == ["pending"]
        reopened.close()
    finally:
        relay.stop()


# -- 3. a mail bomb through address variants ----------------------------------------------------


def test_at_most_three_confirmations_reach_one_mailbox_however_it_is_spelled(
    project: Project,
) -> None:
    variants = [
        "victim@gmail.com",
        "victim+1@gmail.com",
        "victim+2@gmail.com",
        "v.ictim@gmail.com",
        "vi.c.tim+news@gmail.com",
        "VICTIM@gmail.com",
        "victim@googlemail.com",
        "v.i.c.t.i.m+99@googlemail.com",
    ]
    for number, address in enumerate(variants):
        # each from a client of its own (a /48 of its own), so only the mailbox's count holds
        client = web_client(project, client=(f"2001:db8:{number}::1", 40000))
        assert sign_up(client, address)[0] == 200
    assert len(mails(project)) == 3


def test_one_domain_gets_only_its_budget_of_confirmations(project: Project) -> None:
    limited = configured(
        project, ("confirmations_per_domain_hour = 50", "confirmations_per_domain_hour = 4")
    )
    for number in range(7):
        client = web_client(limited, client=(f"198.51.100.{number}", 40000))
        assert sign_up(client, f"person{number}@small.example.org")[0] == 200
    assert sign_up(web_client(limited), "ada@other.example.org")[0] == 200
    recipients = [str(m["To"]) for m in mails(limited)]
    assert len([r for r in recipients if r.endswith("@small.example.org")]) == 4
    assert "ada@other.example.org" in recipients
    limited.close()


def test_ipv6_clients_are_counted_by_their_48(project: Project) -> None:
    limited = configured(project, ("signups_per_client_hour = 20", "signups_per_client_hour = 3"))
    codes = [
        sign_up(web_client(limited, client=(f"2001:db8:7:{n}::1", 40000)), f"p{n}@example.org")[0]
        for n in range(1, 5)  # four /64s of one /48
    ]
    assert codes == [200, 200, 200, 429]
    assert sign_up(web_client(limited, client=("2001:db8:8::1", 40000)), "q@example.org")[0] == 200
    limited.close()


# -- 4. name poisoning ---------------------------------------------------------------------------


def _confirm(client: TestClient, token: str) -> None:
    shown = client.get("/confirm", params={"token": token})
    done = client.post("/confirm", data={"token": token, "csrf": csrf_of(shown.text)})
    assert done.status_code == 200 and 'id="confirmed"' in done.text


def _names(project: Project, email: str) -> list[str]:
    return [s.name for s in project.store.subscribers("example") if s.email == email]


def test_the_confirmed_row_takes_the_name_of_the_sign_up_that_was_confirmed(
    project: Project, client: TestClient
) -> None:
    stranger = web_client(project, client=("203.0.113.66", 40000))
    assert sign_up(stranger, "ada@example.org", name="=HYPERLINK(evil) Idiot")[0] == 200
    [first] = mails(project)
    strangers = link_token(first)
    assert sign_up(client, "ada@example.org", name="Ada Lovelace")[0] == 200
    [adas] = [link_token(m) for m in mails(project) if m["Message-ID"] != first["Message-ID"]]
    _confirm(client, adas)
    assert _names(project, "ada@example.org") == ["Ada Lovelace"]
    # a link made before names were bound keeps the row's name
    old = make_token(SECRET.encode(), "ada@example.org", "confirm:example", expires=_tomorrow())
    _confirm(client, old)
    assert _names(project, "ada@example.org") == ["Ada Lovelace"]
    assert read_confirmation([SECRET.encode()], strangers)[2] == "=HYPERLINK(evil) Idiot"


def _tomorrow() -> datetime:
    return datetime.now(UTC) + timedelta(days=1)


# -- 5. the CSRF cookie's prefix -----------------------------------------------------------------


def test_under_https_the_csrf_cookie_is_a_host_cookie(project: Project) -> None:
    secure = configured(
        project, ('base_url = "http://127.0.0.1:8080"', 'base_url = "https://news.example.org"')
    )
    client = web_client(secure)
    form = client.get("/subscribe")
    cookie = form.headers["set-cookie"]
    assert cookie.startswith("__Host-digest_csrf=")
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"secure", "path", "httponly", "samesite"} <= attributes and "domain" not in attributes
    assert "path=/;" in cookie.lower().replace(" ", "") + ";"
    assert sign_up(client, "ada@example.org")[0] == 200  # the pair still works
    # a cookie without the prefix (planted by a sibling subdomain) does not pair with a form
    planted = web_client(secure, cookies={"digest_csrf": "0" * 32})
    data = {"csrf": csrf_pair(SECRET.encode(), "0" * 32), "email": "bo@example.org"}
    assert planted.post("/subscribe", data=data).status_code == 403
    secure.close()


# -- 10. the editor's desk opens only with its per-launch token ----------------------------------


def _request(
    server: PreviewServer, method: str, path: str, body: str = "", cookie: str = ""
) -> tuple[int, dict[str, str], str]:
    port = server.server_address[1]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Host": f"127.0.0.1:{port}"}
    if body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if cookie:
        headers["Cookie"] = cookie
    try:
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        connection.close()


def test_another_local_user_cannot_read_or_drive_the_desk(tmp_path: Path) -> None:
    root = tmp_path / "news"
    init_project(root, with_examples=True).close()
    built = _cli(root, "build", "--as-of", "2026-11-20", "--limit", "3")
    assert built.exit_code == 0, built.output  # type: ignore[attr-defined]
    project = open_project(root)
    issue = project.store.latest_issue()
    assert issue is not None
    preview = Preview(issue, project.config, project.template_dirs, root=project.root)
    project.close()
    server = PreviewServer(preview, port=0)
    server.start_in_thread()
    drop = urlencode({"action": "drop", "position": "1", "csrf": server.csrf})
    try:
        # without the token (or with a wrong one): nothing to read, nothing changes
        for path in ("/desk", "/text", "/mail", "/version", "/desk?token=guess"):
            status, _, text = _request(server, "GET", path)
            assert status == 403 and issue.subject not in text, path
        assert _request(server, "POST", "/desk", drop)[0] == 403
        assert len(open_project(root).store.issue(issue.id).entries) == 3
        # the link printed at launch opens it, and leaves a cookie for the pages' own requests
        status, headers, page = _request(server, "GET", f"/desk?token={server.token}")
        assert status == 200 and "csrf" in page
        cookie = headers["Set-Cookie"].split(";")[0]
        assert cookie == f"{server.cookie_name}={server.token}"
        assert "HttpOnly" in headers["Set-Cookie"] and "SameSite=Strict" in headers["Set-Cookie"]
        assert _request(server, "GET", "/text", cookie=cookie)[0] == 200
        assert _request(server, "POST", "/desk", drop, cookie=cookie)[0] == 303
        assert len(open_project(root).store.issue(issue.id).entries) == 2
    finally:
        server.shutdown()
        server.server_close()


# -- 11. a slow resolver holds no worker thread --------------------------------------------------


@contextmanager
def held_dns() -> Iterator[tuple[tuple[str, int], threading.Event]]:
    """A DNS server on loopback that holds every query until the event is set, then answers
    each NXDOMAIN. Yields its address and the event."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    release, stop = threading.Event(), threading.Event()

    def serve() -> None:
        held: list[tuple[bytes, Any]] = []
        while not stop.is_set():
            with suppress(TimeoutError):
                held.append(sock.recvfrom(4096))
            while release.is_set() and held:
                wire, peer = held.pop()
                response = dns.message.make_response(dns.message.from_wire(wire))
                response.set_rcode(dns.rcode.NXDOMAIN)
                sock.sendto(response.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname(), release
    finally:
        release.set()
        stop.set()
        thread.join(timeout=5)
        sock.close()


def test_sign_ups_waiting_on_a_slow_resolver_do_not_hold_the_other_pages_up(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More sign-ups than the server has worker threads, each waiting on a resolver that does
    not answer yet: the archive page (which needs a worker thread for the store) is answered
    while the resolver still holds every query."""
    for module in ("digest.maildomain", "digest.subscribers"):  # a deadline longer than the test
        monkeypatch.setattr(f"{module}.DNS_TIMEOUT", 60, raising=False)
    with held_dns() as ((host, port), release):
        checking = configured(
            project,
            ("check_dns = false", f'check_dns = true\ndns_server = "{host}:{port}"'),
            ("signups_per_client_hour = 20", "signups_per_client_hour = 0"),
        )
        safety = threading.Timer(12, release.set)  # the old code would wait the full minute
        safety.start()
        answered_while_held: list[bool] = []

        async def storm(base: str) -> None:
            async with httpx.AsyncClient(
                base_url=base, headers={"Host": "127.0.0.1:8080"}, timeout=90
            ) as browser:
                csrf = csrf_of((await browser.get("/subscribe")).text)

                async def sign_up(number: int) -> int:
                    data = {"csrf": csrf, "email": f"p{number}@slow.example.org"}
                    return (await browser.post("/subscribe", data=data)).status_code

                async def archive() -> None:
                    await asyncio.sleep(1.0)  # every sign-up is waiting on DNS by now
                    assert (await browser.get("/")).status_code == 200
                    answered_while_held.append(not release.is_set())
                    release.set()

                codes = await asyncio.gather(*(sign_up(n) for n in range(48)), archive())
                assert set(codes[:-1]) == {400}  # NXDOMAIN once answered: "does not exist"

        try:
            with uvicorn_thread(checking) as base:
                asyncio.run(storm(base))
        finally:
            safety.cancel()
            checking.close()
    assert answered_while_held == [True]
