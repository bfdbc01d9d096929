"""List files into the store: `sync_lists` applies each file whose bytes changed since it was
last synced; the readers of everyone to send to, or to list, sync first."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from digest.models import Subscriber
from digest.store import Store
from digest.subscribers.files import RowProblem, list_files, log_problem, read_list_bytes
from digest.subscribers.validation import STATUSES, ListError


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
        data, parsed = read_list_bytes(path)
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
