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
    GREYLISTED = "greylisted"  # a first attempt deferred on purpose: tried again after a delay
    THROTTLED = "throttled"  # temporary and about us: the whole send slows down
    NO_SESSION = "no session"  # no connection could be opened: nothing said about the address
    GIVE_UP = "give up"  # temporary for this address too many times over every run
    RETRY = "retry"  # temporary for this address: deferred, tried again later


def judge(
    delivery: Delivery,
    total_attempts: int,
    max_total_attempts: int,
    greylisted_before: bool = False,
) -> Verdict:
    """The decision for one delivery; `total_attempts` counts this one and every earlier run's.
    An address greylisted again after its greylisting retry is deferred as any other."""
    if delivery.ok:
        return Verdict.SENT
    if greylisted(delivery):
        if not greylisted_before:
            return Verdict.GREYLISTED
    elif delivery.about_us:
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


# Greylisting (postgrey, sqlgrey, greylistd, Exim, rspamd...): the first attempt from an unknown
# sender/recipient pair is deferred, and one after some minutes accepted. The code varies (450 or
# 451, 4.2.0, 4.7.1 or none), the word does not.
_GREYLISTING = re.compile(r"gr[ae]y[- ]?list|postgrey", re.IGNORECASE)
# "try again in 30 seconds", "retry after 2 minutes", "wait 60s": how long the relay asks for
_ASKED = re.compile(
    r"\b(?:in|after|wait|for)\s+(\d+(?:\.\d+)?)\s*(s|secs?|seconds?|m|mins?|minutes?)\b",
    re.IGNORECASE,
)


def greylisted(delivery: Delivery) -> bool:
    """A temporary refusal that says it is greylisting. Its sender is not throttled, and the
    address is not at fault: it is tried again after the greylisting delay."""
    return not delivery.ok and not delivery.permanent and bool(_GREYLISTING.search(delivery.reply))


def asked_delay(reply: str) -> float | None:
    """The wait a temporary reply asks for, in seconds, when it names one."""
    match = _ASKED.search(reply)
    if match is None:
        return None
    return float(match[1]) * (60.0 if match[2].lower().startswith("m") else 1.0)


def reply_pattern(reply: str, email: str) -> str:
    """A reply with the recipient's address taken out: "550 5.1.1 <a@x>: unknown" and
    "550 5.1.1 <b@x>: unknown" are the same answer."""
    return re.sub(re.escape(email), "", reply, flags=re.IGNORECASE).strip()
