"""What a list accepts: addresses (email-validator's normal form), list names, and field values
that could reach a header; the errors a list raises."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from email_validator import EmailNotValidError, validate_email

from digest.config import LIST_NAME
from digest.errors import DigestError

if TYPE_CHECKING:
    from dns.resolver import Resolver

DEFAULT_LIST = "default"
CLI_ORIGIN = "cli"  # a store row `digest subscribers add` made for a list that has no file
# every status a subscriber can be shown with: the row's own, or a suppression's reason
STATUSES = ("active", "pending", "unsubscribed", "bounced", "complained")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x85]")


class ListError(DigestError):
    """A list file that cannot be read at all, or an unknown list or address."""


class NotOnList(DigestError):
    """The address is on no list: nothing was done, but the command was well formed."""

    exit_code = 1


def email_key(email: str) -> str:
    """The spelling two addresses are compared by (and suppressions are hashed from)."""
    return email.strip().lower()


_test_domains = False


def allow_test_domains(enabled: bool) -> None:
    """Accept addresses at the reserved `.test` domain (`subscribers.allow_test_domains`, set
    when a project is opened): a test deployment's lists, never a real one's."""
    global _test_domains
    _test_domains = enabled


def normalise_email(raw: str, resolver: Resolver | None = None) -> str:
    """The address in email-validator's normal form; ListError with the reason if it is bad.

    Syntax only, unless a `resolver` is given (`subscribers.check_dns`, web sign-ups): then the
    domain must exist and accept mail too. Imports never look anything up, so they work offline
    and do not stall on slow resolvers."""
    raw = raw.strip()
    if not raw:
        raise ListError("no email address")
    try:
        return validate_email(
            raw,
            check_deliverability=resolver is not None,
            dns_resolver=resolver,
            test_environment=_test_domains,
        ).normalized
    except EmailNotValidError as exc:
        raise ListError(f"{raw!r} is not a valid email address: {exc}") from None


def check_list_name(name: str) -> str:
    if not LIST_NAME.match(name):
        raise ListError(
            f"{name!r}: a list name is letters, digits, '.', '_' or '-' (it names a CSV file)"
        )
    return name


# -- reading ------------------------------------------------------------------------------------


def check_field(name: str, value: str) -> str | None:
    if _LINE_BREAKS.search(value):
        return f"{name} holds a line break (refused: it could reach an email header)"
    return None
