"""`digest subscribers ...`: import, add, remove, list, export, count, sync, delete-list and
forget."""

from __future__ import annotations

import contextlib
import csv
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated, TextIO

import typer

from digest.cli._app import app
from digest.cli._common import command, console, emit_json, project_dir
from digest.cli._usage import typer_app
from digest.errors import EXIT_PARTIAL, DigestError
from digest.models import Subscriber
from digest.project import Project, open_project
from digest.signup import invite
from digest.sources.errors import printable
from digest.store import Store
from digest.subscribers import (
    DEFAULT_LIST,
    STATUSES,
    ImportReport,
    RowProblem,
    add_subscriber,
    all_subscribers,
    forget,
    import_file,
    list_files,
    refusal,
    remove_subscriber,
    sync_lists,
)
from digest.wording import plural

subscribers_app = typer_app(help="Manage subscriber lists.", no_args_is_help=True)
app.add_typer(subscribers_app, name="subscribers")

ListOption = Annotated[str | None, typer.Option("--list", "-l", help="Only this list.")]


def _project() -> Project:
    return open_project(project_dir())


def _as_json(subscriber: Subscriber) -> dict[str, object]:
    return {
        "email": subscriber.email,
        "name": subscriber.name,
        "list": subscriber.list,
        "status": subscriber.status,
        "attributes": subscriber.attributes,
    }


class _Problems:
    """Says each bad row of the lists being read on stderr and remembers that there were some:
    a command that skipped rows exits 1 (partial)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, problem: RowProblem) -> None:
        self.count += 1
        console.print(f"skipped {problem}")

    def exit_if_any(self) -> None:
        if self.count:
            raise typer.Exit(EXIT_PARTIAL)


def _read_all(
    list_name: str | None, status: str | None = None
) -> tuple[list[Subscriber], _Problems]:
    project = _project()
    problems = _Problems()
    found = all_subscribers(
        project.subscribers_dir,
        project.store,
        list_name,
        on_problem=problems,
        status=status,
        configured=project.config.lists,
    )
    return found, problems


def _say_import(report: ImportReport, store: Store) -> None:
    for problem in report.problems:
        console.print(f"skipped {problem}")
    for email in report.suppressed:
        console.print(f"not added {email}: {refusal(store, email)}")
    console.print(
        f"list {report.list_name}: {report.added} added, {report.updated} updated, "
        f"{report.unchanged} unchanged, {plural(report.duplicates, 'duplicate')} merged, "
        f"{len(report.suppressed)} suppressed, {plural(len(report.problems), 'bad row')} skipped",
    )


@command(subscribers_app, "import")
def import_command(
    file: Annotated[Path, typer.Argument(help="A CSV file with an `email` column.")],
    list_name: Annotated[
        str | None, typer.Option("--list", "-l", help="Target list (default: the file's name).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Merge a CSV file into a list: bad rows are reported by line and skipped."""
    project = _project()
    report = import_file(file, project.subscribers_dir, project.store, list_name)
    _say_import(report, project.store)
    if as_json:
        emit_json(report.as_dict())
    if report.problems:
        raise typer.Exit(EXIT_PARTIAL)


def _target_list(project: Project, wanted: str | None, create: bool) -> tuple[str, bool]:
    """The list `add` writes to, and whether it is new: a list file, or a list only the store
    or `[lists]` knows. A mistyped --list must not quietly become a new list that nobody sends
    to, so a new one needs --new-list."""
    folder = project.subscribers_dir
    files = list_files(folder) if folder.is_dir() else {}
    lists = sorted({*files, *project.store.subscriber_lists(), *project.config.lists})
    names = ", ".join(lists) or "none yet"
    if wanted is None:
        if DEFAULT_LIST in lists:
            return DEFAULT_LIST, False
        if len(lists) > 1:
            raise DigestError(f"there are several lists ({names}): choose one with --list NAME")
        return (lists[0], False) if lists else (DEFAULT_LIST, True)
    if wanted in lists:
        return wanted, False
    if not create:
        raise DigestError(
            f"--list {wanted}: no such list (lists: {names}); add --new-list to create it"
        )
    return wanted, True


@command(subscribers_app, "add")
def add_command(
    email: Annotated[str, typer.Argument(help="The address to add.")],
    name: Annotated[str, typer.Option("--name", "-n", help="The subscriber's name.")] = "",
    list_name: Annotated[
        str | None,
        typer.Option("--list", "-l", help="Target list (default: the only list there is)."),
    ] = None,
    new_list: Annotated[
        bool, typer.Option("--new-list", help="Create the list when there is none of that name.")
    ] = False,
    confirm: Annotated[
        bool,
        typer.Option(
            "--confirm",
            help="Send a confirmation email (double opt-in, through the configured transport)"
            " instead of adding directly.",
        ),
    ] = False,
) -> None:
    """Add one subscriber to a list (or update their name), or with --confirm ask them to."""
    project = _project()
    list_name, creating = _target_list(project, list_name, new_list)
    if confirm:
        not_sent = invite(project, email, name=name, list_name=list_name)
        if not_sent:
            console.print(f"no confirmation sent to {email.strip()}: {not_sent}")
            raise typer.Exit(EXIT_PARTIAL)
        console.print(
            f"confirmation sent to {email.strip()} for list {list_name}; pending until confirmed"
        )
        return
    has_file = (project.subscribers_dir / f"{list_name}.csv").exists()
    report = add_subscriber(
        project.subscribers_dir,
        project.store,
        email,
        name=name,
        list_name=list_name,
        to_store=not has_file and not creating,
    )
    if creating:
        console.print(f"created list {list_name} ({project.subscribers_dir / list_name}.csv)")
    if report.suppressed:
        console.print(
            f"not added {report.suppressed[0]}: {refusal(project.store, report.suppressed[0])}"
        )
        raise typer.Exit(EXIT_PARTIAL)
    verb = "added to" if report.added else "updated on" if report.updated else "already on"
    console.print(f"{email.strip()} {verb} list {list_name}")


@command(subscribers_app, "remove")
def remove_command(
    email: Annotated[str, typer.Argument(help="The address to take off.")],
    list_name: ListOption = None,
) -> None:
    """Take an address off the lists (it can be added again; see `forget` to erase it)."""
    project = _project()
    removed = remove_subscriber(project.subscribers_dir, email, list_name, store=project.store)
    for name, rows in removed.items():
        console.print(f"removed {email.strip()} from list {name} ({plural(rows, 'row')})")


StatusOption = Annotated[
    str | None,
    typer.Option(
        "--status",
        help=f"Only subscribers with this status ({', '.join(STATUSES)}).",
    ),
]


@command(subscribers_app, "list")
def list_command(
    list_name: ListOption = None,
    status: StatusOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per subscriber on stdout.")
    ] = False,
) -> None:
    """Show the subscribers with their status (a suppression always wins over the list)."""
    subscribers, problems = _read_all(list_name, status)
    if as_json:
        for subscriber in subscribers:
            emit_json(_as_json(subscriber))
    else:
        # the rows are the result (stdout: `| wc -l`, `> file`); the count is a footnote
        for subscriber in subscribers:
            name = f" ({printable(subscriber.name)})" if subscriber.name else ""
            print(f"{subscriber.list}\t{printable(subscriber.email)}{name}\t{subscriber.status}")
        console.print(plural(len(subscribers), "subscriber"))
    problems.exit_if_any()


@command(subscribers_app, "export")
def export_command(
    list_name: ListOption = None,
    status: StatusOption = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Write every subscriber as CSV: email, name, list, status, then the attributes (a cell
    starting with = + - @ gets a leading ', so a spreadsheet shows it as text; a file is 0600)."""
    from digest.exports import cell, open_private

    subscribers, problems = _read_all(list_name, status)
    extra: list[str] = []
    for subscriber in subscribers:
        extra.extend(k for k in subscriber.attributes if k not in extra)
    columns = [
        "email",
        "name",
        "list",
        "status",
        *[k for k in extra if k not in ("list", "status")],
    ]
    try:
        target: contextlib.AbstractContextManager[TextIO] = (
            open_private(output) if output else contextlib.nullcontext(sys.stdout)
        )
        with target as f:
            writer = csv.DictWriter(
                f, fieldnames=columns, extrasaction="ignore", lineterminator="\n"
            )
            writer.writeheader()
            for subscriber in subscribers:
                fields = {**subscriber.attributes, **_as_json(subscriber)}
                writer.writerow({key: cell(value) for key, value in fields.items()})
    except OSError as exc:
        raise DigestError(
            f"{output or 'stdout'}: cannot write the export: {exc.strerror}"
        ) from None
    if output:
        console.print(f"exported {plural(len(subscribers), 'subscriber')} to {str(output)}")
    problems.exit_if_any()


@command(subscribers_app, "count")
def count_command(
    list_name: ListOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="The counts as JSON on stdout.")] = False,
) -> None:
    """How many subscribers each list has, by status."""
    subscribers, problems = _read_all(list_name)
    counts: dict[str, Counter[str]] = {}
    for subscriber in subscribers:
        counts.setdefault(subscriber.list, Counter())[subscriber.status] += 1
    if as_json:
        for name, by_status in counts.items():
            emit_json({"list": name, "total": sum(by_status.values()), **by_status})
    else:
        for name, by_status in counts.items():
            detail = ", ".join(f"{n} {status}" for status, n in sorted(by_status.items()))
            print(f"{name}: {sum(by_status.values())} ({detail})")
        active = sum(c["active"] for c in counts.values())
        print(f"{active} active of {len(subscribers)}")
    problems.exit_if_any()


@command(subscribers_app, "sync")
def sync_command(list_name: ListOption = None) -> None:
    """Bring edited list files into the store now (every command that reads lists does it
    too): a file's rows win for the addresses it lists; sign-ups no file holds stay."""
    project = _project()
    problems = _Problems()
    synced = sync_lists(project.subscribers_dir, project.store, list_name, on_problem=problems)
    for name in synced:
        console.print(f"list {name}: synced from {project.subscribers_dir / name}.csv")
    console.print(f"{plural(len(synced), 'list')} synced, the others unchanged")
    problems.exit_if_any()


@command(subscribers_app, "delete-list")
def delete_list_command(
    name: Annotated[str, typer.Argument(metavar="LIST", help="The list to delete.")],
    yes: Annotated[
        bool,
        typer.Option("--yes", help="Also delete the people who joined it outside its file."),
    ] = False,
) -> None:
    """Delete a list: its file in subscribers/ and its subscribers in the store (suppressions and
    send records stay)."""
    from digest.lists import delete_list

    project = _project()
    deleted = delete_list(project.subscribers_dir, project.store, name, include_signups=yes)
    where = f"{deleted.file} deleted, " if deleted.file else ""
    console.print(f"list {deleted.name}: {where}{plural(deleted.rows, 'subscriber')} removed")


@command(subscribers_app, "forget")
def forget_command(
    email: Annotated[str, typer.Argument(help="The address to erase.")],
) -> None:
    """Erase a person: their list rows, send records and outbox copies. Only a hash of the
    address stays, as a suppression, so no import brings them back."""
    project = _project()
    report = forget(project.subscribers_dir, project.store, email, outbox=project.outbox_dir)
    console.print(
        f"forgot {email.strip()}: {plural(report.list_rows, 'list row')}, "
        f"{plural(report.send_rows, 'send record')},"
        f" {plural(report.outbox_messages, 'outbox message')} erased; "
        f"a hashed suppression ({report.reason}) remains"
    )
