"""What a relay's reply or failure means, in words: about the address or about us (RFC 3463's
enhanced codes), a relay that cannot be used at all (`SMTPSetupError`), or one worth trying
again later. Knows nothing of connections: the session and the transport ask."""

from __future__ import annotations

import os
import re
import ssl

import aiosmtplib

from digest.transports.base import Envelope, TransportSetupError
from digest.transports.smtp.settings import SMTPSettings

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


def reply_line(code: int, message: str) -> str:
    """A server reply on one line, whatever the server put in it."""
    return " ".join(f"{code} {message}".split())[:300]


def helo_hint(reply: str, helo_name: str) -> str:
    if re.search(r"\b(helo|ehlo)\b", reply, re.IGNORECASE):
        return (
            f"; we said EHLO {helo_name}: set `[transport] helo_name` to this host's"
            " public, fully-qualified name"
        )
    return ""


def setup_error(
    settings: SMTPSettings, exc: BaseException, *, logging_in: bool, helo_name: str
) -> str | None:
    """Why a failure while connecting means this relay cannot be used as configured, or None
    when it is worth trying again later (a refused or dropped connection, a timeout, a 4xx
    such as "421 too busy")."""
    s = settings
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
                f"{s}: login refused ({reply_line(exc.code, exc.message)}); check the user in"
                " the URL and DIGEST_SMTP_PASSWORD (no further login was tried)"
            )
        # a 5xx greeting, EHLO or STARTTLS reply: every connection would get the same
        return (
            f"{s}: the relay refused us before any message"
            f" ({reply_line(exc.code, exc.message)}){helo_hint(exc.message, helo_name)}"
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


def connect_failure(settings: SMTPSettings, exc: BaseException) -> str:
    """Why no session could be opened, in words: "Connection refused", not "[Errno 111]
    Connect call failed ('127.0.0.1', 25)"."""
    cause = exc if isinstance(exc, OSError) and exc.errno else exc.__cause__
    if isinstance(cause, OSError) and cause.errno:
        reason = os.strerror(cause.errno)
    else:
        reason = str(exc) or type(exc).__name__
    return " ".join(f"{settings.host}:{settings.port}: {reason}".split())


def refusal(
    settings: SMTPSettings, envelope: Envelope, stage: str, reply: str, helo_name: str
) -> str:
    """One line naming who was refused: our sender, our message, or us at a recipient."""
    if stage == "MAIL FROM":
        party = f"refused our sender {envelope.sender} at MAIL FROM"
    elif stage == "DATA":
        party = f"refused our message (to {envelope.recipient}) at DATA"
    else:
        party = f"answered RCPT TO {envelope.recipient} with a refusal of us"
    return (
        f"{settings}: the relay {party} ({reply}){helo_hint(reply, helo_name)}; that is"
        " about our sender, message, HELO name, quota or relay permissions, not the"
        " address, so nothing was counted against any subscriber: fix it and run"
        " `digest send` again"
    )


def _cert_error(exc: BaseException | None) -> str | None:
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, ssl.SSLCertVerificationError):
            return exc.verify_message or str(exc)
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None
