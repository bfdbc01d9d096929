"""Subscriber lists: `subscribers/*.csv`, one file per list, header `email,name` plus any columns.

Editors edit these files by hand, so reading is forgiving about the dialect (a BOM, `;` or tab
delimiters, quoted fields) and strict about the data: every bad row is reported with its line
number and the reason, and skipped; nothing else is lost. Rewriting a list (import, add, remove,
forget) keeps every row it does not mean to change, bad rows included, so an editor can still fix
them. Suppressions (unsubscribed, bounced, complained) live in the store and always win over the
files.

The files are the editor-facing side: subscribers live in the store (digest.store.subscribers),
where `sync_lists` applies each file whose bytes changed since it was last synced, and where
senders and the web side read and write them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import mailbox
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from email.utils import getaddresses
from pathlib import Path
from typing import TYPE_CHECKING

from email_validator import EmailNotValidError, validate_email

from digest.config import LIST_NAME
from digest.errors import DigestError
from digest.models import Subscriber
from digest.store import Store
from digest.wording import plural

if TYPE_CHECKING:
    from dns.resolver import Resolver

DEFAULT_LIST = "default"
CLI_ORIGIN = "cli"  # a store row `digest subscribers add` made for a list that has no file
# every status a subscriber can be shown with: the row's own, or a suppression's reason
STATUSES = ("active", "pending", "unsubscribed", "bounced", "complained")
_DELIMITERS = ",;\t|"
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x85]")

log = logging.getLogger(__name__)


class ListError(DigestError):
    """A list file that cannot be read at all, or an unknown list or address."""


class NotOnList(DigestError):
    """The address is on no list: nothing was done, but the command was well formed."""

    exit_code = 1


@dataclass
class RowProblem:
    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"


@dataclass
class _Record:
    """One data row of a list file as written, and what it parses to (None if it is bad)."""

    line: int
    cells: list[str]  # as written, aligned with the header; a bad row may have more
    subscriber: Subscriber | None


@dataclass
class ListFile:
    """A parsed list: the header, every row (good or bad) in order, and the problems found."""

    name: str
    fields: list[str]
    delimiter: str = ","
    records: list[_Record] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)  # every bad row, unreadable too
    # rows the CSV reader could not read (an unbalanced quote): rewriting the file would lose or
    # mangle them, so a list with any is never rewritten
    unreadable: list[RowProblem] = field(default_factory=list)
    duplicates: int = 0

    @property
    def subscribers(self) -> list[Subscriber]:
        return [r.subscriber for r in self.records if r.subscriber is not None]

    def cell(self, record: _Record, column: str) -> str:
        index = self.fields.index(column) if column in self.fields else len(record.cells)
        return record.cells[index] if index < len(record.cells) else ""

    def set_cell(self, record: _Record, column: str, value: str) -> None:
        if column not in self.fields:
            width = len(self.fields)
            self.fields.append(column)
            for other in self.records:
                if len(other.cells) > width:  # a bad, over-long row keeps its extra cells last
                    other.cells.insert(width, "")
        index = self.fields.index(column)
        record.cells.extend([""] * (index + 1 - len(record.cells)))
        record.cells[index] = value


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


def _sniff_delimiter(text: str) -> str:
    header = text.split("\n", 1)[0]
    try:
        delimiter = csv.Sniffer().sniff(text[:8192], delimiters=_DELIMITERS).delimiter
    except csv.Error:
        delimiter = ","
    # The sniffer guesses from the whole sample; the header must name `email` with it, else fall
    # back to the delimiter the header itself uses most.
    if "email" not in [h.strip().lower() for h in header.split(delimiter)]:
        delimiter = max(_DELIMITERS, key=header.count)
    return delimiter


def _check_field(name: str, value: str) -> str | None:
    if _LINE_BREAKS.search(value):
        return f"{name} holds a line break (refused: it could reach an email header)"
    return None


class _Lines:
    """The physical lines of a file, fed to one csv reader; `rewind` re-reads from a line, so
    that a row the reader could not make sense of costs that row only."""

    def __init__(self, text: str) -> None:
        # csv's own idea of a line end: \n, \r or \r\n, and nothing else (not U+2028)
        self.lines = list(io.StringIO(text, newline=""))
        self.next = 0  # index of the next line to hand out

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self.next >= len(self.lines):
            raise StopIteration
        self.next += 1
        return self.lines[self.next - 1]

    def rewind(self, index: int) -> None:
        self.next = index


def parse_list(text: str, *, list_name: str, source: str) -> ListFile:
    """Parse the text of a list file. A missing `email` column is a ListError; a bad row is a
    RowProblem and the row is kept aside, unparsed; a row the CSV reader cannot read (an
    unbalanced quote) is an unreadable RowProblem, and reading goes on at the next line."""
    text = text.removeprefix("\ufeff")
    if not text.strip():
        return ListFile(name=list_name, fields=["email", "name"])
    delimiter = _sniff_delimiter(text)
    lines = _Lines(text)
    # strict: a quote left open at the end of the file is an error, not a field that silently
    # swallowed every row after it
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    try:
        raw_header = next(reader)
    except (csv.Error, StopIteration) as exc:
        raise ListError(f"{source}:1: unreadable header: {exc}") from None
    if lines.next > 1:
        raise ListError(f"{source}:1: unreadable header: a quoted name runs past the line end")
    fields = [h.strip() for h in raw_header]
    lowered = [f.lower() for f in fields]
    if "email" not in lowered:
        raise ListError(f"{source}:1: no `email` column in the header ({delimiter!r} delimited)")
    # `Email` and `NAME` are the same columns; the rest keep the editor's spelling.
    fields = [f.lower() if f.lower() in ("email", "name") else f for f in fields]
    dupes = {f for f in fields if f and fields.count(f) > 1}
    if dupes:
        raise ListError(f"{source}:1: repeated column(s) {', '.join(sorted(dupes))}")
    parsed = ListFile(name=list_name, fields=fields, delimiter=delimiter)
    seen: dict[str, Subscriber] = {}
    while True:
        start = lines.next  # index of the row's first line; its line number is start + 1
        error = ""
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            error = str(exc)
        spanned = lines.lines[start + 1 : lines.next]
        if error or (spanned and _swallows_rows(spanned, fields, delimiter)):
            unreadable = _unreadable_reason(error, 1 + len(spanned))
            parsed.unreadable.append(RowProblem(source, start + 1, unreadable))
            lines.rewind(start + 1)  # read on from the next line, as if this one were not there
            continue
        if not any(cell.strip() for cell in row):
            continue
        subscriber, reason = _row_subscriber(fields, row, list_name)
        if reason:
            parsed.problems.append(RowProblem(source, start + 1, reason))
        elif subscriber is not None:
            key = email_key(subscriber.email)
            first = seen.get(key)
            if first is not None:
                _merge(first, subscriber)
                parsed.duplicates += 1
                subscriber = None  # the row stays in the file; its data lives in the first
            else:
                seen[key] = subscriber
        parsed.records.append(_Record(start + 1, list(row), subscriber))
    if parsed.unreadable:
        parsed.problems = sorted(parsed.problems + parsed.unreadable, key=lambda p: p.line)
    return parsed


def _unreadable_reason(error: str, lines_read: int) -> str:
    if lines_read > 1 or "end of data" in error:
        return (
            "unreadable row: a quoted field opened on this line is not closed on it "
            "(unbalanced '\"')"
        )
    return f"unreadable row: {error}"


def _swallows_rows(continuation: list[str], fields: list[str], delimiter: str) -> bool:
    """Whether the lines a quoted field ran over would, each on its own, be a row with a good
    address: then the quote was left open by mistake, not a line break meant inside a name."""
    for line in continuation:
        try:
            row = next(csv.reader([line], delimiter=delimiter, strict=True), [])
        except csv.Error:
            continue
        subscriber, _ = _row_subscriber(fields, row, "")
        if subscriber is not None:
            return True
    return False


def _row_subscriber(
    fields: list[str], row: list[str], list_name: str
) -> tuple[Subscriber | None, str | None]:
    extra = [cell for cell in row[len(fields) :] if cell.strip()]
    if extra:
        return None, (
            f"{len(row)} fields but the header has {len(fields)} "
            "(a name with the delimiter in it must be quoted)"
        )
    values = {f: v for f, v in zip(fields, row, strict=False) if f}
    try:
        email = normalise_email(values.pop("email", ""))
    except ListError as exc:
        return None, str(exc)
    name = values.pop("name", "").strip()
    for key, value in [("name", name), *values.items()]:
        problem = _check_field(key, value)
        if problem:
            return None, problem
    attributes = {k: v.strip() for k, v in values.items() if v.strip()}
    return Subscriber(email=email, name=name, list=list_name, attributes=attributes), None


def _merge(into: Subscriber, other: Subscriber) -> None:
    """A duplicate fills in what the first row left empty; it never overrides it."""
    if not into.name:
        into.name = other.name
    for key, value in other.attributes.items():
        into.attributes.setdefault(key, value)


def _read_list_bytes(path: Path) -> tuple[bytes, ListFile]:
    """A list file as read (its bytes fingerprint it) and parsed."""
    try:
        data = path.read_bytes()
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ListError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise ListError(f"{path}: cannot read: {exc.strerror}") from None
    return data, parse_list(text, list_name=path.stem, source=str(path))


def read_list_file(path: Path) -> ListFile:
    return _read_list_bytes(path)[1]


def list_files(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.glob("*.csv"))}


def read_list(path: Path) -> Iterator[Subscriber]:
    """The good, de-duplicated subscribers of one list file (bad rows are skipped)."""
    yield from read_list_file(path).subscribers


def log_problem(problem: RowProblem) -> None:
    """What readers do with a bad row when the caller says nothing: a warning in the log, which
    Python prints on stderr when nothing else is set up, so that nobody is skipped silently."""
    log.warning("skipped %s", problem)


def sync_lists(
    folder: Path,
    store: Store,
    list_name: str | None = None,
    *,
    on_problem: Callable[[RowProblem], None] | None = None,
) -> list[str]:
    """Bring the list files (or one) into the store, which senders and the web read: a file
    whose bytes changed since it was last synced is applied (its name and attributes win for
    the addresses it lists; rows it brought in and no longer lists leave, unless it has bad rows
    that may be them). The first run on an older project moves every list in. Each bad row goes
    to `on_problem` (by default, a warning in the log). Returns the lists that were written."""
    on_problem = on_problem or log_problem
    synced = []
    for name, path in list_files(folder).items():
        if list_name is not None and name != list_name:
            continue
        data, parsed = _read_list_bytes(path)
        for problem in parsed.problems:
            on_problem(problem)
        fingerprint = hashlib.sha256(data).hexdigest()
        if store.list_fingerprint(name) != fingerprint and store.sync_list(
            name, fingerprint, parsed.subscribers, drop_missing=not parsed.problems
        ):
            synced.append(name)
    return synced


def known_lists(folder: Path, store: Store) -> list[str]:
    """Every list: those with a file and those only the store holds."""
    return sorted({*list_files(folder), *store.subscriber_lists()})


def iter_subscribers(
    folder: Path,
    list_name: str | None = None,
    *,
    store: Store,
    on_problem: Callable[[RowProblem], None] | None = None,
    suppressed: bool = False,
) -> Iterator[Subscriber]:
    """Everyone to send to, from the store once the files are synced in: each address once,
    even if it is on several lists (the first list in name order wins). Suppressed addresses
    are left out, unless `suppressed` (then their status is the reason)."""
    sync_lists(folder, store, list_name, on_problem=on_problem)
    yield from store.active_subscribers(list_name, suppressed=suppressed)


def all_subscribers(
    folder: Path,
    store: Store,
    list_name: str | None = None,
    *,
    on_problem: Callable[[RowProblem], None] | None = None,
    status: str | None = None,
    configured: Iterable[str] = (),
) -> list[Subscriber]:
    """Every subscriber of every list (or one list) with its status (or only those of
    `status`), per list, for listing and export. Unlike `iter_subscribers`, an address on two
    lists appears on both. Each bad row goes to `on_problem` (by default, a warning in the
    log)."""
    if status is not None and status not in STATUSES:
        raise ListError(f"--status {status}: no such status (one of {', '.join(STATUSES)})")
    sync_lists(folder, store, list_name, on_problem=on_problem)
    if list_name is not None and list_name not in [*known_lists(folder, store), *configured]:
        raise ListError(f"no list named {list_name!r} in {folder}")
    return list(store.subscribers(list_name, status=status))


# -- writing ------------------------------------------------------------------------------------


def _refuse_if_unreadable(path: Path, parsed: ListFile) -> None:
    """A list with rows the reader could not read is never rewritten: the rewrite would drop or
    mangle the people on and after them."""
    if parsed.unreadable:
        first = parsed.unreadable[0]
        more = len(parsed.unreadable) - 1
        also = f" (and {plural(more, 'more unreadable row')})" if more else ""
        raise ListError(
            f"{path}:{first.line}: {first.reason}{also}; fix it by hand first (a list that "
            "cannot be read to the end is never rewritten: nothing was changed)"
        )


def _write_list(path: Path, parsed: ListFile) -> None:
    """Write the header and every record back, atomically: a crash leaves the old file or the
    new one, never half of one."""
    _refuse_if_unreadable(path, parsed)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=parsed.delimiter, lineterminator="\n")
    writer.writerow(parsed.fields)
    for record in parsed.records:
        writer.writerow(record.cells + [""] * (len(parsed.fields) - len(record.cells)))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ListError(f"{path}: cannot write: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(buffer.getvalue())
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise ListError(f"{path}: cannot write: {exc.strerror}") from None
        raise


def _open_for_change(folder: Path, list_name: str) -> tuple[Path, ListFile]:
    path = folder / f"{check_list_name(list_name)}.csv"
    if path.exists():
        parsed = read_list_file(path)
        _refuse_if_unreadable(path, parsed)
        return path, parsed
    return path, ListFile(name=list_name, fields=["email", "name"])


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
    path, parsed = _open_for_change(folder, list_name)
    report = ImportReport(list_name=list_name)
    by_key = {email_key(r.subscriber.email): r for r in parsed.records if r.subscriber}
    for subscriber in incoming:
        subscriber.list = list_name
        if _refused(store, subscriber.email, list_name):
            report.suppressed.append(subscriber.email)
            continue
        for key, value in [("name", subscriber.name), *subscriber.attributes.items()]:
            problem = _check_field(key, value)
            if problem:
                raise ListError(f"{subscriber.email}: {problem}")
        record = by_key.get(email_key(subscriber.email))
        if record is None:
            record = _Record(0, [], subscriber)
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
        _write_list(path, parsed)
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
    changes: list[tuple[Path, ListFile, list[_Record]]] = []
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
            _refuse_if_unreadable(path, parsed)  # the address may be on an unreadable row too
        if len(kept) != len(parsed.records):
            changes.append((path, parsed, kept))
    removed: dict[str, int] = {}
    for path, parsed, kept in changes:
        removed[path.stem] = len(parsed.records) - len(kept)
        parsed.records = kept
        _write_list(path, parsed)
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
