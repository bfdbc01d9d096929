"""The transport interface: hand over finished messages, learn what became of each.

Like Django's email backends: one small class per way of delivering, chosen by configuration.
A transport knows nothing of issues, subscribers or bookkeeping; the send engine does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

from digest.errors import DigestError


@dataclass(frozen=True)
class Envelope:
    """A serialised message and who it goes to."""

    sender: str
    recipient: str
    message_id: str
    data: bytes


@dataclass(frozen=True)
class Delivery:
    """The outcome of one envelope: delivered, or failed temporarily (retry later) or for good."""

    envelope: Envelope
    ok: bool
    permanent: bool = False
    reply: str = ""
    # a 421 or dropped connection: the transport's connection should be replaced
    connection_lost: bool = False
    # a temporary reply about us, not the address (a throttle at MAIL FROM, a 4.7.x at RCPT, a
    # 4xx greeting): the whole send should slow down; never counted against the address
    about_us: bool = False
    # no session could be opened at all (refused, no greeting, a timeout while connecting)
    unreachable: bool = False


class TransportSetupError(DigestError):
    """The transport cannot be used at all (a relay that refuses us, an outbox that cannot be
    written): retrying message by message would only repeat the error, so the send stops with
    the undecided rows left pending."""


class Transport:
    """Base class. Subclasses implement `send`; it must be safe to await concurrently."""

    async def open(self) -> None:
        """Prepare (connect, create folders). Called once before the first send."""

    async def close(self) -> None:
        """Release connections. Called once after the last send, also after a failure."""

    async def send(self, envelope: Envelope) -> Delivery:
        raise NotImplementedError

    async def send_messages(self, envelopes: Sequence[Envelope]) -> list[Delivery]:
        """Send several envelopes; the outcome of each, in order."""
        return list(await asyncio.gather(*(self.send(e) for e in envelopes)))

    async def __aenter__(self) -> Transport:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
