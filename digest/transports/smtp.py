"""SMTP through aiosmtplib with a pool of connections.

Each connection carries many messages (RSET between them) and is replaced when it drops; a 421
closes it and a new one is opened on the next message. Every step has a timeout. The password
comes only from the environment (DIGEST_SMTP_PASSWORD), handed in by the caller; it is never put
in a message, a log line or a repr.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from digest.errors import ConfigError, DigestError
from digest.transports.base import Delivery, Envelope, Transport

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class SMTPSetupError(DigestError):
    """The relay cannot be used at all (a 5xx greeting, EHLO or STARTTLS reply, bad credentials,
    a certificate that does not verify, no STARTTLS where the URL needs it, a 5.7.x policy
    refusal): retrying message by message would only repeat the error, so the send stops."""


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
        user = f"{self.username}@" if self.username else ""
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
        tls_context: ssl.SSLContext | None = None,
        pool_size: int = 8,
    ) -> None:
        if pool_size < 1:
            raise ConfigError("SMTP pool size must be at least 1")
        self.settings = SMTPSettings.from_url(url)
        self._password = password
        self.timeout = timeout
        self.tls_context = tls_context or ssl.create_default_context()
        if not verify:
            self.tls_context.check_hostname = False
            self.tls_context.verify_mode = ssl.CERT_NONE
        self.pool_size = pool_size
        self._slots = asyncio.Semaphore(pool_size)
        # LIFO: the most recently used connection is the least likely to have timed out idle
        self._idle: list[aiosmtplib.SMTP] = []
        self.connections_opened = 0

    def __repr__(self) -> str:  # never shows the password
        return f"SMTPTransport({self.settings}, pool_size={self.pool_size})"

    async def _connect(self) -> aiosmtplib.SMTP:
        s = self.settings
        client = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            use_tls=s.implicit_tls,
            start_tls=s.starttls,
            timeout=self.timeout,
            tls_context=self.tls_context,
        )
        logging_in = False
        try:
            await client.connect()  # greeting, EHLO and STARTTLS
            logging_in = True
            if s.username:
                await client.login(s.username, self._password or "")
        except BaseException as exc:
            client.close()
            setup_error = self._setup_error(exc, logging_in)
            if setup_error is not None:
                raise SMTPSetupError(setup_error) from None
            raise  # a refused or dropped connection, a timeout, a 4xx: try again later
        self.connections_opened += 1
        return client

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
                    " the URL and DIGEST_SMTP_PASSWORD"
                )
            # a 5xx greeting, EHLO or STARTTLS reply: every connection would get the same
            return f"{s}: the relay refused us before any message ({_reply(exc.code, exc.message)})"
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
            client: aiosmtplib.SMTP | None = None
            try:
                client = await self._checkout()
                await client.sendmail(envelope.sender, [envelope.recipient], envelope.data)
            except aiosmtplib.SMTPRecipientsRefused as exc:
                refused = exc.recipients[0]
                self._stop_on_policy_refusal(client, envelope, refused.code, refused.message)
                return self._answer(client, envelope, refused.code, refused.message)
            except aiosmtplib.SMTPSenderRefused as exc:
                self._stop_on_policy_refusal(client, envelope, exc.code, exc.message)
                # our own sender refused is no fault of the recipient: never a bounce
                return self._answer(client, envelope, exc.code, exc.message, permanent=False)
            except aiosmtplib.SMTPResponseException as exc:
                return self._answer(client, envelope, exc.code, exc.message)
            except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
                if client is not None:
                    client.close()
                reason = str(exc) or type(exc).__name__
                return Delivery(envelope, ok=False, reply=reason, connection_lost=True)
            except BaseException:
                # cancelled mid-transaction: the connection is in an unknown state
                if client is not None:
                    client.close()
                raise
            self._idle.append(client)
        return Delivery(envelope, ok=True, reply="250 accepted")

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

    def _stop_on_policy_refusal(
        self, client: aiosmtplib.SMTP | None, envelope: Envelope, code: int, message: str
    ) -> None:
        """A 5.7.x to MAIL or RCPT ("554 5.7.1 Relay access denied", "530 5.7.0 Authentication
        required") is the relay refusing *us*: every other recipient would get the same, and
        recording it against the address would fail the whole list for good and suppress it as
        bounced. Stop instead, leaving the rows pending for a resume once the settings are
        fixed."""
        if 500 <= code < 600 and message.lstrip().startswith("5.7."):
            if client is not None:
                self._idle.append(client)
            raise SMTPSetupError(
                f"{self.settings}: the relay refused {envelope.recipient} by policy"
                f" ({_reply(code, message)}); that is about our sender, login or relay"
                " permissions, not the address: fix them and run `digest send` again"
            )

    def _answer(
        self,
        client: aiosmtplib.SMTP | None,
        envelope: Envelope,
        code: int,
        message: str,
        *,
        permanent: bool | None = None,
    ) -> Delivery:
        lost = code == 421 or client is None or not client.is_connected
        if client is not None:
            if lost:
                client.close()  # 421: the server is closing; another connection later
            else:
                self._idle.append(client)
        return Delivery(
            envelope,
            ok=False,
            permanent=(500 <= code < 600) if permanent is None else permanent,
            reply=f"{code} {message}".strip(),
            connection_lost=lost,
        )


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
