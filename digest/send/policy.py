"""Relay policy: what one reply means for the send, whatever transport gave it.

The transport reads the reply (digest/transports/smtp.py classifies SMTP replies by their RFC 3463
enhanced status code: about the address, X.1 and X.2; about us, our sender, message or relay,
the rest) into a `Delivery`; this module turns a `Delivery` into the decision the engine acts on.
Pure functions, no clock and no store, so each rule is tested alone."""

from __future__ import annotations

import enum
import re

from digest.transports import Delivery


class Verdict(enum.Enum):
    SENT = "sent"
    FAILED = "failed"  # permanent, the address's fault: counts towards its bounce record
    THROTTLED = "throttled"  # temporary and about us: the whole send slows down
    NO_SESSION = "no session"  # no connection could be opened: nothing said about the address
    GIVE_UP = "give up"  # temporary for this address too many times over every run
    RETRY = "retry"  # temporary for this address: deferred, tried again later


def judge(delivery: Delivery, total_attempts: int, max_total_attempts: int) -> Verdict:
    """The decision for one delivery; `total_attempts` counts this one and every earlier run's."""
    if delivery.ok:
        return Verdict.SENT
    if delivery.about_us:
        return Verdict.THROTTLED
    if delivery.permanent:
        return Verdict.FAILED
    if delivery.unreachable:
        return Verdict.NO_SESSION
    # Lost connections never give up, so a relay that is down for days leaves rows deferred
    # rather than failing the whole list.
    if total_attempts >= max_total_attempts and not delivery.connection_lost:
        return Verdict.GIVE_UP
    return Verdict.RETRY


def reply_pattern(reply: str, email: str) -> str:
    """A reply with the recipient's address taken out: "550 5.1.1 <a@x>: unknown" and
    "550 5.1.1 <b@x>: unknown" are the same answer."""
    return re.sub(re.escape(email), "", reply, flags=re.IGNORECASE).strip()
