"""`digest send --to ADDRESS`: one test copy, as a subscriber of that name would get it; the
bookkeeping is not touched."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from email.utils import parseaddr
from typing import Any

from digest.desk import current_parts
from digest.errors import DigestError
from digest.models import Issue, Subscriber
from digest.project import Project
from digest.send.issue import resolve_issue
from digest.send.messages import Messages
from digest.send.preflight import check_sender
from digest.send.transport import choose_transport, describe_transport
from digest.transports import Delivery, OutboxTransport, Transport

TEST_SUBJECT_PREFIX = "[TEST]"  # a test copy says so where every mail client shows it


@dataclass
class CopySent:
    """A test copy and where it went: the outbox (a file on disk, nobody mailed) or a relay."""

    delivery: Delivery
    via: str  # the transport, described
    outbox: bool

    def said(self) -> str:
        """One line for the editor: where the copy is, in words that cannot be misread."""
        recipient = self.delivery.envelope.recipient
        if not self.delivery.ok:
            return f"test copy to {recipient} not sent: {self.delivery.reply}"
        if self.outbox:
            return (
                f"Test copy for {recipient} written to the outbox at {self.delivery.reply}"
                " (nobody was mailed: set DIGEST_SMTP_URL, or [transport] in digest.toml,"
                " to mail it)"
            )
        return f"Test copy sent to {recipient} via {self.via}: {self.delivery.reply}"


async def send_test_copy_async(
    project: Project,
    issue: Issue | int | None,
    address: str,
    *,
    transport: Transport | None = None,
    smtp_url: str | None = None,
    insecure: bool = False,
    backend: str | None = None,
) -> CopySent:
    """One copy of `issue` to `address`, as a subscriber of that name would get it but with
    `[TEST]` before its subject; the bookkeeping is not touched."""
    address = address.strip()
    if any(c in address for c in "\r\n\t ") or "@" not in parseaddr(address)[1]:
        raise DigestError(f"--to {address!r}: not an email address")
    issue = current_parts(project, resolve_issue(project, issue))
    issue = replace(issue, subject=f"{TEST_SUBJECT_PREFIX} {issue.subject}")
    envelope = await Messages(project, issue).envelope_async(Subscriber(email=address, list="test"))
    transport = transport or choose_transport(
        project, smtp_url=smtp_url, insecure=insecure, concurrency=1, backend=backend
    )
    check_sender(project.config, transport)
    async with transport:
        delivery = await transport.send(envelope)
    return CopySent(
        delivery, describe_transport(transport), outbox=isinstance(transport, OutboxTransport)
    )


def send_test_copy(
    project: Project, issue: Issue | int | None, address: str, **options: Any
) -> CopySent:
    return asyncio.run(send_test_copy_async(project, issue, address, **options))
