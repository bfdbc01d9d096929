"""Signing up with double opt-in: a sign-up is a pending row and a confirmation email with a
signed, expiring link; only confirming (a POST from the page that link opens) makes it active.

What the web side answers never depends on the address's state (new, pending, active or
suppressed), so the form cannot be used to find out who is subscribed. An address that
unsubscribed can come back this way (the confirmation proves it is theirs); a bounced or
complained one cannot: those suppressions win.

Also here: the lists a reader may choose (`[lists]`, else those the project knows), the sign-up
limits every web replica shares through the store, and the preferences a subscriber changes
with the link in every message (name, lists, or leaving).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid, parseaddr
from ipaddress import IPv6Address, ip_address, ip_network
from urllib.parse import quote

from digest.config import Config, ListInfo
from digest.errors import DigestError
from digest.models import Issue, Subscriber
from digest.project import Project
from digest.store import Store
from digest.subscribers import DEFAULT_LIST, known_lists, normalise_email
from digest.tokens import (
    BadToken,
    bounce_address,
    make_token,
    read_purpose_token,
    read_token,
)
from digest.transports.base import Envelope

# A token's list field is a list name (letters, digits, '.', '_', '-'), so a purpose prefix with
# a ':' makes these tokens distinct from unsubscribe tokens and from each other.
CONFIRM = "confirm:"
CSRF = "csrf:"
# a confirmation's envelope sender fills the bounce address's {token} with this: it belongs to
# no issue, so its bounces are read and moved as about nobody we mail
CONFIRMATION_BOUNCE_TOKEN = "confirm"
# the one reason a person may lift themselves by confirming again
COMEBACK_REASON = "unsubscribed"
# the store's rate-limit buckets (digest.store.limits) and their windows, in seconds
CLIENT_BUCKET, CLIENT_WINDOW = "signup-client", 3600.0
ADDRESS_BUCKET, ADDRESS_WINDOW = "confirm-address", 86400.0
DOMAIN_BUCKET, DOMAIN_WINDOW = "confirm-domain", 3600.0
# Providers known to deliver name.sur@ and namesur@ to one mailbox, and the domain they share
DOTLESS_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}
MAX_NAME = 200


def offered_lists(project: Project, store: Store) -> list[ListInfo]:
    """The lists a reader may choose on the web: `[lists]` when set; else every list the files
    and the store know, or `default` when there is none (titled by their names)."""
    if project.config.lists:
        return list(project.config.lists.values())
    names = known_lists(project.subscribers_dir, store) or [DEFAULT_LIST]
    return [ListInfo(name, name) for name in names]


def clean_name(raw: str) -> str:
    """A name as typed in a form, on one line (it goes into a To: header) and not too long."""
    return " ".join(raw.split())[:MAX_NAME]


def client_key(host: str) -> str:
    """What one client is, for the per-client limit: its address as the server saw it (after a
    trusted proxy's X-Forwarded-For), an IPv6 one by its /48: one customer of a provider is
    usually given a whole /48 (or a /56), so each /64 in it is no new client."""
    try:
        address = ip_address(host)
    except ValueError:
        return host
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ip_network(f"{address}/48", strict=False))
    return str(address)


def signup_wait(store: Store, config: Config, client: str) -> float:
    """0 when this client may post another sign-up now (and counts it); else the seconds until
    it may (`subscribers.signups_per_client_hour`, shared by every replica)."""
    if not config.signups_per_client_hour:
        return 0.0
    return store.take_rate(
        CLIENT_BUCKET,
        client_key(client),
        limit=config.signups_per_client_hour,
        window=CLIENT_WINDOW,
    )


def canonical_mailbox(email: str) -> str:
    """The mailbox an address reaches, for counting what it is sent: lower case, without a
    `+tag` (every major provider delivers name+tag@ to name@), and without dots at providers
    known to ignore them (Gmail). Only for limits: an address is stored as given."""
    local, _, domain = email.strip().lower().rpartition("@")
    local = local.split("+", 1)[0] or local
    if domain in DOTLESS_DOMAINS:
        local, domain = local.replace(".", "") or local, DOTLESS_DOMAINS[domain]
    return f"{local}@{domain}"


def may_mail_address(store: Store, config: Config, email: str) -> bool:
    """Whether one more confirmation email may go to `email` (and counts it): its mailbox has
    had fewer than `confirmations_per_address_day` today, whatever the spelling, and its domain
    fewer than `confirmations_per_domain_hour` this hour."""
    mailbox = canonical_mailbox(email)
    limits = [
        (ADDRESS_BUCKET, mailbox, config.confirmations_per_address_day, ADDRESS_WINDOW),
        (
            DOMAIN_BUCKET,
            mailbox.rpartition("@")[2],
            config.confirmations_per_domain_hour,
            DOMAIN_WINDOW,
        ),
    ]
    for bucket, key, limit, window in limits:
        if limit and store.take_rate(bucket, key, limit=limit, window=window):
            return False
    return True


# between the lists and the name in a confirmation token's field: clean_name never leaves one
# (str.split takes it for white space), and no list name holds it
_NAME_MARK = "\x1f"


def confirm_token(
    secret: bytes,
    email: str,
    lists: Sequence[str],
    hours: int,
    now: datetime | None = None,
    *,
    name: str | None = None,
) -> str:
    """A confirmation link's token: the address, the lists and (signed with them) the name
    given with this sign-up, so confirming it gives the row that name and no other's."""
    expires = (now or datetime.now(UTC)) + timedelta(hours=hours)
    field = CONFIRM + ",".join(lists) + ("" if name is None else _NAME_MARK + clean_name(name))
    return make_token(secret, email, field, expires=expires)


def read_confirmation(secrets: Sequence[bytes], token: str) -> tuple[str, list[str], str | None]:
    """(email, lists, name) of a genuine, unexpired confirmation token (name None: a token
    made before names were bound, which keeps the row's); BadToken otherwise (an unsubscribe
    token included)."""
    email, field = read_purpose_token(secrets, token, CONFIRM, "confirmation")
    lists, mark, name = field.partition(_NAME_MARK)
    return email, lists.split(","), name if mark else None


def read_confirm_token(secrets: Sequence[bytes], token: str) -> tuple[str, list[str]]:
    """(email, lists) of a genuine, unexpired confirmation token; BadToken otherwise."""
    email, lists, _ = read_confirmation(secrets, token)
    return email, lists


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


def request_confirmation(
    store: Store,
    config: Config,
    secret: bytes,
    subscriber: Subscriber,
    lists: Sequence[str],
    *,
    limited: bool = True,
) -> Envelope | None:
    """Record a sign-up for `lists` (pending rows) and return the confirmation email to send,
    or None when nothing is to be sent: the address is active on all of them already, is
    suppressed for a reason it cannot lift, or (when `limited`) had its confirmations for
    today (`subscribers.confirmations_per_address_day`)."""
    wanted = [
        request_signup(store, Subscriber(subscriber.email, subscriber.name, name)) for name in lists
    ]
    if not any(wanted) or (limited and not may_mail_address(store, config, subscriber.email)):
        return None
    token = confirm_token(
        secret, subscriber.email, lists, config.confirm_hours, name=subscriber.name
    )
    return confirmation_envelope(config, subscriber.email, confirm_link(config.base_url, token))


async def send_confirmation(project: Project, envelope: Envelope) -> str | None:
    """Send a confirmation email through the project's transport; None when it went, else why
    not."""
    from digest.send import choose_transport

    try:
        async with choose_transport(project) as transport:
            delivery = await transport.send(envelope)
    except (DigestError, OSError) as exc:
        return str(exc)
    return None if delivery.ok else delivery.reply


def invite(project: Project, email: str, *, name: str = "", list_name: str) -> str | None:
    """`digest subscribers add --confirm`: record a pending sign-up and send the confirmation
    email, as the web form does (no per-address limit: an editor asked). None when it was
    sent; else why nothing was (the address is active already, or suppressed). A transport
    that fails is a DigestError."""
    address = normalise_email(email)
    store = project.store
    reason = store.suppression_reason(address)
    if reason is not None and reason != COMEBACK_REASON:
        return f"suppressed ({reason}); a suppression always wins"
    from digest.keys import project_keys

    secret = project_keys(project).sign
    subscriber = Subscriber(address, clean_name(name))
    envelope = request_confirmation(
        store, project.config, secret, subscriber, [list_name], limited=False
    )
    if envelope is None:
        return f"already active on list {list_name}"
    failure = asyncio.run(send_confirmation(project, envelope))
    if failure is not None:
        raise DigestError(f"the confirmation email to {address} was not sent: {failure}")
    return None


def confirm(store: Store, email: str, list_name: str, name: str | None = None) -> bool:
    """Make a confirmed sign-up active (lifting an earlier unsubscribe), with the name its
    token carries (None: the row's stays); whether it was. A bounced or complained address
    stays suppressed."""
    reason = store.suppression_reason(email)
    if reason is not None and reason != COMEBACK_REASON:
        return False
    store.activate_subscriber(email, list_name, lift=COMEBACK_REASON, rename=name)
    return True


def confirmation_envelope(config: Config, email: str, link: str) -> Envelope:
    """The confirmation email: plain text, the link, and what to do if it was not them."""
    return _notice(
        config,
        email,
        f"Confirm your subscription to {config.name}",
        f"Someone, probably you, asked to receive {config.name} at this address.\n\n"
        f"To confirm, open this link and press the button within {config.confirm_hours} hours:\n"
        f"{link}\n\n"
        "If it was not you, ignore this email: nothing will be sent without your confirmation.\n",
    )


def welcome_envelope(config: Config, email: str, latest: Issue | None) -> Envelope:
    """The welcome email a confirmed reader gets: the latest sent issue's web address, or the
    archive's while none has gone out yet."""
    base = config.base_url.rstrip("/")
    if latest is not None:
        read = f"While you wait for the next issue, here is the latest:\n{base}/issues/{latest.id}"
    else:
        read = f"The first issue is on its way. Past issues will be here:\n{base}/"
    return _notice(
        config,
        email,
        f"Welcome to {config.name}",
        f"You are subscribed to {config.name}: thank you for confirming.\n\n{read}\n\n"
        "Every issue has a link to change your name or lists, or to leave.\n",
    )


def _notice(config: Config, email: str, subject: str, body: str) -> Envelope:
    """A plain-text, auto-generated email from the list to one address (sign-up's own mail)."""
    message = EmailMessage(policy=SMTP)
    sender = parseaddr(config.from_address)[1]
    message_id = make_msgid(domain=sender.rpartition("@")[2] or None)
    message["From"] = config.from_address
    message["To"] = email
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    # a bounce goes to the mailbox `digest bounces` reads, not to the From address's
    if config.bounce_address:
        sender = bounce_address(config.bounce_address, CONFIRMATION_BOUNCE_TOKEN)
    return Envelope(sender=sender, recipient=email, message_id=message_id, data=bytes(message))


def latest_sent_issue(store: Store) -> Issue | None:
    sent = store.issues("sent")
    return sent[0] if sent else None


def confirm_link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/confirm?token={quote(token, safe='.-_~')}"


# -- unsubscribing and preferences ---------------------------------------------------------------


def unsubscribe_address(store: Store, email: str, list_name: str) -> None:
    """Suppress the address as unsubscribed (from every list: that is what the link says); one
    already bounced or complained keeps that stronger reason."""
    if not store.is_suppressed(email):
        store.suppress(email, "unsubscribed", list_name=list_name)


def preference_lists(offered: Iterable[ListInfo], rows: dict[str, Subscriber]) -> list[ListInfo]:
    """The lists the preferences page shows: those offered, then any other the subscriber is on
    (a list without a `[lists]` entry must still be one they can leave)."""
    shown = list(offered)
    names = {info.name for info in shown}
    shown += [ListInfo(name, name) for name in rows if name not in names]
    return shown


def save_preferences(
    store: Store, email: str, name: str, chosen: Iterable[str], shown: Iterable[str]
) -> None:
    """Apply the preferences page: the name (the subscriber's own, which a list file's sync
    keeps), active on each chosen list (the link came to this address: no new confirmation)
    and `unsubscribed` on each shown list left unchecked. Nothing for a suppressed address."""
    if store.is_suppressed(email):
        return
    rows = store.subscriptions(email)
    if any(row.name != name for row in rows.values()):
        store.set_own_name(email, name)
    wanted = set(chosen)
    for list_name in shown:
        row = rows.get(list_name)
        if list_name in wanted and (row is None or row.status != "active"):
            store.activate_subscriber(email, list_name, name=name)
        elif list_name not in wanted and row is not None and row.status != "unsubscribed":
            store.leave_list(email, list_name)
