"""Keeps every message in a list: for tests and dry runs."""

from __future__ import annotations

from digest.transports.base import Delivery, Envelope, Transport


class MemoryTransport(Transport):
    def __init__(self) -> None:
        self.outbox: list[Envelope] = []

    async def send(self, envelope: Envelope) -> Delivery:
        self.outbox.append(envelope)
        return Delivery(envelope, ok=True, reply="stored in memory")
