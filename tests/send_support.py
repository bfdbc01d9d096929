"""Shared pieces for the send tests: a project with a rendered issue, and an aiosmtpd relay on
loopback that injects faults (451/550 at RCPT, a dropped connection mid-DATA, 421, slow replies,
a restart or an outage window, greylisting) or behaves like a real relay with a problem of its
own: one reply to every message (about our sender, our content, a quota), a throttle at MAIL
FROM, a refused bare HELO name; and a server that accepts connections but never greets."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import socketserver
import ssl
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from digest.models import Article, IssueEntry
from digest.project import Project, init_project, open_project
from digest.render import render_issue


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    recipient: str
    message_id: str
    data: bytes
    sender: str = ""  # MAIL FROM


@dataclass
class FaultyRelay:
    """An aiosmtpd handler. Each fault map counts down: `{"a@x": 2}` answers the fault twice,
    then accepts."""

    temp_rcpt: dict[str, int] = field(default_factory=dict)  # 451 4.2.0 (the mailbox) at RCPT
    perm_rcpt: set[str] = field(default_factory=set)  # 550 at RCPT
    policy_rcpt: set[str] = field(default_factory=set)  # 554 5.7.1 relay access denied at RCPT
    drop_data: dict[str, int] = field(default_factory=dict)  # connection dropped at DATA
    close_421: dict[str, int] = field(default_factory=dict)  # 421 at DATA
    slow_data: dict[str, int] = field(default_factory=dict)  # DATA reply after `slow_seconds`
    slow_seconds: float = 2.0
    delay: float = 0.0  # before every RCPT and DATA reply
    mail_reply: str = ""  # the reply to every MAIL FROM, instead of 250
    rcpt_reply: str = ""  # the reply to every RCPT TO, instead of 250
    data_reply: str = ""  # the reply to every DATA, instead of 250
    # Postfix's `smtpd_recipient_restrictions = reject_non_fqdn_helo_hostname`: a HELO name
    # without a dot is refused, at RCPT TO
    require_fqdn_helo: bool = False
    # (messages, seconds): at most that many MAIL FROM per window, then "450 4.7.1 too much mail"
    mail_quota: tuple[int, float] | None = None
    mail_log: list[tuple[float, bool]] = field(default_factory=list)  # (time, accepted)
    # greylisting: the first RCPT of each address is deferred (451 4.7.1, as sqlgrey and Exim
    # say it), every later one accepted
    greylist: bool = False
    greylisted: set[str] = field(default_factory=set)
    helo_names: list[str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    rcpt_log: list[tuple[str, float]] = field(default_factory=list)  # (address, Unix time)
    sessions: set[int] = field(default_factory=set)  # SMTP sessions that sent MAIL
    lock: threading.Lock = field(default_factory=threading.Lock)

    @staticmethod
    def _take(faults: dict[str, int], address: str) -> bool:
        if faults.get(address, 0) > 0:
            faults[address] -= 1
            return True
        return False

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        with self.lock:
            self.sessions.add(id(session))
            self.helo_names.append(str(session.host_name))
            if self.mail_quota is not None:
                limit, window = self.mail_quota
                now = time.monotonic()
                recent = [t for t, ok in self.mail_log if ok and t > now - window]
                accepted = len(recent) < limit
                self.mail_log.append((now, accepted))
                if not accepted:
                    return f"450 4.7.1 <{address}>: too much mail from 127.0.0.1, slow down"
        if self.mail_reply:
            return self.mail_reply
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            self.rcpt_log.append((address, time.time()))
        if self.require_fqdn_helo and "." not in str(session.host_name):
            return (
                f"504 5.5.2 <{session.host_name}>: Helo command rejected:"
                " need fully-qualified hostname"
            )
        if self.rcpt_reply:
            return self.rcpt_reply
        if address in self.perm_rcpt:
            return "550 5.1.1 no such user here"
        if address in self.policy_rcpt:
            return "554 5.7.1 <" + address + ">: Relay access denied"
        if self._take(self.temp_rcpt, address):
            return "451 4.2.0 mailbox busy, try again later"
        if self.greylist and address not in self.greylisted:
            with self.lock:
                self.greylisted.add(address)
            return f"451 4.7.1 <{address}>: Recipient address rejected: Greylisted, come back later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        recipient = envelope.rcpt_tos[0]
        if self.data_reply:
            return self.data_reply
        if self._take(self.drop_data, recipient):
            server.transport.abort()
            return "451 dropped"
        if self._take(self.close_421, recipient):
            return "421 4.3.2 shutting down, come back later"
        if self._take(self.slow_data, recipient):
            await asyncio.sleep(self.slow_seconds)
        headers = BytesHeaderParser().parsebytes(envelope.original_content)
        with self.lock:
            self.received.append(
                Received(
                    recipient,
                    str(headers["Message-ID"]),
                    envelope.original_content,
                    str(envelope.mail_from),
                )
            )
        return "250 2.0.0 queued"

    def copies(self) -> Counter[str]:
        with self.lock:
            return Counter(r.recipient for r in self.received)

    def message_ids(self, recipient: str) -> set[str]:
        with self.lock:
            return {r.message_id for r in self.received if r.recipient == recipient}


class Relay:
    """A running aiosmtpd on 127.0.0.1 that can be restarted on the same port."""

    def __init__(self, handler: FaultyRelay, **controller_options: Any) -> None:
        self.handler = handler
        self.port = free_port()
        self.options = controller_options
        self.controller: Controller | None = None

    def start(self) -> Relay:
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, **self.options
        )
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def restart_after(self, messages: int, pause: float = 0.3) -> threading.Thread:
        """Stop the server once it has accepted `messages`, start it again after `pause`."""

        def watch() -> None:
            deadline = time.monotonic() + 30
            while len(self.handler.received) < messages and time.monotonic() < deadline:
                time.sleep(0.005)
            self.stop()
            time.sleep(pause)
            self.start()

        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        return thread

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


class ScriptedRelay:
    """A bare SMTP server on loopback (stdlib socketserver) that says what it is told: a chosen
    greeting, and chosen replies per command. For faults aiosmtpd cannot produce, such as a 554
    greeting. Counts the connections it accepted."""

    def __init__(self, greeting: str, replies: dict[str, str] | None = None) -> None:
        self.greeting = greeting
        self.replies = {
            "EHLO": "250-scripted\r\n250 STARTTLS",
            "HELO": "250 scripted",
            "QUIT": "221 bye",
            "RSET": "250 OK",
            **(replies or {}),
        }
        self.connections = 0
        self.commands: list[str] = []
        relay = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                relay.connections += 1
                self.wfile.write(relay.greeting.encode() + b"\r\n")
                for line in self.rfile:
                    verb = line.decode(errors="replace").split(" ", 1)[0].strip().upper()
                    relay.commands.append(verb)
                    reply = relay.replies.get(verb, "502 not scripted")
                    self.wfile.write(reply.encode() + b"\r\n")
                    if verb == "QUIT" or reply.startswith(("221", "421")):
                        return

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ScriptedRelay:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


class SilentRelay:
    """Accepts TCP connections on loopback and never says a word: a hung relay."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self.connections = 0
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            self._held.append(conn)

    def __enter__(self) -> SilentRelay:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        self.sock.close()
        for conn in self._held:
            conn.close()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


def running_relay(handler: FaultyRelay, **options: Any) -> Iterator[Relay]:
    relay = Relay(handler, **options).start()
    try:
        yield relay
    finally:
        relay.stop()


ENTRIES = [
    IssueEntry(
        article_id=1,
        title="Parliament passes the budget after a long night",
        source_url="https://news.example.org/budget",
        source_name="news.example.org",
        published=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        authors=["A. Writer"],
        summary=["The budget passed by 310 votes to 290.", "The opposition called it reckless."],
        political_score=0.97,
    ),
    IssueEntry(
        article_id=2,
        title="Election commission publishes new boundaries",
        source_url="https://press.example.com/boundaries",
        source_name="press.example.com",
        published=datetime(2026, 3, 3, 12, 30, tzinfo=UTC),
        authors=[],
        summary=["Twelve constituencies change shape."],
        political_score=0.91,
    ),
]


# the newsletter's own address in tests: a send over SMTP refuses `digest init`'s placeholder
SENDER = "digest@political-digest.net"


POSTAL_ADDRESS = "The Political Digest, 1 High Street, London N1 1AA"


def use_real_sender(config: Path) -> None:
    """Replace `digest init`'s placeholder From (digest@example.org) in a project's digest.toml,
    and give it the postal address an SMTP send asks for."""
    text = config.read_text(encoding="utf-8").replace("digest@example.org", SENDER)
    text = text.replace('postal_address = ""', f'postal_address = "{POSTAL_ADDRESS}"')
    config.write_text(text, encoding="utf-8")


def make_project(
    root: Path, subscribers: int | list[str], *, settings: str = "", lists: int = 1
) -> Project:
    """A project from `digest init` with `subscribers` addresses (split over `lists` lists) and
    one issue rendered by the real templates."""
    project = init_project(root)
    use_real_sender(project.config.path)
    for path in project.subscribers_dir.glob("*.csv"):
        path.unlink()
    addresses = (
        subscribers
        if isinstance(subscribers, list)
        else [f"reader{n:05d}@example.net" for n in range(subscribers)]
    )
    for number in range(lists):
        rows = [f"{a},Reader {a.split('@')[0]}" for a in addresses[number::lists]]
        (project.subscribers_dir / f"list{number}.csv").write_text(
            "email,name\n" + "\n".join(rows) + "\n", encoding="utf-8"
        )
    if settings:
        config = project.config.path
        config.write_text(config.read_text(encoding="utf-8") + settings, encoding="utf-8")
    project.close()
    project = open_project(root)
    add_issue(project, "2026-W10")
    return project


def add_issue(project: Project, key: str, status: str = "draft") -> int:
    """Store the entries' articles, then an issue of them rendered by the real templates."""
    entries = []
    for entry in ENTRIES:
        article = Article(
            title=entry.title,
            body=" ".join(entry.summary),
            source_url=entry.source_url,
            published=entry.published,
        )
        article_id, _ = project.store.add_article(article)
        entries.append(replace(entry, article_id=article_id))
    subject = f"The Political Digest {key}"
    parts = render_issue(
        entries, config=project.config, template_dirs=project.template_dirs, subject=subject
    )
    issue = project.store.create_issue(
        key=key, subject=subject, entries=entries, html=parts.html, text=parts.text, status=status
    )
    return issue.id


def tls_contexts(ca: Any) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server, client) contexts from a trustme CA, for 127.0.0.1."""
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client


class Authenticator:
    """aiosmtpd's authenticator for user `mailer` with `password`; records every login tried."""

    def __init__(self, password: bytes = b"s3cret-pw") -> None:
        self.password = password
        self.logins: list[tuple[bytes, bytes]] = []

    @property
    def calls(self) -> int:
        return len(self.logins)

    def __call__(self, server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        self.logins.append((auth_data.login, auth_data.password))
        ok = auth_data.login == b"mailer" and auth_data.password == self.password
        return AuthResult(success=ok, handled=False)


def dkim_key() -> tuple[bytes, bytes]:
    """A fresh 2048-bit RSA key (PEM) and the DNS TXT record that publishes it."""
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def relay_with_login() -> tuple[Relay, Authenticator, str]:
    """A started relay that takes user `mailer` (password s3cret-pw) without TLS, its
    authenticator, and the URL that logs in to it."""
    authenticator = Authenticator()
    relay = Relay(FaultyRelay(), authenticator=authenticator, auth_require_tls=False).start()
    return relay, authenticator, f"smtp://mailer@127.0.0.1:{relay.port}?starttls=no"


class FakeClock:
    """A clock for the pacing classes: `sleep` moves time on at once and remembers each pause."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(seconds, 0.0)
