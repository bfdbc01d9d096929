"""SMTP through aiosmtplib with a pool of connections.

Each connection carries many messages (RSET between them) and is replaced when it drops; a 421
closes it and a new one is opened on the next message. Every step has a timeout. The password
comes only from the environment (DIGEST_SMTP_PASSWORD), handed in by the caller; it is never put
in a message, a log line or a repr.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, unquote, urlsplit

import aiosmtplib

from digest.errors import ConfigError
from digest.transports.base import Delivery, Envelope, Transport, TransportSetupError

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
# the mechanisms aiosmtplib speaks with a user and password, in the order it prefers them
AUTH_MECHANISMS = ("CRAM-MD5", "PLAIN", "LOGIN")
# RFC 3463 enhanced status code at the start of a reply's text: class.subject.detail
_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})(?!\S)")
# X.1.7 and X.1.8 are about the *sender's* address, though their subject is "addressing"
_SENDER_CODES = {(1, 7), (1, 8)}


class SMTPSetupError(TransportSetupError):
    """The relay cannot be used at all (a 5xx greeting, EHLO or STARTTLS reply, bad credentials,
    a certificate that does not verify, no STARTTLS where the URL needs it, a permanent reply
    about our sender, message or relay rather than the address): retrying message by message
    would only repeat the error, so the send stops."""


def enhanced_code(message: str) -> tuple[int, int, int] | None:
    """(class, subject, detail) of the RFC 3463 code a reply's text starts with, if any."""
    match = _ENHANCED.match(message)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def about_address(message: str, *, sender: str = "", recipient: str = "") -> bool:
    """Whether a reply to RCPT TO or DATA is about the recipient's address or mailbox (subjects
    X.1 and X.2 of RFC 3463) rather than about us: our sender (X.1.7, X.1.8, or a reply that
    names our sender and not the recipient), the relay's system or network, the protocol, the
    message content or a policy (X.3 to X.7: a quota, a spam verdict, a size limit, a refused
    HELO name). A reply with no enhanced code counts as about the address, as it always did;
    the send's circuit breaker catches a relay that says the same to everyone that way."""
    lowered = message.lower()
    if sender and sender.lower() in lowered and recipient.lower() not in lowered:
        return False
    code = enhanced_code(message)
    if code is None:
        return True
    return code[1] in (1, 2) and code[1:] not in _SENDER_CODES


@dataclass(frozen=True)
class SMTPSettings:
    host: str
    port: int
    username: str | None
    implicit_tls: bool
    starttls: bool | None  # None: use it when the server offers it
    # a user without TLS: STARTTLS is required unless the URL says ?starttls=no
    starttls_for_login: bool = False

    @classmethod
    def from_url(cls, url: str) -> SMTPSettings:
        """`smtp://[user@]host[:port][?starttls=yes|no]` or `smtps://[user@]host[:port]`.

        With a user and smtp://, STARTTLS is required: "use it if offered" would hand the
        password in clear to a server (or a man in the middle) that does not offer it. Only an
        explicit ?starttls=no allows a cleartext login."""
        try:
            parts = urlsplit(url)
            port_in_url = parts.port
        except ValueError:
            raise ConfigError("SMTP URL has an invalid port") from None
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigError(
                "SMTP URL must look like smtp://[user@]host[:port] or smtps://...,"
                f" not {parts.scheme or '(no scheme)'}://..."
            )
        if parts.password:
            raise ConfigError("SMTP URL must not carry a password: set DIGEST_SMTP_PASSWORD")
        query = parse_qs(parts.query)
        starttls: bool | None = None
        if "starttls" in query:
            value = query["starttls"][-1].lower()
            if value not in _TRUE + _FALSE:
                raise ConfigError(f"SMTP URL: starttls must be yes or no, not {value!r}")
            starttls = value in _TRUE
        implicit = parts.scheme == "smtps"
        if implicit and starttls:
            raise ConfigError("SMTP URL: smtps:// is already TLS; drop ?starttls")
        username = unquote(parts.username) if parts.username else None
        for_login = bool(username) and not implicit and starttls is None
        return cls(
            host=parts.hostname,
            port=port_in_url or (465 if implicit else 587),
            username=username,
            implicit_tls=implicit,
            starttls=False if implicit else (True if for_login else starttls),
            starttls_for_login=for_login,
        )

    def __str__(self) -> str:
        # a user that is itself an address ("digest@news.example") must stay one URL part
        user = f"{quote(self.username, safe='')}@" if self.username else ""
        cleartext = "?starttls=no" if self.starttls is False and not self.implicit_tls else ""
        scheme = "smtps" if self.implicit_tls else "smtp"
        return f"{scheme}://{user}{self.host}:{self.port}{cleartext}"


class SMTPTransport(Transport):
    """Up to `pool_size` connections, each used by one message at a time."""

    def __init__(
        self,
        url: str,
        *,
        password: str | None = None,
        timeout: float = 30.0,
        verify: bool = True,
        ca_file: str | None = None,
        tls_context: ssl.SSLContext | None = None,
        pool_size: int = 8,
        helo_name: str | None = None,
    ) -> None:
        if pool_size < 1:
            raise ConfigError("SMTP pool size must be at least 1")
        self.settings = SMTPSettings.from_url(url)
        self._password = password
        self.timeout = timeout
        self.tls_context = tls_context or ssl.create_default_context()
        if ca_file:
            # in addition to the system's CAs (SSL_CERT_FILE would replace them)
            try:
                self.tls_context.load_verify_locations(cafile=ca_file)
            except (OSError, ssl.SSLError) as exc:
                reason = getattr(exc, "strerror", None) or str(exc)
                raise ConfigError(f"`transport.ca_file` {ca_file}: {reason}") from None
        if not verify:
            self.tls_context.check_hostname = False
            self.tls_context.verify_mode = ssl.CERT_NONE
        self.helo_name = helo_name or socket.getfqdn()
        self.pool_size = pool_size
        self._slots = asyncio.Semaphore(pool_size)
        # LIFO: the most recently used connection is the least likely to have timed out idle
        self._idle: list[aiosmtplib.SMTP] = []
        self.connections_opened = 0
        # one login at a time, and none after a refusal: a wrong password must not cost a
        # login per connection and mechanism (fail2ban, account lockouts)
        self._login_lock = asyncio.Lock()
        self._login_refused: str | None = None

    def __repr__(self) -> str:  # never shows the password
        return f"SMTPTransport({self.settings}, pool_size={self.pool_size})"

    async def open(self) -> None:
        if self.settings.username and not self._password:
            # checked before connecting: an empty password is one more failed login on record
            raise SMTPSetupError(
                f"{self.settings}: the URL names a user but DIGEST_SMTP_PASSWORD is not set"
            )

    async def _connect(self) -> aiosmtplib.SMTP:
        s = self.settings
        client = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            use_tls=s.implicit_tls,
            start_tls=s.starttls,
            timeout=self.timeout,
            tls_context=self.tls_context,
            local_hostname=self.helo_name,
        )
        logging_in = False
        try:
            await client.connect()  # greeting, EHLO and STARTTLS
            logging_in = True
            if s.username:
                await self._login(client, s.username)
        except BaseException as exc:
            client.close()
            setup_error = self._setup_error(exc, logging_in)
            if setup_error is not None:
                raise SMTPSetupError(setup_error) from None
            raise  # a refused or dropped connection, a timeout, a 4xx: try again later
        self.connections_opened += 1
        return client

    async def _login(self, client: aiosmtplib.SMTP, username: str) -> None:
        """One mechanism, once: aiosmtplib's `login` tries every mechanism after a refusal."""
        async with self._login_lock:
            if self._login_refused is not None:
                raise SMTPSetupError(self._login_refused)
            if client.is_ehlo_or_helo_needed:
                await client.ehlo()  # connect() only says EHLO itself before STARTTLS
            if not client.supports_extension("auth"):
                raise aiosmtplib.SMTPException("the relay does not offer AUTH")
            mechanisms = client.supported_auth_methods
            if not mechanisms:
                offered = " ".join(sorted(client.server_auth_methods)).upper() or "none"
                raise SMTPSetupError(
                    f"{self.settings}: the relay offers only {offered} authentication;"
                    f" digest logs in with a user and password by {', '.join(AUTH_MECHANISMS)}"
                    " (not SCRAM or XOAUTH2): enable one of those on the relay, or relay"
                    " through a local MTA that speaks what it offers"
                )
            method = getattr(client, f"auth_{mechanisms[0].replace('-', '')}")
            try:
                await method(username, self._password or "")
            except aiosmtplib.SMTPAuthenticationError as exc:
                if exc.code >= 500:
                    self._login_refused = self._setup_error(exc, True)
                raise

    def _setup_error(self, exc: BaseException, logging_in: bool) -> str | None:
        """Why a failure while connecting means this relay cannot be used as configured, or None
        when it is worth trying again later (a refused or dropped connection, a timeout, a 4xx
        such as "421 too busy")."""
        s = self.settings
        cert_error = _cert_error(exc)
        if cert_error is not None:
            return (
                f"{s}: TLS certificate did not verify ({cert_error});"
                " use --insecure only for a test server"
            )
        if isinstance(exc, aiosmtplib.SMTPResponseException):
            if exc.code < 500:
                return None
            if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
                return (
                    f"{s}: login refused ({_reply(exc.code, exc.message)}); check the user in"
                    " the URL and DIGEST_SMTP_PASSWORD (no further login was tried)"
                )
            # a 5xx greeting, EHLO or STARTTLS reply: every connection would get the same
            return (
                f"{s}: the relay refused us before any message"
                f" ({_reply(exc.code, exc.message)}){self._helo_hint(exc.message)}"
            )
        if isinstance(exc, TimeoutError | OSError) or not isinstance(exc, aiosmtplib.SMTPException):
            return None
        # a capability we need is missing: aiosmtplib raises a bare SMTPException for both
        if logging_in:
            return f"{s}: cannot log in: {' '.join(str(exc).split())}"
        if s.starttls_for_login:
            return (
                f"{s}: the relay does not offer STARTTLS, so the password would go in clear;"
                " use smtps://, or add ?starttls=no to the URL to log in unencrypted on purpose"
            )
        return f"{s}: the relay does not offer STARTTLS, which ?starttls=yes requires"

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            try:
                await asyncio.wait_for(client.quit(), self.timeout)
            except (TimeoutError, aiosmtplib.SMTPException, OSError):
                client.close()

    async def send(self, envelope: Envelope) -> Delivery:
        async with self._slots:
            try:
                client = await self._checkout()
            except aiosmtplib.SMTPResponseException as exc:
                # a 4xx greeting, EHLO or login reply ("421 too busy"): about us, not the
                # address (5xx ones raised SMTPSetupError)
                reply = _reply(exc.code, exc.message)
                return Delivery(
                    envelope, ok=False, reply=reply, connection_lost=True, about_us=True
                )
            except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
                reason = self._connect_failure(exc)
                return Delivery(
                    envelope, ok=False, reply=reason, connection_lost=True, unreachable=True
                )
            try:
                await client.sendmail(envelope.sender, [envelope.recipient], envelope.data)
            except aiosmtplib.SMTPRecipientsRefused as exc:
                refused = exc.recipients[0]
                return self._refused(client, envelope, "RCPT TO", refused.code, refused.message)
            except aiosmtplib.SMTPSenderRefused as exc:
                return self._refused(client, envelope, "MAIL FROM", exc.code, exc.message)
            except aiosmtplib.SMTPResponseException as exc:
                return self._refused(client, envelope, "DATA", exc.code, exc.message)
            except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
                client.close()
                reason = str(exc) or type(exc).__name__
                return Delivery(envelope, ok=False, reply=reason, connection_lost=True)
            except BaseException:
                # cancelled mid-transaction: the connection is in an unknown state
                client.close()
                raise
            self._idle.append(client)
        return Delivery(envelope, ok=True, reply="250 accepted")

    async def warm_up(self) -> None:
        """Open one session now and keep it for the first message, so that a relay refusing us
        (SMTPSetupError: a 5xx at connect, EHLO, STARTTLS or login) says so before a send
        changes anything. A temporary failure is left for the send to meet and retry."""
        async with self._slots:
            try:
                client = await self._checkout()
            except (TimeoutError, aiosmtplib.SMTPException, OSError):
                return
            self._idle.append(client)

    async def _checkout(self) -> aiosmtplib.SMTP:
        while self._idle:
            client = self._idle.pop()
            if not client.is_connected:
                client.close()
                continue
            try:
                await client.rset()
            except (TimeoutError, aiosmtplib.SMTPException, OSError):
                client.close()
                continue
            return client
        return await self._connect()

    def _connect_failure(self, exc: BaseException) -> str:
        """Why no session could be opened, in words: "Connection refused", not "[Errno 111]
        Connect call failed ('127.0.0.1', 25)"."""
        cause = exc if isinstance(exc, OSError) and exc.errno else exc.__cause__
        if isinstance(cause, OSError) and cause.errno:
            reason = os.strerror(cause.errno)
        else:
            reason = str(exc) or type(exc).__name__
        return " ".join(f"{self.settings.host}:{self.settings.port}: {reason}".split())

    def _refused(
        self, client: aiosmtplib.SMTP, envelope: Envelope, stage: str, code: int, message: str
    ) -> Delivery:
        """The relay's answer to one message. A reply at MAIL FROM is about our sender, and one
        at RCPT TO or DATA may be about us too (RFC 3463: system, network, protocol, content,
        policy): a permanent one of those stops the send, since every other recipient would get
        the same and recording it would fail the whole list and suppress it as bounced; a
        temporary one (a throttle) is reported as about us, so the send slows down instead of
        charging the address."""
        lost = code == 421 or not client.is_connected
        if lost:
            client.close()  # 421: the server is closing; another connection later
        else:
            self._idle.append(client)
        reply = _reply(code, message)
        about_us = (
            stage == "MAIL FROM"
            or code == 421
            or not about_address(message, sender=envelope.sender, recipient=envelope.recipient)
        )
        permanent = 500 <= code < 600
        if permanent and about_us:
            raise SMTPSetupError(self._refusal(envelope, stage, reply))
        return Delivery(
            envelope,
            ok=False,
            permanent=permanent,
            reply=reply,
            connection_lost=lost,
            about_us=about_us,
        )

    def _refusal(self, envelope: Envelope, stage: str, reply: str) -> str:
        """One line naming who was refused: our sender, our message, or us at a recipient."""
        if stage == "MAIL FROM":
            party = f"refused our sender {envelope.sender} at MAIL FROM"
        elif stage == "DATA":
            party = f"refused our message (to {envelope.recipient}) at DATA"
        else:
            party = f"answered RCPT TO {envelope.recipient} with a refusal of us"
        return (
            f"{self.settings}: the relay {party} ({reply}){self._helo_hint(reply)}; that is"
            " about our sender, message, HELO name, quota or relay permissions, not the"
            " address, so nothing was counted against any subscriber: fix it and run"
            " `digest send` again"
        )

    def _helo_hint(self, reply: str) -> str:
        if re.search(r"\b(helo|ehlo)\b", reply, re.IGNORECASE):
            return (
                f"; we said EHLO {self.helo_name}: set `[transport] helo_name` to this host's"
                " public, fully-qualified name"
            )
        return ""


def _reply(code: int, message: str) -> str:
    """A server reply on one line, whatever the server put in it."""
    return " ".join(f"{code} {message}".split())[:300]


def _cert_error(exc: BaseException | None) -> str | None:
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, ssl.SSLCertVerificationError):
            return exc.verify_message or str(exc)
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None
