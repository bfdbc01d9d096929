"""SMTP through aiosmtplib with a pool of connections.

Each connection carries many messages (RSET between them) and is replaced when it drops; a 421
closes it and a new one is opened on the next message. Every step has a timeout. The password
comes only from the environment (DIGEST_SMTP_PASSWORD), handed in by the caller; it is never put
in a message, a log line or a repr.

The parts: `settings` (the URL, TLS and its context), `session` (opening, logging in, keeping
and closing sessions), `replies` (what a reply or a failure means: RFC 3463, setup errors, the
words of a refusal) and `transport` (`SMTPTransport`: a message through a session).
"""

from __future__ import annotations

from digest.transports.smtp.replies import SMTPSetupError, about_address, enhanced_code
from digest.transports.smtp.session import AUTH_MECHANISMS
from digest.transports.smtp.settings import SMTPSettings
from digest.transports.smtp.transport import SMTPTransport

__all__ = [
    "AUTH_MECHANISMS",
    "SMTPSettings",
    "SMTPSetupError",
    "SMTPTransport",
    "about_address",
    "enhanced_code",
]
