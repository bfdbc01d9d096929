"""One recipient's envelope: the message factory, then DKIM when configured."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import TYPE_CHECKING

from digest.models import Issue, Subscriber
from digest.transports import Envelope

if TYPE_CHECKING:
    from digest.dkim import DKIMSigner
    from digest.project import Project


class Messages:
    """Builds the envelope for one recipient: the message factory, then DKIM when configured."""

    def __init__(self, project: Project, issue: Issue) -> None:
        from digest.dkim import signer_from_config
        from digest.keys import project_keys
        from digest.message import MessageFactory

        self.factory = MessageFactory(issue, project.config, project_keys(project).sign)
        self.signer: DKIMSigner | None = signer_from_config(project.config)

    def envelope(self, subscriber: Subscriber) -> Envelope:
        envelope: Envelope = self.factory.envelope(subscriber)
        if self.signer is not None:
            envelope = replace(envelope, data=self.signer.sign(envelope.data))
        return envelope

    async def envelope_async(self, subscriber: Subscriber) -> Envelope:
        """`envelope`, with the DKIM signature computed in a worker thread: an RSA signature
        on the event loop would stall every connection while it is made."""
        envelope: Envelope = self.factory.envelope(subscriber)
        if self.signer is not None:
            data = await asyncio.to_thread(self.signer.sign, envelope.data)
            envelope = replace(envelope, data=data)
        return envelope
