"""Signing up with double opt-in: a sign-up is a pending row and a confirmation email with a
signed, expiring link; only confirming (a POST from the page that link opens) makes it active.

What the web side answers never depends on the address's state (new, pending, active or
suppressed), so the form cannot be used to find out who is subscribed. An address that
unsubscribed can come back this way (the confirmation proves it is theirs); a bounced or
complained one cannot: those suppressions win.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid, parseaddr
from urllib.parse import quote

from digest.config import Config
from digest.models import Subscriber
from digest.store import Store
from digest.tokens import BadToken, make_token, read_token
from digest.transports.base import Envelope

# A token's list field is a list name (letters, digits, '.', '_', '-'), so a purpose prefix with
# a ':' makes these tokens distinct from unsubscribe tokens and from each other.
CONFIRM = "confirm:"
CSRF = "csrf:"
# the one reason a person may lift themselves by confirming again
COMEBACK_REASON = "unsubscribed"


def confirm_token(
    secret: bytes, email: str, lists: Sequence[str], hours: int, now: datetime | None = None
) -> str:
    expires = (now or datetime.now(UTC)) + timedelta(hours=hours)
    return make_token(secret, email, CONFIRM + ",".join(lists), expires=expires)


def read_confirm_token(secrets: Sequence[bytes], token: str) -> tuple[str, list[str]]:
    """(email, lists) of a genuine, unexpired confirmation token; BadToken otherwise (an
    unsubscribe token included)."""
    email, field = read_token(secrets, token)
    if not field.startswith(CONFIRM):
        raise BadToken("not a confirmation token")
    return email, field.removeprefix(CONFIRM).split(",")


def csrf_pair(secret: bytes, nonce: str) -> str:
    """The form field that goes with the cookie `nonce` (signed double submit)."""
    return make_token(secret, nonce, CSRF)


def csrf_ok(secrets: Sequence[bytes], cookie: str | None, field: str | None) -> bool:
    if not cookie or not field:
        return False
    try:
        nonce, purpose = read_token(secrets, field)
    except BadToken:
        return False
    return purpose == CSRF and nonce == cookie.lower()


def request_signup(store: Store, subscriber: Subscriber) -> bool:
    """Record a sign-up as pending; whether a confirmation should be sent. Nothing is sent to an
    address that is active on the list already or suppressed for any reason but unsubscribing."""
    reason = store.suppression_reason(subscriber.email)
    if reason is not None and reason != COMEBACK_REASON:
        return False
    status = store.subscriber_status(subscriber.email, subscriber.list)
    if status == "active" and reason is None:
        return False
    if status is None:
        store.subscribe(subscriber, origin="web", status="pending")
    return True


def confirm(store: Store, email: str, list_name: str) -> bool:
    """Make a confirmed sign-up active (lifting an earlier unsubscribe); whether it was. A
    bounced or complained address stays suppressed."""
    reason = store.suppression_reason(email)
    if reason is not None and reason != COMEBACK_REASON:
        return False
    store.activate_subscriber(email, list_name, lift=COMEBACK_REASON)
    return True


def confirmation_envelope(config: Config, email: str, link: str) -> Envelope:
    """The confirmation email: plain text, the link, and what to do if it was not them."""
    message = EmailMessage(policy=SMTP)
    sender = parseaddr(config.from_address)[1]
    message_id = make_msgid(domain=sender.rpartition("@")[2] or None)
    message["From"] = config.from_address
    message["To"] = email
    message["Subject"] = f"Confirm your subscription to {config.name}"
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(
        f"Someone, probably you, asked to receive {config.name} at this address.\n\n"
        f"To confirm, open this link and press the button within {config.confirm_hours} hours:\n"
        f"{link}\n\n"
        "If it was not you, ignore this email: nothing will be sent without your confirmation.\n"
    )
    return Envelope(sender=sender, recipient=email, message_id=message_id, data=bytes(message))


def confirm_link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/confirm?token={quote(token, safe='.-_~')}"
