"""The embedded default: every message becomes a file in a Maildir that any mail client opens."""

from __future__ import annotations

import asyncio
import mailbox
from pathlib import Path

from digest.transports.base import Delivery, Envelope, Transport, TransportSetupError


class OutboxTransport(Transport):
    def __init__(self, path: Path) -> None:
        self.path = path
        self._maildir: mailbox.Maildir | None = None

    async def open(self) -> None:
        try:
            self._maildir = mailbox.Maildir(self.path, create=True)
        except OSError as exc:
            raise self._unusable(exc) from None

    def _unusable(self, exc: OSError) -> TransportSetupError:
        # a full disk or a folder we may not write is the same for every message: stop, and
        # never record it against the subscribers
        return TransportSetupError(
            f"outbox {self.path}: cannot write messages ({exc.strerror or exc});"
            " fix it and run `digest send` again"
        )

    def _deliver(self, envelope: Envelope) -> str:
        if self._maildir is None:
            self._maildir = mailbox.Maildir(self.path, create=True)
        # Maildir writes to tmp/ and renames into new/: a crash never leaves half a message.
        # The envelope sender goes where a delivering MTA puts it (outside any DKIM signature).
        return_path = f"Return-Path: <{envelope.sender}>\r\n".encode()
        key = self._maildir.add(return_path + envelope.data)
        return str(self.path / "new" / key)

    async def send(self, envelope: Envelope) -> Delivery:
        try:
            where = await asyncio.to_thread(self._deliver, envelope)
        except OSError as exc:
            raise self._unusable(exc) from None
        return Delivery(envelope, ok=True, reply=where)
