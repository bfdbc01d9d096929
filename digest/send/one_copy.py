"""`digest send --to ADDRESS`: one test copy, as a subscriber of that name would get it; the
bookkeeping is not touched."""

from __future__ import annotations

import asyncio
from email.utils import parseaddr
from typing import Any

from digest.desk import current_parts
from digest.errors import DigestError
from digest.models import Issue, Subscriber
from digest.project import Project
from digest.send.issue import resolve_issue
from digest.send.messages import Messages
from digest.send.preflight import check_sender
from digest.send.transport import choose_transport
from digest.transports import Delivery, Transport


async def send_test_copy_async(
    project: Project,
    issue: Issue | int | None,
    address: str,
    *,
    transport: Transport | None = None,
    smtp_url: str | None = None,
    insecure: bool = False,
    backend: str | None = None,
) -> Delivery:
    """One copy of `issue` to `address`, as a subscriber of that name would get it; the
    bookkeeping is not touched."""
    address = address.strip()
    if any(c in address for c in "\r\n\t ") or "@" not in parseaddr(address)[1]:
        raise DigestError(f"--to {address!r}: not an email address")
    issue = current_parts(project, resolve_issue(project, issue))
    envelope = await Messages(project, issue).envelope_async(Subscriber(email=address, list="test"))
    transport = transport or choose_transport(
        project, smtp_url=smtp_url, insecure=insecure, concurrency=1, backend=backend
    )
    check_sender(project.config, transport)
    async with transport:
        return await transport.send(envelope)


def send_test_copy(
    project: Project, issue: Issue | int | None, address: str, **options: Any
) -> Delivery:
    return asyncio.run(send_test_copy_async(project, issue, address, **options))
