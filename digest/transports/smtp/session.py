"""SMTP sessions: opening one (greeting, EHLO, STARTTLS, one login), keeping idle ones for the
next message (RSET between messages), and closing them. A failure that means the relay cannot
be used as configured becomes `SMTPSetupError`; any other is left for the caller to retry."""

from __future__ import annotations

import asyncio
import ssl

import aiosmtplib

from digest.transports.smtp.replies import SMTPSetupError, setup_error
from digest.transports.smtp.settings import SMTPSettings

# the mechanisms aiosmtplib speaks with a user and password, in the order it prefers them
AUTH_MECHANISMS = ("CRAM-MD5", "PLAIN", "LOGIN")


class Sessions:
    """The open sessions to one relay; the transport bounds how many are in use at once."""

    def __init__(
        self,
        settings: SMTPSettings,
        *,
        password: str | None,
        timeout: float,
        tls_context: ssl.SSLContext,
        helo_name: str,
    ) -> None:
        self.settings = settings
        self._password = password
        self.timeout = timeout
        self.tls_context = tls_context
        self.helo_name = helo_name
        # LIFO: the most recently used connection is the least likely to have timed out idle
        self._idle: list[aiosmtplib.SMTP] = []
        self.opened = 0
        # one login at a time, and none after a refusal: a wrong password must not cost a
        # login per connection and mechanism (fail2ban, account lockouts)
        self._login_lock = asyncio.Lock()
        self._login_refused: str | None = None

    def __repr__(self) -> str:  # never shows the password
        return f"Sessions({self.settings})"

    async def checkout(self) -> aiosmtplib.SMTP:
        """An idle session still alive (RSET answered), else a new one."""
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

    def checkin(self, client: aiosmtplib.SMTP) -> None:
        """A session that finished a message in a known state, kept for the next one."""
        self._idle.append(client)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            try:
                await asyncio.wait_for(client.quit(), self.timeout)
            except (TimeoutError, aiosmtplib.SMTPException, OSError):
                client.close()

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
            reason = setup_error(s, exc, logging_in=logging_in, helo_name=self.helo_name)
            if reason is not None:
                raise SMTPSetupError(reason) from None
            raise  # a refused or dropped connection, a timeout, a 4xx: try again later
        self.opened += 1
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
                    self._login_refused = setup_error(
                        self.settings, exc, logging_in=True, helo_name=self.helo_name
                    )
                raise
