"""What the transport URL and options say: the relay, the user, TLS (implicit, STARTTLS, or in
clear on purpose) and the TLS context that checks the relay's certificate."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, unquote, urlsplit

from digest.errors import ConfigError

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


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


def tls_context(
    base: ssl.SSLContext | None = None, *, verify: bool = True, ca_file: str | None = None
) -> ssl.SSLContext:
    """The context every connection's TLS uses: the system's CAs (or `base`), plus `ca_file`'s;
    no verification at all only when asked (`--insecure`, for a test server)."""
    context = base or ssl.create_default_context()
    if ca_file:
        # in addition to the system's CAs (SSL_CERT_FILE would replace them)
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise ConfigError(f"`transport.ca_file` {ca_file}: {reason}") from None
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
