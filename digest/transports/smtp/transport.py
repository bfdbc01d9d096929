"""The SMTP transport: one message at a time per session, up to `pool_size` sessions, and what
the relay's answer to the message means for the send."""

from __future__ import annotations

import asyncio
import socket
import ssl

import aiosmtplib

from digest.errors import ConfigError
from digest.transports.base import Delivery, Envelope, Transport
from digest.transports.smtp.replies import (
    SMTPSetupError,
    about_address,
    connect_failure,
    refusal,
    reply_line,
)
from digest.transports.smtp.session import Sessions
from digest.transports.smtp.settings import SMTPSettings
from digest.transports.smtp.settings import tls_context as build_tls_context


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
        self.tls_context = build_tls_context(tls_context, verify=verify, ca_file=ca_file)
        self.helo_name = helo_name or socket.getfqdn()
        self.pool_size = pool_size
        self._slots = asyncio.Semaphore(pool_size)
        self._sessions = Sessions(
            self.settings,
            password=password,
            timeout=timeout,
            tls_context=self.tls_context,
            helo_name=self.helo_name,
        )

    def __repr__(self) -> str:  # never shows the password
        return f"SMTPTransport({self.settings}, pool_size={self.pool_size})"

    @property
    def connections_opened(self) -> int:
        return self._sessions.opened

    async def open(self) -> None:
        if self.settings.username and not self._password:
            # checked before connecting: an empty password is one more failed login on record
            raise SMTPSetupError(
                f"{self.settings}: the URL names a user but DIGEST_SMTP_PASSWORD is not set"
            )

    async def close(self) -> None:
        await self._sessions.close()

    async def send(self, envelope: Envelope) -> Delivery:
        async with self._slots:
            try:
                client = await self._sessions.checkout()
            except aiosmtplib.SMTPResponseException as exc:
                # a 4xx greeting, EHLO or login reply ("421 too busy"): about us, not the
                # address (5xx ones raised SMTPSetupError)
                reply = reply_line(exc.code, exc.message)
                return Delivery(
                    envelope, ok=False, reply=reply, connection_lost=True, about_us=True
                )
            except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
                reason = connect_failure(self.settings, exc)
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
            self._sessions.checkin(client)
        return Delivery(envelope, ok=True, reply="250 accepted")

    async def warm_up(self) -> None:
        """Open one session now and keep it for the first message, so that a relay refusing us
        (SMTPSetupError: a 5xx at connect, EHLO, STARTTLS or login) says so before a send
        changes anything. A temporary failure is left for the send to meet and retry."""
        async with self._slots:
            try:
                client = await self._sessions.checkout()
            except (TimeoutError, aiosmtplib.SMTPException, OSError):
                return
            self._sessions.checkin(client)

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
            self._sessions.checkin(client)
        reply = reply_line(code, message)
        about_us = (
            stage == "MAIL FROM"
            or code == 421
            or not about_address(message, sender=envelope.sender, recipient=envelope.recipient)
        )
        permanent = 500 <= code < 600
        if permanent and about_us:
            raise SMTPSetupError(refusal(self.settings, envelope, stage, reply, self.helo_name))
        return Delivery(
            envelope,
            ok=False,
            permanent=permanent,
            reply=reply,
            connection_lost=lost,
            about_us=about_us,
        )
