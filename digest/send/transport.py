"""Which transport a send goes through, and that an issue keeps the one its send started with."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from digest.errors import ConfigError, DigestError
from digest.models import Issue
from digest.transports import MemoryTransport, OutboxTransport, SMTPTransport, Transport

if TYPE_CHECKING:
    from digest.config import Config
    from digest.project import Project

TRANSPORT_KINDS = ("outbox", "smtp", "memory")


def choose_transport(
    project: Project,
    *,
    smtp_url: str | None = None,
    insecure: bool = False,
    concurrency: int | None = None,
    backend: str | None = None,
) -> Transport:
    """`--transport` > `--smtp-url` > DIGEST_SMTP_URL > digest.toml's backend > the outbox."""
    config = project.config
    if backend is not None and backend not in TRANSPORT_KINDS:
        raise DigestError(f"--transport {backend}: choose one of {', '.join(TRANSPORT_KINDS)}")
    url = smtp_url or (config.smtp_url if config.transport == "smtp" else "")
    if backend == "smtp" and not (url := url or config.smtp_url):
        raise DigestError("--transport smtp: no relay given (--smtp-url or DIGEST_SMTP_URL)")
    if url and backend in (None, "smtp"):
        transport = SMTPTransport(
            url,
            password=config.smtp_password,
            timeout=config.timeout,
            verify=not (insecure or config.insecure),
            ca_file=config.ca_file or None,
            pool_size=concurrency or config.concurrency,
            helo_name=config.helo_name or None,
        )
        _check_links_for_relay(config, transport)
        return transport
    if backend == "memory" or (backend is None and config.transport == "memory"):
        return MemoryTransport()
    return OutboxTransport(project.outbox_dir)


def _is_loopback(host: str) -> bool:
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_links_for_relay(config: Config, transport: SMTPTransport) -> None:
    """Mail through a real relay goes to real readers: its unsubscribe and web links must work
    from their machines, and RFC 8058 one-click unsubscribe needs https. A relay on loopback is
    a test setup (or a local MTA in front of a test), so it is let through."""
    if _is_loopback(transport.settings.host):
        return
    base = urlsplit(config.base_url)
    if base.scheme != "https" or _is_loopback(base.hostname or ""):
        raise ConfigError(
            f"{config.path}: `newsletter.base_url` is {config.base_url}, but messages would go"
            f" through {transport.settings}: readers' unsubscribe and web links would not work"
            " (one-click unsubscribe needs https); set base_url (or DIGEST_BASE_URL) to the"
            " public https:// address of `digest serve`"
        )


def transport_kind(transport: Transport) -> str:
    if isinstance(transport, SMTPTransport):
        return "smtp"
    if isinstance(transport, OutboxTransport):
        return "outbox"
    if isinstance(transport, MemoryTransport):
        return "memory"
    return type(transport).__name__


def check_transport_switch(
    project: Project, issue: Issue, transport: Transport, *, explicit: bool
) -> None:
    """An issue keeps the transport its send started with: a later `digest send` in a shell
    without DIGEST_SMTP_URL must not finish it into the local outbox and call it sent."""
    recorded = project.store.issue_transport(issue.id)
    kind = transport_kind(transport)
    if issue.status == "sent" and not explicit:
        return  # nothing left to send: a repeated `digest send` only confirms
    if recorded and recorded.split(" ", 1)[0] != kind and not explicit:
        raise DigestError(
            f"issue {issue.id} was started through {recorded.split(' ', 1)[1]}; this send would"
            f" go through {describe_transport(transport)}. Check DIGEST_SMTP_URL and"
            f" digest.toml, or pass --transport {kind} to switch on purpose"
        )
    description = f"{kind} {describe_transport(transport)}"
    if recorded != description:
        project.store.set_issue_transport(issue.id, description)


def describe_transport(transport: Transport) -> str:
    if isinstance(transport, SMTPTransport):
        return str(transport.settings)
    if isinstance(transport, OutboxTransport):
        return f"outbox {transport.path}"
    return type(transport).__name__
