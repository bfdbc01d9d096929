"""List files, `subscribers/*.csv`: reading them forgivingly (dialect) and strictly (data), and
writing them back atomically, keeping every row a change does not mean to touch."""

from __future__ import annotations

import csv
import io
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from digest.models import Subscriber
from digest.subscribers.validation import (
    ListError,
    check_field,
    check_list_name,
    email_key,
    normalise_email,
)
from digest.wording import plural

_DELIMITERS = ",;\t|"

log = logging.getLogger("digest.subscribers")


@dataclass
class RowProblem:
    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"


@dataclass
class Record:
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
    records: list[Record] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)  # every bad row, unreadable too
    # rows the CSV reader could not read (an unbalanced quote): rewriting the file would lose or
    # mangle them, so a list with any is never rewritten
    unreadable: list[RowProblem] = field(default_factory=list)
    duplicates: int = 0

    @property
    def subscribers(self) -> list[Subscriber]:
        return [r.subscriber for r in self.records if r.subscriber is not None]

    def cell(self, record: Record, column: str) -> str:
        index = self.fields.index(column) if column in self.fields else len(record.cells)
        return record.cells[index] if index < len(record.cells) else ""

    def set_cell(self, record: Record, column: str, value: str) -> None:
        if column not in self.fields:
            width = len(self.fields)
            self.fields.append(column)
            for other in self.records:
                if len(other.cells) > width:  # a bad, over-long row keeps its extra cells last
                    other.cells.insert(width, "")
        index = self.fields.index(column)
        record.cells.extend([""] * (index + 1 - len(record.cells)))
        record.cells[index] = value


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
        parsed.records.append(Record(start + 1, list(row), subscriber))
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
        problem = check_field(key, value)
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


def read_list_bytes(path: Path) -> tuple[bytes, ListFile]:
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
    return read_list_bytes(path)[1]


def list_files(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.glob("*.csv"))}


def read_list(path: Path) -> Iterator[Subscriber]:
    """The good, de-duplicated subscribers of one list file (bad rows are skipped)."""
    yield from read_list_file(path).subscribers


def log_problem(problem: RowProblem) -> None:
    """What readers do with a bad row when the caller says nothing: a warning in the log, which
    Python prints on stderr when nothing else is set up, so that nobody is skipped silently."""
    log.warning("skipped %s", problem)


def refuse_if_unreadable(path: Path, parsed: ListFile) -> None:
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


def write_list(path: Path, parsed: ListFile) -> None:
    """Write the header and every record back, atomically: a crash leaves the old file or the
    new one, never half of one."""
    refuse_if_unreadable(path, parsed)
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


def open_for_change(folder: Path, list_name: str) -> tuple[Path, ListFile]:
    path = folder / f"{check_list_name(list_name)}.csv"
    if path.exists():
        parsed = read_list_file(path)
        refuse_if_unreadable(path, parsed)
        return path, parsed
    return path, ListFile(name=list_name, fields=["email", "name"])
