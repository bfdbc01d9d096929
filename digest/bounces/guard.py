"""What one message of the bounce mailbox may cost before it is recognised, and what a message
that costs more becomes: refused (quarantined), never an exception that stops the run.

Anybody can mail the bounce address, so every limit is checked before the expensive part:
- size: a message over `MAX_MESSAGE_BYTES` is not parsed (no report is that large: a DSN
  returning a whole issue is a fraction of it);
- structure: more than `MAX_CONTAINERS` multipart or message/* headers is not parsed, since the
  `email` parser, and `walk()` after it, recurse once per level (a 130 KB mail of nested parts
  raised RecursionError); more than `MAX_PARTS` parts in all is not read further;
- what the detectors read: flufl.bounce's heuristics run regular expressions that are quadratic
  in a line's length, line by line, part by part, so they see every line cut to 998 characters
  (RFC 5322's limit) and at most `DETECTOR_TEXT` characters in all;
- time: recognition runs under a per-message budget (`seconds`), enforced with a timer signal
  on the main thread; elsewhere the limits above bound the cost on their own.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser

from digest.message import one_line

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
MAX_CONTAINERS = 64
MAX_PARTS = 1000
MAX_LINE = 998
DETECTOR_TEXT = 128 * 1024
BUDGET_SECONDS = 5.0
# what recognition a remembered verdict came from: a new version reads every message again
RECOGNISER = "1"

_CONTAINER = re.compile(rb"(?im)^content-type:\s*(?:multipart|message)/")
_HEAD_END = re.compile(rb"\r?\n\r?\n")


class Refused(Exception):
    """The message is not recognised at all: too large, too deep, over its time budget, or
    something in it broke the parser or a detector. `reason` is one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _OverBudget(BaseException):
    """Raised by the timer inside whatever recognition is doing: a BaseException, so no
    `except Exception` on the way (flufl.bounce has some) swallows it."""


@dataclass(frozen=True)
class Fingerprint:
    """What identifies one message whatever its mailbox calls it: a hash of its bytes (a
    Message-ID is the sender's to choose, and a forged report could reuse a real one's)."""

    digest: str
    message_id: str  # for the lines a person reads; "" when it has none


def fingerprint(data: bytes, *, whole: bool = True) -> Fingerprint:
    """`data`: the message, or its first bytes (`whole` false)."""
    hashed = hashlib.sha256(data)
    if not whole:
        hashed.update(b"\0and more")
    return Fingerprint(f"{RECOGNISER}:{hashed.hexdigest()}", header_message_id(data))


def header_message_id(data: bytes) -> str:
    """The Message-ID from the header block alone (no MIME parsing, so it cannot recurse)."""
    end = _HEAD_END.search(data, 0, 256 * 1024)
    head = data[: end.end() if end else 256 * 1024]
    try:
        headers = BytesHeaderParser().parsebytes(head)
        return one_line(str(headers.get("Message-ID", "")), 200)
    except Exception:  # a header this parser chokes on: the line just names no Message-ID
        return ""


def check_shape(data: bytes, *, whole: bool = True) -> None:
    """Refused when the message is too large or too deeply built to parse."""
    if not whole or len(data) > MAX_MESSAGE_BYTES:
        raise Refused(f"over the {MAX_MESSAGE_BYTES // (1024 * 1024)} MiB a report can be")
    containers = len(_CONTAINER.findall(data))
    if containers > MAX_CONTAINERS:
        raise Refused(f"{containers} nested or multipart parts, over the {MAX_CONTAINERS} allowed")


def trim_for_detectors(message: Message) -> None:
    """Cut every part's lines to `MAX_LINE` characters and all parts together to
    `DETECTOR_TEXT`, in place; parts within the limits are left exactly as they were. Refused
    beyond `MAX_PARTS` parts."""
    left = DETECTOR_TEXT
    for count, part in enumerate(message.walk(), start=1):
        if count > MAX_PARTS:
            raise Refused(f"more than {MAX_PARTS} parts")
        if part.is_multipart() or not isinstance(part.get_payload(), str):
            continue
        raw = part.get_payload(decode=True)
        body = raw if isinstance(raw, bytes) else b""
        lines = body.splitlines(keepends=True)
        if len(body) <= left and all(len(line) <= MAX_LINE + 2 for line in lines):
            left -= len(body)
            continue
        kept: list[bytes] = []
        for line in lines:
            if left <= 0:
                break
            piece = line[: min(MAX_LINE, left)].rstrip(b"\r\n") + b"\n"
            kept.append(piece)
            left -= len(piece)
        del part["Content-Transfer-Encoding"]
        part.set_payload(b"".join(kept).decode("latin-1"))
        left = max(left, 0)


@contextlib.contextmanager
def time_budget(seconds: float, what: str) -> Iterator[None]:
    """Refused when the block runs longer than `seconds` (on the main thread, when no other
    interval timer is running; elsewhere, or with `seconds` <= 0, the size limits alone)."""
    if (
        seconds <= 0
        or threading.current_thread() is not threading.main_thread()
        or signal.getitimer(signal.ITIMER_REAL)[0] > 0  # somebody else's timer: left alone
    ):
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise _OverBudget

    previous = signal.signal(signal.SIGALRM, expire)
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _OverBudget:
        raise Refused(f"{what} took longer than its {seconds:g} s budget") from None
    finally:
        signal.signal(signal.SIGALRM, previous)
