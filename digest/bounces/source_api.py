"""The bounce mailbox's interface, which every kind of mailbox implements (`sources.py`: Maildir
and mbox; `imap.py`: IMAP): the messages one by one, then each handled or quarantined."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from digest.bounces.guard import MAX_MESSAGE_BYTES
from digest.errors import EXIT_PARTIAL, DigestError

PROCESSED = "Processed"
QUARANTINE = "digest-quarantine"


class BounceSourceError(DigestError):
    """The bounce mailbox cannot be read at all (a usage or configuration problem: exit 2)."""


class BounceSourceUnavailable(DigestError):
    """The bounce mailbox could not be reached this time (a server down, a lock held): exit 1,
    the next run tries again."""

    exit_code = EXIT_PARTIAL


@dataclass(frozen=True)
class Item:
    """One message: `name` says which in a line (its file, its number, its UID)."""

    name: str
    data: bytes
    key: str
    error: str = ""  # why it could not be read (it stays where it is)
    whole: bool = True  # False: larger than MAX_MESSAGE_BYTES, `data` is its beginning


class BounceSource:
    description: str
    quarantine_name: str  # where `quarantine` puts a message, for the line that says so
    problems: list[str] | tuple[str, ...] = ()  # what the mailbox said that was not believed

    def __iter__(self) -> Iterator[Item]:
        raise NotImplementedError

    def done(self, item: Item) -> None:
        raise NotImplementedError

    def quarantine(self, item: Item) -> None:
        """Move a message recognition refused out of the way, kept as it is."""
        raise NotImplementedError

    def close(self) -> None:
        """Commit what `done` and `quarantine` marked (mbox, IMAP) and let go of the mailbox."""

    def __enter__(self) -> BounceSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


def read_capped(file: _Readable) -> tuple[bytes, bool]:
    """At most MAX_MESSAGE_BYTES of a message, and whether that was all of it."""
    data = file.read(MAX_MESSAGE_BYTES + 1)
    return data[:MAX_MESSAGE_BYTES], len(data) <= MAX_MESSAGE_BYTES
