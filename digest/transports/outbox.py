"""The embedded default: every message becomes a file in a Maildir that any mail client opens."""

from __future__ import annotations

import asyncio
import mailbox
from pathlib import Path

from digest.transports.base import Delivery, Envelope, Transport


class OutboxTransport(Transport):
    def __init__(self, path: Path) -> None:
        self.path = path
        self._maildir: mailbox.Maildir | None = None

    async def open(self) -> None:
        self._maildir = mailbox.Maildir(self.path, create=True)

    def _deliver(self, envelope: Envelope) -> str:
        if self._maildir is None:
            self._maildir = mailbox.Maildir(self.path, create=True)
        # Maildir writes to tmp/ and renames into new/: a crash never leaves half a message
        key = self._maildir.add(envelope.data)
        return str(self.path / "new" / key)

    async def send(self, envelope: Envelope) -> Delivery:
        try:
            where = await asyncio.to_thread(self._deliver, envelope)
        except OSError as exc:
            return Delivery(envelope, ok=False, permanent=False, reply=f"outbox: {exc}")
        return Delivery(envelope, ok=True, reply=where)
