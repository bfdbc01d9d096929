"""What a send must pass before it changes anything: a real sender, a list that exists, no sample
list mailed to the world, a relay that takes our login.

A send that fails one of these leaves the issue as it was (a draft stays a draft, nothing is
snapshotted or marked sending), so the editor fixes the setting and sends again. The outbox is
a folder on disk: placeholders are harmless there, and `digest init`'s demo uses them.
"""

from __future__ import annotations

from email.utils import parseaddr
from pathlib import Path

from digest.config import Config
from digest.errors import ConfigError, DigestError
from digest.project import Project, data_path
from digest.subscribers import known_lists, list_files
from digest.transports.base import Transport
from digest.transports.smtp import SMTPSetupError, SMTPTransport

# Domains that never belong to a real sender (RFC 2606, RFC 6761): mail from them is rejected
# or junked, and a reply goes nowhere.
RESERVED_DOMAINS = ("example.org", "example.com", "example.net")
RESERVED_SUFFIXES = (".test", ".invalid", ".example", ".localhost")
SAMPLE_LIST = "example"  # subscribers/example.csv, as `digest init` writes it


def reserved_domain(address: str) -> str | None:
    """The address's domain when it is reserved for documentation or testing, else None."""
    domain = parseaddr(address)[1].rpartition("@")[2].strip().rstrip(".").lower()
    reserved = (*RESERVED_DOMAINS, *(suffix.lstrip(".") for suffix in RESERVED_SUFFIXES))
    if any(domain == name or domain.endswith(f".{name}") for name in reserved):
        return domain
    return None


def check_sender(config: Config, transport: Transport) -> None:
    """Over SMTP, the From address must be the newsletter's own: not `digest init`'s
    placeholder, not a reserved domain."""
    if not isinstance(transport, SMTPTransport):
        return
    domain = reserved_domain(config.from_address)
    if domain is not None:
        raise ConfigError(
            f"{config.path}: `newsletter.from` is {config.from_address!r}, and {domain} is a"
            " reserved domain (a placeholder): set it to your newsletter's own address before"
            " sending over SMTP (the outbox takes it as it is)"
        )


def postal_address_warning(config: Config, transport: Transport) -> str | None:
    """Over SMTP, a warning while `newsletter.postal_address` is empty: CAN-SPAM asks for the
    sender's postal address in every commercial message (the footer shows it once set)."""
    if isinstance(transport, SMTPTransport) and not config.postal_address.strip():
        return (
            f"{config.path}: `newsletter.postal_address` is empty: set your postal address,"
            " which the footer of every issue shows (CAN-SPAM asks for one)"
        )
    return None


def check_list_exists(project: Project, list_name: str | None) -> None:
    """`--list NAME` must name a list: a file in subscribers/, one the store holds (web
    sign-ups), or one `[lists]` offers."""
    if list_name is None:
        return
    known = {*known_lists(project.subscribers_dir, project.store), *project.config.lists}
    if list_name not in known:
        names = ", ".join(sorted(known)) or "none yet"
        raise DigestError(f"--list {list_name}: no such list (the lists: {names})")


def check_list_choice(project: Project, list_name: str | None) -> None:
    """Where readers choose among lists (`[lists]` offers several), an issue goes to one list:
    a send to every list would mail each reader the issues of lists they did not choose."""
    offered = sorted(project.config.lists)
    if list_name is None and len(offered) > 1:
        raise DigestError(
            f"readers choose among the lists {', '.join(offered)} ([lists] in digest.toml): say"
            " which list this issue is for with --list NAME (`digest run`: [schedule] list),"
            " so nobody gets the issues of a list they did not choose"
        )


def is_sample_list(path: Path) -> bool:
    """The file is the sample `digest init` wrote, byte for byte (neither edited nor renamed)."""
    sample = data_path("subscribers") / f"{SAMPLE_LIST}.csv"
    try:
        return path.name == sample.name and path.read_bytes() == sample.read_bytes()
    except OSError:
        return False


def check_sample_list(project: Project, list_name: str | None, transport: Transport) -> None:
    """Never mail the sample list over SMTP: its readers are made up."""
    if not isinstance(transport, SMTPTransport) or list_name not in (None, SAMPLE_LIST):
        return
    path = list_files(project.subscribers_dir).get(SAMPLE_LIST)
    if path is not None and is_sample_list(path):
        raise DigestError(
            f"{path}: the sample list from `digest init` (made-up readers) is never mailed over"
            " SMTP: put your readers in it, or remove it with"
            f" `digest subscribers delete-list {SAMPLE_LIST}`"
            + ("" if list_name else ", or send one list with --list NAME")
        )


async def check_relay(transport: Transport) -> None:
    """Open one session with the relay (greeting, STARTTLS, login) before anything changes: a
    refused login or a missing password fails now, the issue as it was. A relay that is only
    unreachable for now is left to the send, which retries and keeps its rows for a resume.
    The session is kept for the send's first message."""
    if not isinstance(transport, SMTPTransport):
        return
    try:
        await transport.open()
        await transport.warm_up()
    except SMTPSetupError as exc:
        await transport.close()
        raise DigestError(f"{exc}; nothing was sent and the issue is as it was") from None


def check_before_send(project: Project, transport: Transport, list_name: str | None) -> None:
    """The checks that need no network, in the order an editor meets them."""
    check_list_exists(project, list_name)
    check_list_choice(project, list_name)
    check_sender(project.config, transport)
    check_sample_list(project, list_name, transport)
