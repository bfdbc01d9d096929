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

Every message is recognised within `guard.py`'s limits; one it refuses is quarantined (moved
aside, named with its Message-ID) and the rest of the mailbox goes on. The verdict on a message
quarantined or not recognised is kept by a hash of its bytes (`bounce_messages`), so none is
parsed twice. The Message-IDs of an issue stored before they were keyed per issue are proof only
within LEGACY_MESSAGE_ID_DAYS of its send.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from digest.bounces.guard import BUDGET_SECONDS, Refused, fingerprint
from digest.bounces.recognise import Recognised, recognise_within
from digest.bounces.source_api import BounceSource, BounceSourceError, Item
from digest.bounces.sources import open_source
from digest.errors import EXIT_OK, EXIT_PARTIAL
from digest.message import message_id, one_line
from digest.store.timeutil import now_utc
from digest.tokens import BadToken, bounce_token_issue, make_bounce_token, read_unsubscribe_token
from digest.wording import plural

if TYPE_CHECKING:
    from digest.project import Project
    from digest.store import Store

_MESSAGE_ID = re.compile(r"^<digest\.(\d{1,10})\.[0-9a-f]{32}@([^<>\s]+)>$")
# an issue sent before Message-IDs were keyed per issue (`issues.message_id_key` = ''): its
# Message-IDs can be computed by brute force, so one quoted in a report proves whose it is only
# this long after the issue's send began (docs/subscribers.md)
LEGACY_MESSAGE_ID_DAYS = 14
# what is remembered of a message not acted on is dropped once it has not been seen this long
FORGET_AFTER_DAYS = 90


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
    quarantined: list[str] = field(default_factory=list)  # refused: moved aside for a person

    @property
    def suppressed(self) -> int:
        return sum(1 for outcome in self.outcomes if outcome.action == "suppressed")

    @property
    def exit_code(self) -> int:
        return EXIT_PARTIAL if self.left or self.quarantined else EXIT_OK

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
        if self.quarantined:
            line += f"; {len(self.quarantined)} quarantined (could not be parsed safely)"
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
            "quarantined": self.quarantined,
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
        self.expired: set[int] = set()  # unkeyed issues whose Message-IDs prove nothing now

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
                if issue.message_id_key or self._legacy_still_proves(issue_id):
                    for email in self.store.issue_recipients(issue_id):
                        index[message_id(issue, email, domain)] = email
            self._message_ids[(issue_id, domain)] = index
        found = self._message_ids[(issue_id, domain)].get(value)
        return (found, issue_id) if found else None

    def _legacy_still_proves(self, issue_id: int) -> bool:
        """Whether an unkeyed issue's Message-IDs still prove anything: only within
        LEGACY_MESSAGE_ID_DAYS of its send (when genuine reports about it arrive)."""
        started, finished = self.store.issue_send_times(issue_id)
        sent = started or finished
        if sent is None or now_utc() - sent > timedelta(days=LEGACY_MESSAGE_ID_DAYS):
            self.expired.add(issue_id)
            return False
        return True

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
    seconds: float = BUDGET_SECONDS,
) -> BounceReport:
    """Read every message of `source`, apply what it says, and move what was handled; a message
    that cannot be parsed safely within `seconds` is quarantined, and none is parsed twice."""
    from digest.tokens import load_verification_secrets

    config = project.config
    secrets = load_verification_secrets(project.state_dir, config.secret, config.previous_secrets)
    resolver = Resolver(project.store, secrets, trust_addresses=config.bounces_trust_addresses)
    reading = _Reading(project, source, resolver, BounceReport(source.description), on_left)
    for item in source:
        reading.report.read += 1
        reading.one(item, seconds)
    for problem in source.problems:
        reading.leave(problem)
    project.store.forget_old_messages(FORGET_AFTER_DAYS)
    return reading.report


@dataclass
class _Reading:
    project: Project
    source: BounceSource
    resolver: Resolver
    report: BounceReport
    on_left: Callable[[str], None] | None

    def one(self, item: Item, seconds: float) -> None:
        if item.error or not item.data:
            self.leave(f"{item.name}: cannot be read ({item.error or 'empty'})")
            return
        store = self.project.store
        mark = fingerprint(item.data, whole=item.whole)
        if remembered := store.message_verdict(mark.digest):
            verdict, detail = remembered
            if verdict == "quarantined":
                self.quarantine(item, mark.message_id, detail)
            else:
                self.leave(f"{item.name}: {detail} (as when first read; not parsed again)")
            return
        try:
            found = recognise_within(
                item.data, self.project.config.bounce_address, whole=item.whole, seconds=seconds
            )
        except Refused as refused:
            store.remember_message(mark.digest, "quarantined", refused.reason, mark.message_id)
            self.quarantine(item, mark.message_id, refused.reason)
            return
        if found.kind == "unknown":
            store.remember_message(mark.digest, "unknown", found.detail, mark.message_id)
            self.leave(f"{item.name}: {found.detail}")
            return
        self.apply(item, found)

    def apply(self, item: Item, found: Recognised) -> None:
        if found.kind == "ignored":
            self.report.kinds["ignored"] += 1
            self.source.done(item)
            return
        targets = self.resolver.targets(found)
        if not targets:
            if found.kind == "unsubscribe":
                self.leave(f"{item.name}: an unsubscribe request without our token")
                return
            if readers := [address for address, _ in self.resolver.named(found)]:
                self.leave(
                    f"{item.name}: a {found.kind} naming {one_line(', '.join(readers[:3]), 200)}"
                    f" with nothing of ours in it (no VERP token, Message-ID or signed link"
                    f"{self._expired(found)}), so it may be forged (`bounces.trust_addresses`"
                    " accepts such reports)"
                )
                return
            named = one_line(", ".join(found.addresses[:3]), 200) or "no address"
            self.report.unmatched.append(f"{item.name}: a {found.kind} about {named}")
        for target in targets:
            self.report.kinds[target.kind] += 1
            self.report.outcomes.append(
                apply_target(
                    self.project.store,
                    target,
                    found.key,
                    item.name,
                    self.project.config.bounce_limit,
                )
            )
        self.source.done(item)

    def _expired(self, found: Recognised) -> str:
        issues = sorted(
            int(match.group(1))
            for value in found.message_ids
            if (match := _MESSAGE_ID.match(value)) and int(match.group(1)) in self.resolver.expired
        )
        if not issues:
            return ""
        return (
            f"; the Message-ID of issue {issues[0]} it quotes is no proof more than"
            f" {LEGACY_MESSAGE_ID_DAYS} days after that issue's send, since it was not keyed"
        )

    def quarantine(self, item: Item, message_id: str, reason: str) -> None:
        line = f"{self.report.source}: {item.name} (Message-ID {message_id or 'none'}): {reason}"
        try:
            self.source.quarantine(item)
            line += f"; quarantined in {self.source.quarantine_name}"
        except BounceSourceError as exc:
            line += f"; left in place, not read again (cannot quarantine it: {exc})"
        self.report.quarantined.append(line)
        if self.on_left is not None:
            self.on_left(line)

    def leave(self, line: str) -> None:
        if not line.startswith(f"{self.report.source}: "):
            line = f"{self.report.source}: {line}"
        line += "; left in place"
        self.report.left.append(line)
        if self.on_left is not None:
            self.on_left(line)


def process_bounces(
    project: Project,
    spec: str | None = None,
    *,
    allow_plaintext: bool = False,
    on_left: Callable[[str], None] | None = None,
    seconds: float = BUDGET_SECONDS,
) -> BounceReport:
    """`digest bounces SOURCE`: SOURCE, or `[bounces] source`."""
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
        return process_source(project, source, on_left=on_left, seconds=seconds)
