"""Changes to the lists an editor asks for: import a file, add an address, remove one, forget a
person. Each rewrites the list files (digest.subscribers.files) and keeps the store in step."""

from __future__ import annotations

import mailbox
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.utils import getaddresses
from pathlib import Path

from digest.models import Subscriber
from digest.store import Store
from digest.subscribers.files import (
    ListFile,
    Record,
    RowProblem,
    list_files,
    open_for_change,
    read_list_file,
    refuse_if_unreadable,
    write_list,
)
from digest.subscribers.validation import (
    CLI_ORIGIN,
    DEFAULT_LIST,
    ListError,
    NotOnList,
    check_field,
    check_list_name,
    email_key,
    normalise_email,
)


@dataclass
class ImportReport:
    list_name: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    suppressed: list[str] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "list": self.list_name,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "duplicates": self.duplicates,
            "suppressed": len(self.suppressed),
            "bad_rows": len(self.problems),
        }


def _refused(store: Store, email: str, list_name: str) -> bool:
    """Whether the person said no: suppressed, or left this list on the preferences page."""
    return store.is_suppressed(email) or store.subscriber_status(email, list_name) == "unsubscribed"


def refusal(store: Store, email: str) -> str:
    """Why `_refused` refused an address, for a message."""
    reason = store.suppression_reason(email)
    if reason:
        return f"suppressed ({reason}); a suppression always wins"
    return "left this list on the preferences page; the person's own choice wins"


def merge_into_list(
    folder: Path, list_name: str, incoming: Iterable[Subscriber], store: Store
) -> ImportReport:
    """Add `incoming` to a list file: new addresses are appended, known ones take the incoming
    name and attributes. Suppressed addresses are not added: a suppression always wins; nor
    are those who left this list on the preferences page."""
    path, parsed = open_for_change(folder, list_name)
    report = ImportReport(list_name=list_name)
    by_key = {email_key(r.subscriber.email): r for r in parsed.records if r.subscriber}
    for subscriber in incoming:
        subscriber.list = list_name
        if _refused(store, subscriber.email, list_name):
            report.suppressed.append(subscriber.email)
            continue
        for key, value in [("name", subscriber.name), *subscriber.attributes.items()]:
            problem = check_field(key, value)
            if problem:
                raise ListError(f"{subscriber.email}: {problem}")
        record = by_key.get(email_key(subscriber.email))
        if record is None:
            record = Record(0, [], subscriber)
            parsed.records.append(record)
            by_key[email_key(subscriber.email)] = record
            parsed.set_cell(record, "email", subscriber.email)
            report.added += 1
        changes = dict(subscriber.attributes)
        if subscriber.name:  # a row without a name does not blank the name already there
            changes["name"] = subscriber.name
        changed = False
        for column, value in changes.items():
            if parsed.cell(record, column) != value:
                parsed.set_cell(record, column, value)
                changed = True
        if record.subscriber is not subscriber:
            if changed:
                report.updated += 1
            else:
                report.unchanged += 1
    if report.added or report.updated or not path.exists():
        write_list(path, parsed)
    return report


def import_file(
    source: Path, folder: Path, store: Store, list_name: str | None = None
) -> ImportReport:
    """Import a CSV file into a list (by default the list named after the file)."""
    name = check_list_name(list_name or source.stem)
    incoming = read_list_file(source)
    report = merge_into_list(folder, name, incoming.subscribers, store)
    report.duplicates = incoming.duplicates
    report.problems = incoming.problems
    return report


def add_subscriber(
    folder: Path,
    store: Store,
    email: str,
    *,
    name: str = "",
    list_name: str = DEFAULT_LIST,
    attributes: dict[str, str] | None = None,
    to_store: bool = False,
) -> ImportReport:
    """Add one subscriber to a list's file, or with `to_store` (a list that has no file: one
    only sign-ups or `[lists]` know) to the store, as a row no file owns (`origin` cli)."""
    subscriber = Subscriber(
        email=normalise_email(email),
        name=name.strip(),
        list=list_name,
        attributes=dict(attributes or {}),
    )
    if not to_store:
        return merge_into_list(folder, list_name, [subscriber], store)
    report = ImportReport(list_name=list_name)
    row = store.subscriptions(subscriber.email).get(list_name)
    if _refused(store, subscriber.email, list_name):
        report.suppressed.append(subscriber.email)
    elif row is None:
        store.subscribe(subscriber, origin=CLI_ORIGIN)
        report.added = 1
    elif (subscriber.name and subscriber.name != row.name) or row.status != "active":
        subscriber.name = subscriber.name or row.name
        store.subscribe(subscriber, origin=CLI_ORIGIN)
        report.updated = 1
    else:
        report.unchanged = 1
    return report


def _drop_address(folder: Path, email: str, list_name: str | None = None) -> dict[str, int]:
    """Remove every row of `email` (good or bad spelling-alike) from the lists; rows per list.
    Every list is checked before any is rewritten, so a list that cannot be changed leaves all
    of them as they were."""
    key = email_key(email)
    changes: list[tuple[Path, ListFile, list[Record]]] = []
    for name, path in list_files(folder).items():
        if list_name is not None and name != list_name:
            continue
        parsed = read_list_file(path)
        kept = [r for r in parsed.records if email_key(parsed.cell(r, "email")) != key]
        # a duplicate row of the address merged into its first row; match the parsed rows too
        kept = [r for r in kept if not (r.subscriber and email_key(r.subscriber.email) == key)]
        if parsed.unreadable and (
            len(kept) != len(parsed.records) or key in path.read_bytes().decode().lower()
        ):
            refuse_if_unreadable(path, parsed)  # the address may be on an unreadable row too
        if len(kept) != len(parsed.records):
            changes.append((path, parsed, kept))
    removed: dict[str, int] = {}
    for path, parsed, kept in changes:
        removed[path.stem] = len(parsed.records) - len(kept)
        parsed.records = kept
        write_list(path, parsed)
    return removed


def _lookup_spelling(email: str) -> str:
    """The normal form of a good address; a bad one as typed, so its row can still be found."""
    try:
        return normalise_email(email)
    except ListError:
        return email.strip()


def remove_subscriber(
    folder: Path, email: str, list_name: str | None = None, *, store: Store
) -> dict[str, int]:
    """Take an address off the lists, files and store (not a suppression: adding it back is
    allowed)."""
    email = _lookup_spelling(email)
    removed = _drop_address(folder, email, list_name)
    for name, rows in store.remove_subscriber(email, list_name).items():
        removed.setdefault(name, rows)
    if not removed:
        where = f"list {list_name!r}" if list_name else "any list"
        raise NotOnList(f"{email}: not on {where}")
    return removed


@dataclass
class ForgetReport:
    list_rows: int = 0
    send_rows: int = 0
    outbox_messages: int = 0
    reason: str = "unsubscribed"


def forget(folder: Path, store: Store, email: str, *, outbox: Path | None = None) -> ForgetReport:
    """Erase a person: list rows, send rows, outbox copies and the plain address of their
    suppression. What remains is a hash of the address, so that no import brings them back."""
    email = _lookup_spelling(email)
    report = ForgetReport()
    report.list_rows = sum(_drop_address(folder, email).values())
    report.send_rows, report.reason = store.forget(email)
    if outbox is not None and outbox.is_dir():
        report.outbox_messages = _drop_outbox_copies(outbox, email)
    return report


def _drop_outbox_copies(outbox: Path, email: str) -> int:
    key = email_key(email)
    box = mailbox.Maildir(outbox, create=False)
    doomed = []
    for message_key, message in box.iteritems():
        recipients = getaddresses(message.get_all("To", []) + message.get_all("Cc", []))
        if any(email_key(address) == key for _, address in recipients):
            doomed.append(message_key)
    for message_key in doomed:
        box.discard(message_key)
    return len(doomed)
