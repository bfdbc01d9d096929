"""Reports read from the bounce mailbox → whose they are → suppressions and soft-bounce counts.

Whose a report is, most certain first: the VERP token of the address it was sent back to (or the
original's Return-Path), the quoted original's Message-ID, the signed unsubscribe token in the
original's List-Unsubscribe (or an unsubscribe request's subject). Without any of these, only
`bounces.trust_addresses` lets the addresses the report names (matched against the people we
mail) decide: anybody can mail the bounce address a report naming anybody. Hard bounces and
complaints suppress at once (`bounced`, `complained`), unsubscribe requests as `unsubscribed`,
and a soft bounce counts for its issue toward `subscribers.bounce_limit` (with the permanent
failures of our own SMTP sessions, `Store.consecutive_failures`). An address already
suppressed keeps its reason. Each report × address is recorded once (`bounces`), so a report
read again counts nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from digest.bounces.recognise import Recognised, recognise
from digest.bounces.sources import BounceSource, open_source
from digest.errors import EXIT_OK, EXIT_PARTIAL
from digest.message import message_id, one_line
from digest.tokens import BadToken, bounce_token_issue, make_bounce_token, read_unsubscribe_token
from digest.wording import plural

if TYPE_CHECKING:
    from digest.project import Project
    from digest.store import Store

_MESSAGE_ID = re.compile(r"^<digest\.(\d{1,10})\.[0-9a-f]{32}@([^<>\s]+)>$")


@dataclass(frozen=True)
class Target:
    """One subscriber a report is about, and what it says of them."""

    email: str
    issue_id: int | None
    kind: str  # hard | soft | complaint | unsubscribe
    detail: str
    list_name: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What became of one address of one report."""

    message: str  # the report's name in its mailbox
    email: str
    kind: str
    action: str  # suppressed | counted | already-suppressed | already-counted
    detail: str

    def to_json(self) -> dict[str, str]:
        return {
            "message": self.message,
            "email": self.email,
            "kind": self.kind,
            "action": self.action,
            "detail": self.detail,
        }


@dataclass
class BounceReport:
    source: str
    read: int = 0
    kinds: Counter[str] = field(default_factory=Counter)  # bounce, complaint, … per message
    outcomes: list[Outcome] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)  # recognised, but about nobody we mail
    left: list[str] = field(default_factory=list)  # unrecognised or unreadable: still there

    @property
    def suppressed(self) -> int:
        return sum(1 for outcome in self.outcomes if outcome.action == "suppressed")

    @property
    def exit_code(self) -> int:
        return EXIT_PARTIAL if self.left else EXIT_OK

    def summary(self) -> str:
        handled = [
            plural(self.kinds[kind], noun)
            for kind, noun in (
                ("hard", "hard bounce"),
                ("soft", "soft bounce"),
                ("complaint", "complaint"),
                ("unsubscribe", "unsubscribe request"),
                ("ignored", "ignored notice"),
            )
            if self.kinds[kind]
        ]
        counted = sum(1 for outcome in self.outcomes if outcome.action == "counted")
        line = f"{self.source}: read {plural(self.read, 'message')}"
        line += f" ({', '.join(handled)})" if handled else ""
        line += f"; suppressed {plural(self.suppressed, 'address', 'addresses')}"
        line += f", {counted} soft {'bounce' if counted == 1 else 'bounces'} counted"
        if self.unmatched:
            line += f"; {len(self.unmatched)} about nobody we mail"
        if self.left:
            line += f"; {len(self.left)} left in place (not recognised or unreadable)"
        return line

    def to_json(self) -> dict[str, object]:
        return {
            "source": self.source,
            "read": self.read,
            **{kind: self.kinds[kind] for kind in ("hard", "soft", "complaint", "unsubscribe")},
            "ignored": self.kinds["ignored"],
            "suppressed": self.suppressed,
            "outcomes": [outcome.to_json() for outcome in self.outcomes],
            "unmatched": self.unmatched,
            "left": self.left,
        }


class Resolver:
    """Whose a report is, from its clues; each issue's tokens and Message-IDs are computed once
    per run, over that issue's recipients (so a token carries no address)."""

    def __init__(self, store: Store, secrets: list[bytes], *, trust_addresses: bool) -> None:
        self.store = store
        self.secrets = secrets
        self.trust_addresses = trust_addresses
        self._tokens: dict[int, dict[str, str]] = {}
        self._message_ids: dict[tuple[int, str], dict[str, str]] = {}

    def by_token(self, token: str) -> tuple[str, int] | None:
        issue_id = bounce_token_issue(token)
        if issue_id is None:
            return None
        if issue_id not in self._tokens:
            self._tokens[issue_id] = {
                make_bounce_token(key, issue_id, email): email
                for email in self.store.issue_recipients(issue_id)
                for key in self.secrets
            }
        email = self._tokens[issue_id].get(token.lower())
        return (email, issue_id) if email else None

    def by_message_id(self, value: str) -> tuple[str, int] | None:
        match = _MESSAGE_ID.match(value)
        if match is None:
            return None
        issue_id, domain = int(match.group(1)), match.group(2)
        if (issue_id, domain) not in self._message_ids:
            index: dict[str, str] = {}
            if self.store.has_recipients(issue_id):
                issue = self.store.issue(issue_id)
                for email in self.store.issue_recipients(issue_id):
                    index[message_id(issue, email, domain)] = email
            self._message_ids[(issue_id, domain)] = index
        found = self._message_ids[(issue_id, domain)].get(value)
        return (found, issue_id) if found else None

    def by_list_token(self, token: str) -> tuple[str, str] | None:
        try:
            return read_unsubscribe_token(self.secrets, token)
        except BadToken:
            return None

    def by_address(self, address: str) -> tuple[str, int | None] | None:
        return self.store.known_recipient(address)

    def targets(self, found: Recognised) -> list[Target]:
        """The subscribers `found` is about, with what it says of each (nobody: [])."""
        # a bounce's kind (hard or soft) is its failure's, chosen per address in _target
        kind = "complaint" if found.kind == "complaint" else "unsubscribe"
        for token in found.tokens:
            if hit := self.by_token(token):
                return [self._target(found, kind, hit[0], hit[1], None)]
        for value in found.message_ids:
            if hit := self.by_message_id(value):
                return [self._target(found, kind, hit[0], hit[1], None)]
        for token in found.list_tokens:
            if named := self.by_list_token(token):
                known = self.by_address(named[0])
                issue_id = known[1] if known else None
                return [self._target(found, kind, named[0], issue_id, named[1])]
        if found.kind == "unsubscribe" or not self.trust_addresses:
            return []  # nothing of ours in it: anybody can write an address into a report
        return [
            self._target(found, kind, known[0], known[1], None, address)
            for address, known in self.named(found)
        ]

    def named(self, found: Recognised) -> list[tuple[str, tuple[str, int | None]]]:
        """The addresses a report names that are people we mail, with what the store knows."""
        return [
            (address, known)
            for address in dict.fromkeys(a.lower() for a in found.addresses)
            if (known := self.by_address(address))
        ]

    @staticmethod
    def _target(
        found: Recognised,
        kind: str,
        email: str,
        issue_id: int | None,
        list_name: str | None,
        reported: str | None = None,
    ) -> Target:
        if found.kind != "bounce":
            return Target(email, issue_id, kind, found.detail, list_name)
        # the failure reported for this address; for a token's address, the gravest one
        mine = [f for f in found.failures if f.address.lower() == (reported or email).lower()]
        failures = mine or sorted(found.failures, key=lambda f: f.severity != "hard")
        failure = failures[0]
        return Target(email, issue_id, failure.severity, failure.detail, list_name)


REASONS = {"hard": "bounced", "complaint": "complained", "unsubscribe": "unsubscribed"}


def apply_target(
    store: Store, target: Target, message_key: str, message_name: str, bounce_limit: int
) -> Outcome:
    def outcome(action: str, detail: str = target.detail) -> Outcome:
        return Outcome(message_name, target.email, target.kind, action, detail)

    added = store.record_bounce(
        message_key, target.email, target.issue_id, target.kind, target.detail
    )
    if not added:
        return outcome("already-counted")
    if store.is_suppressed(target.email):
        return outcome("already-suppressed")
    if target.kind == "soft":
        failures = store.consecutive_failures(target.email)
        if failures < bounce_limit:
            return outcome("counted", f"{failures} of {bounce_limit}: {target.detail}")
        detail = f"{failures} failed issues in a row, the last a soft bounce: {target.detail}"
        store.suppress(target.email, "bounced", list_name=target.list_name, detail=detail)
        return outcome("suppressed", detail)
    store.suppress(
        target.email, REASONS[target.kind], list_name=target.list_name, detail=target.detail
    )
    return outcome("suppressed")


def process_source(
    project: Project,
    source: BounceSource,
    *,
    on_left: Callable[[str], None] | None = None,
) -> BounceReport:
    """Read every message of `source`, apply what it says, and move what was handled."""
    from digest.tokens import load_verification_secrets

    config = project.config
    secrets = load_verification_secrets(project.state_dir, config.secret, config.previous_secrets)
    resolver = Resolver(project.store, secrets, trust_addresses=config.bounces_trust_addresses)
    report = BounceReport(source=source.description)
    for item in source:
        report.read += 1
        if item.error or not item.data:
            _leave(report, on_left, f"{item.name}: cannot be read ({item.error or 'empty'})")
            continue
        found = recognise(item.data, config.bounce_address)
        if found.kind == "unknown":
            _leave(report, on_left, f"{item.name}: {found.detail}")
            continue
        if found.kind == "ignored":
            report.kinds["ignored"] += 1
            source.done(item)
            continue
        targets = resolver.targets(found)
        if not targets:
            if found.kind == "unsubscribe":
                _leave(report, on_left, f"{item.name}: an unsubscribe request without our token")
                continue
            if readers := [address for address, _ in resolver.named(found)]:
                _leave(
                    report,
                    on_left,
                    f"{item.name}: a {found.kind} naming {one_line(', '.join(readers[:3]), 200)}"
                    " with nothing of ours in it (no VERP token, Message-ID or signed link), so"
                    " it may be forged (`bounces.trust_addresses` accepts such reports)",
                )
                continue
            named = ", ".join(found.addresses[:3]) or "no address"
            report.unmatched.append(f"{item.name}: a {found.kind} about {one_line(named, 200)}")
        for target in targets:
            report.kinds[target.kind] += 1
            report.outcomes.append(
                apply_target(project.store, target, found.key, item.name, config.bounce_limit)
            )
        source.done(item)
    return report


def _leave(report: BounceReport, on_left: Callable[[str], None] | None, line: str) -> None:
    line = f"{report.source}: {line}; left in place"
    report.left.append(line)
    if on_left is not None:
        on_left(line)


def process_bounces(
    project: Project,
    spec: str | None = None,
    *,
    allow_plaintext: bool = False,
    on_left: Callable[[str], None] | None = None,
) -> BounceReport:
    """`digest bounces SOURCE`: SOURCE, or `[bounces] source`."""
    from digest.bounces.sources import BounceSourceError

    config = project.config
    spec = spec or config.bounces_source
    if not spec:
        raise BounceSourceError(
            "no bounce mailbox: give one (a Maildir folder, an mbox file or"
            " imaps://user@host/MAILBOX), or set `bounces.source` in digest.toml"
        )
    with open_source(
        spec,
        base=project.root,
        allow_plaintext=allow_plaintext or config.bounces_allow_plaintext,
        ca_file=config.ca_file,
        timeout=config.timeout,
    ) as source:
        return process_source(project, source, on_left=on_left)
