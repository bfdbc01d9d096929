"""What a message in the bounce mailbox is, and every clue it carries to whose it is.

    delivery status notification (RFC 3464, or an MTA's own shape)  → bounce, hard or soft
    complaint report (ARF, RFC 5965: report-type=feedback-report)   → complaint
    "unsubscribe TOKEN" sent to the List-Unsubscribe mailto:         → unsubscribe
    an auto-reply, a success notice, a "not spam" report            → ignored (handled)
    anything else                                                   → unknown (left in place)

Recognition knows nothing of the store: it returns the clues (VERP tokens in where the report
was addressed, the quoted original's Message-ID and unsubscribe token, the addresses the report
names), and `apply.py` decides whose they are. DSNs and their non-standard variants are
flufl.bounce's job (Mailman's detectors); the structured fields of RFC 3464 and 5965 are read
with the `email` package's header parser.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses, parseaddr
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

from flufl.bounce import all_failures

from digest.bounces.guard import (
    BUDGET_SECONDS,
    Refused,
    check_shape,
    time_budget,
    trim_for_detectors,
)
from digest.message import one_line
from digest.tokens import TOKEN_PLACEHOLDER, bounce_token_issue

Kind = Literal["bounce", "complaint", "unsubscribe", "ignored", "unknown"]
Severity = Literal["hard", "soft"]

# where a report says which of our addresses it was delivered to (a VERP address carries the
# token): the header MTAs and delivery agents add, and To, which a DSN addresses to the
# envelope sender
_DELIVERED_TO = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
# not spam (RFC 5965 lets a mailbox provider report that too): no reason to stop mailing
_NOT_A_COMPLAINT = {"not-spam"}
_DETAIL_LIMIT = 300

# flufl.bounce logs a detector's exception with its traceback before re-raising it; we report it
# in one line instead, so its records go nowhere unless the application sets up logging
logging.getLogger("flufl.bounce").addHandler(logging.NullHandler())


@dataclass(frozen=True)
class Failure:
    """One address a bounce reports: hard (5.x.x, or failed without a status) or soft (4.x.x,
    or delayed), with the DSN status and diagnostic when there are any."""

    address: str
    severity: Severity
    detail: str


@dataclass
class Recognised:
    kind: Kind
    key: str  # the report's Message-ID, else a hash of its bytes: counted once however read
    detail: str = ""  # a complaint's feedback type; why an ignored or unknown one is so
    failures: list[Failure] = field(default_factory=list)  # a bounce's, by address
    tokens: list[str] = field(default_factory=list)  # VERP tokens (ours only by their shape)
    message_ids: list[str] = field(default_factory=list)  # the original message's
    list_tokens: list[str] = field(default_factory=list)  # signed unsubscribe tokens
    addresses: list[str] = field(default_factory=list)  # who the report is about (no proof)


def recognise_within(
    data: bytes, bounce_template: str = "", *, whole: bool = True, seconds: float = BUDGET_SECONDS
) -> Recognised:
    """`recognise`, within the limits of `guard.py`: Refused, with one line saying why, when the
    message is too large or too deep to parse, takes longer than `seconds`, or breaks the parser
    or a detector in any way."""
    check_shape(data, whole=whole)
    try:
        with time_budget(seconds, "recognising it"):
            return recognise(data, bounce_template)
    except Refused:
        raise
    except RecursionError:
        raise Refused("nested too deeply for the parser") from None
    except MemoryError:
        raise Refused("the parser ran out of memory on it") from None
    except Exception as exc:
        why = f"{type(exc).__name__}: {one_line(str(exc), 200)}"
        raise Refused(f"the parser failed on it ({why})") from None


def recognise(data: bytes, bounce_template: str = "") -> Recognised:
    """What `data` (one whole message) is; `bounce_template` is `transport.bounce_address`,
    whose `{token}` part is read from the addresses the report went to. Unguarded: the
    bounce mailbox goes through `recognise_within`."""
    message = message_from_bytes(data)
    trim_for_detectors(message)
    key = one_line(str(message.get("Message-ID", "")), 200) or (
        "sha256:" + hashlib.sha256(data).hexdigest()
    )
    found = Recognised(kind="unknown", key=key)
    found.tokens = _verp_tokens(_addresses(message, _DELIVERED_TO), bounce_template)
    if (report := _part(message, "message/feedback-report")) is not None:
        _complaint(found, message, report, bounce_template)
    elif not (_bounce(found, message) or _unsubscribe_request(found, message)):
        why = _ignorable(message)
        if why is None:
            found.detail = "not a bounce, complaint or unsubscribe request"
            return found
        found.kind, found.detail = "ignored", why
    for original in _originals(message):
        found.message_ids += _message_ids(original)
        found.list_tokens += _list_unsubscribe_tokens(original)
        found.tokens += _verp_tokens(_addresses(original, ("Return-Path",)), bounce_template)
    found.message_ids += _quoted_message_ids(message)
    return found


# -- the kinds ------------------------------------------------------------------------------------


def _complaint(found: Recognised, message: Message, report: Message, template: str) -> None:
    fields = _fields(report)
    feedback = one_line(str(fields.get("Feedback-Type", "")), 40).lower() or "unspecified"
    agent = one_line(str(fields.get("User-Agent", "")), 80)
    if feedback in _NOT_A_COMPLAINT:
        found.kind, found.detail = "ignored", f"feedback report of type {feedback}"
        return
    found.kind = "complaint"
    found.detail = f"feedback-type {feedback}" + (f" from {agent}" if agent else "")
    found.addresses += _addresses(fields, ("Original-Rcpt-To", "Removal-Recipient"))
    found.tokens += _verp_tokens(_addresses(fields, ("Original-Mail-From",)), template)
    for original in _originals(message):
        found.addresses += _addresses(original, ("To",))


def _bounce(found: Recognised, message: Message) -> bool:
    """A DSN, or a shape one of flufl.bounce's detectors knows; also a DSN that reports only
    successes (ignored)."""
    try:
        temporary, permanent = all_failures(message)
    except Exception as exc:  # a detector meeting a shape it does not expect
        raise Refused(f"a bounce detector failed on it ({one_line(str(exc), 200)})") from None
    blocks = list(_dsn_blocks(message))
    if not temporary and not permanent:
        if blocks:
            found.kind, found.detail = "ignored", "a delivery status notice with no failure"
            return True
        return False
    found.kind = "bounce"
    details = {_block_address(block): block for block in blocks}
    reported: list[tuple[bytes, Severity]] = [(a, "hard") for a in sorted(permanent)]
    reported += [(a, "soft") for a in sorted(temporary - permanent)]
    for raw, severity in reported:
        address = raw.decode("ascii")
        block = details.get(address.lower())
        if block is None:
            detail = "no status given (the MTA's own bounce format)"
        else:
            severity, detail = _block_severity(block, severity)
        found.failures.append(Failure(address, severity, detail))
        found.addresses.append(address)
    return True


def _unsubscribe_request(found: Recognised, message: Message) -> bool:
    """A message whose subject is "unsubscribe", as the List-Unsubscribe mailto: sends it;
    it counts only with a token that proves whose it is (in the subject, or the VERP address
    it was sent to)."""
    words = _decoded(message.get("Subject", "")).split()
    if not words or words[0].lower() != "unsubscribe":
        return False
    found.kind = "unsubscribe"
    found.list_tokens += words[1:2]
    found.detail = "a mailto: unsubscribe request"
    return True


def _ignorable(message: Message) -> str | None:
    auto = str(message.get("Auto-Submitted", "no")).strip().lower()
    if auto != "no" or message.get("X-Autoreply") or message.get("X-Autorespond"):
        return "an auto-reply"
    if str(message.get("Precedence", "")).strip().lower() == "auto_reply":
        return "an auto-reply"
    return None


# -- the pieces -----------------------------------------------------------------------------------


def _part(message: Message, content_type: str) -> Message | None:
    for part in message.walk():
        if part.get_content_type() == content_type:
            return part
    return None


def _fields(part: Message) -> Message:
    """The header block of a message/feedback-report or text/rfc822-headers part."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return _first_message(payload)
    text = part.get_payload(decode=True)
    raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(payload)
    return HeaderParser().parsestr(raw.lstrip("\r\n"))


def _first_message(payload: Sequence[object]) -> Message:
    first = payload[0] if payload else None
    return first if isinstance(first, Message) else Message()


def _originals(message: Message) -> Iterator[Message]:
    """The headers of the message a report is about (message/rfc822 or text/rfc822-headers)."""
    for part in message.walk():
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            if isinstance(payload, list):
                yield _first_message(payload)
        elif kind in ("text/rfc822-headers", "text/global-headers"):
            yield _fields(part)


def _dsn_blocks(message: Message) -> Iterator[Message]:
    """The per-recipient field blocks of every message/delivery-status part."""
    for part in message.walk():
        if part.get_content_type() == "message/delivery-status":
            payload = part.get_payload()
            if isinstance(payload, list):
                # the first block is about the reporting MTA, the rest one per recipient
                yield from (
                    block for block in payload if isinstance(block, Message) and block.get("Action")
                )


def _block_address(block: Message) -> str:
    for name in ("Original-Recipient", "Final-Recipient", "X-Actual-Recipient"):
        value = str(block.get(name, ""))
        _, _, address = value.rpartition(";")
        address = parseaddr(address.strip())[1]
        if "@" in address:
            return address.lower()
    return ""


def _block_severity(block: Message, fallback: Severity) -> tuple[Severity, str]:
    """(hard or soft, "STATUS DIAGNOSTIC"): the status class decides (RFC 3463: 5 permanent,
    4 transient), so a message the MTA gave up on after 4.x.x replies is soft; a delayed
    notice is soft whatever it says."""
    status = one_line(str(block.get("Status", "")), 20)
    action = str(block.get("Action", "")).strip().lower()
    diagnostic = one_line(str(block.get("Diagnostic-Code", "")), _DETAIL_LIMIT)
    severity: Severity = fallback
    if action.startswith("delayed") or status.startswith("4"):
        severity = "soft"
    elif status.startswith("5"):
        severity = "hard"
    detail = " ".join(part for part in (status, diagnostic) if part) or f"action {action}"
    return severity, detail[:_DETAIL_LIMIT]


def _addresses(message: Message, names: tuple[str, ...]) -> list[str]:
    values = []
    for name in names:
        for value in message.get_all(name, []):
            # "rfc822; a@b" (RFC 3464/5965 address fields) or an ordinary address header
            text = one_line(str(value), 500)
            kind, semicolon, rest = text.partition(";")
            values.append(rest if semicolon and "@" not in kind else text)
    return [address for _, address in getaddresses(values) if "@" in address]


def _verp_tokens(addresses: list[str], template: str) -> list[str]:
    """The `{token}` part of every address that has the bounce address's shape; compared in
    lower case, since some MTAs lower-case local parts."""
    if TOKEN_PLACEHOLDER not in template:
        return []
    before, _, after = template.lower().partition(TOKEN_PLACEHOLDER)
    tokens = []
    for address in addresses:
        candidate = address.strip().lower()
        if (
            len(candidate) > len(before) + len(after)
            and candidate.startswith(before)
            and candidate.endswith(after)
        ):
            token = candidate[len(before) : len(candidate) - len(after)]
            if bounce_token_issue(token) is not None:
                tokens.append(token)
    return tokens


def _message_ids(original: Message) -> list[str]:
    value = one_line(str(original.get("Message-ID", "")), 300)
    return [value] if value.startswith("<digest.") else []


# one of our Message-IDs (digest.message.message_id), wherever a report quotes it
_OUR_MESSAGE_ID = re.compile(r"<digest\.\d{1,10}\.[0-9a-f]{32}@[A-Za-z0-9.-]{1,253}>")


def _quoted_message_ids(message: Message) -> list[str]:
    """Our Message-IDs in the report's text parts: MTAs such as Exim and qmail quote the
    original, headers and all, as plain text after their own words, not as a MIME part."""
    found = []
    for part in message.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                found += _OUR_MESSAGE_ID.findall(payload[:200_000].decode("ascii", "replace"))
    return found


def _list_unsubscribe_tokens(original: Message) -> list[str]:
    """The signed token of the quoted original's List-Unsubscribe web link."""
    tokens = []
    for value in original.get_all("List-Unsubscribe", []):
        for link in one_line(str(value), 2000).replace(" ", "").split(","):
            query = urlsplit(link.strip("<>")).query
            for token in parse_qs(query).get("token", []):
                tokens.append(unquote(token))
    return tokens


def _decoded(value: object) -> str:
    """A header's text with RFC 2047 encoded words decoded, on one line."""
    try:
        text = str(make_header(decode_header(str(value))))
    except (ValueError, LookupError):  # a bad encoded word or an unknown charset
        text = str(value)
    return one_line(text, 2000)
