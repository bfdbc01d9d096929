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
    """The relay cannot be used at all (bad credentials, a certificate that does not verify):
    retrying message by message would only repeat the error, so the send stops."""


@dataclass(frozen=True)
class SMTPSettings:
    host: str
    port: int
    username: str | None
    implicit_tls: bool
    starttls: bool | None  # None: use it when the server offers it

    @classmethod
    def from_url(cls, url: str) -> SMTPSettings:
        """`smtp://[user@]host[:port][?starttls=yes|no]` or `smtps://[user@]host[:port]`."""
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
        return cls(
            host=parts.hostname,
            port=port_in_url or (465 if implicit else 587),
            username=unquote(parts.username) if parts.username else None,
            implicit_tls=implicit,
            starttls=False if implicit else starttls,
        )

    def __str__(self) -> str:
        user = f"{self.username}@" if self.username else ""
        return f"{'smtps' if self.implicit_tls else 'smtp'}://{user}{self.host}:{self.port}"


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
        try:
            await client.connect()
            if s.username:
                await client.login(s.username, self._password or "")
        except aiosmtplib.SMTPAuthenticationError as exc:
            client.close()
            raise SMTPSetupError(
                f"{s}: login refused ({exc.code} {exc.message}); check the user in the URL"
                " and DIGEST_SMTP_PASSWORD"
            ) from None
        except BaseException as exc:
            client.close()
            if _cert_error(exc) is not None:
                raise SMTPSetupError(
                    f"{s}: TLS certificate did not verify ({_cert_error(exc)});"
                    " use --insecure only for a test server"
                ) from None
            raise
        self.connections_opened += 1
        return client

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
                return self._answer(client, envelope, refused.code, refused.message)
            except aiosmtplib.SMTPSenderRefused as exc:
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


def _cert_error(exc: BaseException | None) -> str | None:
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, ssl.SSLCertVerificationError):
            return exc.verify_message or str(exc)
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None
