"""The pooled SMTP transport against aiosmtpd on loopback: reuse, 421, TLS, credentials."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from send_support import Authenticator, FaultyRelay, Relay, make_project, tls_contexts
from typer.testing import CliRunner

from digest.cli import app
from digest.transports import Envelope, SMTPTransport
from digest.transports.smtp import SMTPSettings

runner = CliRunner()


def envelope(n: int) -> Envelope:
    data = (
        f"From: a@example.org\r\nTo: r{n}@example.net\r\nMessage-ID: <m{n}@example.org>\r\n"
        f"Subject: test\r\n\r\nhello {n}\r\n"
    ).encode()
    return Envelope("a@example.org", f"r{n}@example.net", f"<m{n}@example.org>", data)


async def send_all(transport: SMTPTransport, count: int) -> list[bool]:
    async with transport:
        deliveries = await transport.send_messages([envelope(n) for n in range(count)])
    return [d.ok for d in deliveries]


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def relay() -> Iterator[Relay]:
    relay = Relay(FaultyRelay(delay=0.002)).start()
    yield relay
    relay.stop()


def test_a_pool_carries_many_messages_over_few_connections(relay: Relay) -> None:
    transport = SMTPTransport(relay.url, pool_size=3)
    assert all(asyncio.run(send_all(transport, 30)))
    assert sum(relay.handler.copies().values()) == 30
    assert transport.connections_opened <= 3
    assert len(relay.handler.sessions) <= 3


def test_421_closes_the_connection_and_a_new_one_is_opened(relay: Relay) -> None:
    relay.handler.close_421["r0@example.net"] = 1
    transport = SMTPTransport(relay.url, pool_size=1)

    async def go() -> tuple[bool, bool, bool]:
        async with transport:
            first = await transport.send(envelope(0))
            second = await transport.send(envelope(1))
        return first.connection_lost, first.permanent, second.ok

    lost, permanent, second_ok = asyncio.run(go())
    assert lost and not permanent and second_ok
    assert transport.connections_opened == 2


def test_5xx_and_4xx_at_rcpt_keep_the_connection(relay: Relay) -> None:
    relay.handler.perm_rcpt.add("r0@example.net")
    relay.handler.temp_rcpt["r1@example.net"] = 1
    transport = SMTPTransport(relay.url, pool_size=1)

    async def go() -> list[tuple[bool, bool, str]]:
        async with transport:
            return [
                (d.ok, d.permanent, d.reply)
                for d in [await transport.send(envelope(n)) for n in range(3)]
            ]

    results = asyncio.run(go())
    assert results[0][:2] == (False, True) and results[0][2].startswith("550")
    assert results[1][:2] == (False, False) and results[1][2].startswith("451")
    assert results[2][0]
    assert transport.connections_opened == 1


def test_starttls_with_a_verified_certificate(ca: trustme.CA) -> None:
    server, client = tls_contexts(ca)
    relay = Relay(FaultyRelay(), tls_context=server, require_starttls=True).start()
    try:
        transport = SMTPTransport(f"{relay.url}?starttls=yes", tls_context=client, pool_size=2)
        assert all(asyncio.run(send_all(transport, 4)))
    finally:
        relay.stop()
    assert sum(relay.handler.copies().values()) == 4


def test_implicit_tls_verified_then_refused_without_trust_then_insecure(
    ca: trustme.CA, tmp_path: Path
) -> None:
    server, client = tls_contexts(ca)
    relay = Relay(FaultyRelay(), server_hostname="127.0.0.1", ssl_context=server).start()
    url = f"smtps://127.0.0.1:{relay.port}"
    try:
        assert all(asyncio.run(send_all(SMTPTransport(url, tls_context=client), 2)))
        project = make_project(tmp_path / "p", 3)
        base = ["--project", str(project.root), "send", "--smtp-url", url]
        refused = runner.invoke(app, base)
        assert refused.exit_code == 2
        assert "did not verify" in refused.stderr and "Traceback" not in refused.stderr
        # refused before anything changed: the issue is as it was, nobody queued
        issue = project.store.latest_issue()
        assert issue.status == "draft" and project.store.send_counts(issue.id).pending == 0
        insecure = runner.invoke(app, [*base, "--insecure"])
        assert insecure.exit_code == 0, insecure.stderr
    finally:
        relay.stop()
    assert sum(relay.handler.copies().values()) == 2 + 3


def test_a_login_without_starttls_is_refused_unless_the_url_says_starttls_no(
    tmp_path: Path,
) -> None:
    authenticator = Authenticator()
    relay = Relay(FaultyRelay(), authenticator=authenticator, auth_require_tls=False).start()
    project = make_project(tmp_path / "p", 2)
    env = {"DIGEST_SMTP_PASSWORD": "s3cret-pw"}
    base = ["--project", str(project.root), "send", "--json", "--smtp-url"]
    try:
        url = f"smtp://mailer@127.0.0.1:{relay.port}"
        refused = runner.invoke(app, [*base, url], env=env)
        assert refused.exit_code == 2
        assert len(refused.stderr.strip().splitlines()) == 1
        assert "STARTTLS" in refused.stderr and "?starttls=no" in refused.stderr
        assert authenticator.calls == 0  # the password never left
        issue = project.store.latest_issue()  # and the issue is as it was
        assert issue.status == "draft" and project.store.send_counts(issue.id).pending == 0

        explicit = runner.invoke(app, [*base, f"{url}?starttls=no"], env=env)
        assert explicit.exit_code == 0, explicit.stderr
    finally:
        relay.stop()
    assert authenticator.calls >= 1
    assert sum(relay.handler.copies().values()) == 2


def test_a_user_in_an_smtp_url_logs_in_over_starttls_by_default(ca: trustme.CA) -> None:
    server, client = tls_contexts(ca)
    authenticator = Authenticator()
    # auth_require_tls: the server refuses AUTH before STARTTLS, so success proves the upgrade
    relay = Relay(
        FaultyRelay(), tls_context=server, authenticator=authenticator, auth_require_tls=True
    ).start()
    try:
        url = f"smtp://mailer@127.0.0.1:{relay.port}"
        transport = SMTPTransport(url, password="s3cret-pw", tls_context=client)
        assert all(asyncio.run(send_all(transport, 2)))
    finally:
        relay.stop()
    assert authenticator.calls == transport.connections_opened >= 1


def test_password_comes_from_the_environment_and_is_never_printed(tmp_path: Path) -> None:
    relay = Relay(FaultyRelay(), authenticator=Authenticator(), auth_require_tls=False).start()
    url = f"smtp://mailer@127.0.0.1:{relay.port}?starttls=no"
    project = make_project(tmp_path / "p", 2)
    args = ["--project", str(project.root), "send", "--smtp-url", url, "--json"]
    try:
        wrong = runner.invoke(app, args, env={"DIGEST_SMTP_PASSWORD": "wrong-pw"})
        assert wrong.exit_code == 2
        assert "login refused" in wrong.stderr and "wrong-pw" not in wrong.output
        right = runner.invoke(app, args, env={"DIGEST_SMTP_PASSWORD": "s3cret-pw"})
        assert right.exit_code == 0, right.stderr
        assert "s3cret-pw" not in right.output + right.stderr
    finally:
        relay.stop()
    assert sum(relay.handler.copies().values()) == 2
    assert "s3cret-pw" not in repr(SMTPTransport(url, password="s3cret-pw"))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://relay.example.org", ("relay.example.org", 587, None, False, None)),
        ("smtps://u%40x@relay.example.org", ("relay.example.org", 465, "u@x", True, False)),
        ("smtp://relay.example.org:25?starttls=no", ("relay.example.org", 25, None, False, False)),
        ("smtp://relay.example.org?starttls=yes", ("relay.example.org", 587, None, False, True)),
        # a user: STARTTLS required, unless explicitly refused
        ("smtp://u@relay.example.org", ("relay.example.org", 587, "u", False, True)),
        ("smtp://u@relay.example.org?starttls=no", ("relay.example.org", 587, "u", False, False)),
    ],
)
def test_settings_from_url(url: str, expected: tuple[object, ...]) -> None:
    s = SMTPSettings.from_url(url)
    assert (s.host, s.port, s.username, s.implicit_tls, s.starttls) == expected
