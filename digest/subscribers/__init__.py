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

The package, by concern: `validation` (addresses, list names, field values; the errors),
`files` (reading and writing list files), `sync` (list files into the store, and reading
subscribers back from it) and `edits` (import, add, remove, forget).
"""

from __future__ import annotations

from digest.subscribers.edits import (
    ForgetReport,
    ImportReport,
    add_subscriber,
    forget,
    import_file,
    merge_into_list,
    refusal,
    remove_subscriber,
)
from digest.subscribers.files import (
    ListFile,
    RowProblem,
    list_files,
    log_problem,
    parse_list,
    read_list,
    read_list_file,
)
from digest.subscribers.sync import (
    all_subscribers,
    iter_subscribers,
    known_lists,
    sync_lists,
)
from digest.subscribers.validation import (
    CLI_ORIGIN,
    DEFAULT_LIST,
    STATUSES,
    ListError,
    NotOnList,
    allow_test_domains,
    check_list_name,
    email_key,
    normalise_email,
)

__all__ = [
    "CLI_ORIGIN",
    "DEFAULT_LIST",
    "ForgetReport",
    "ImportReport",
    "ListError",
    "ListFile",
    "NotOnList",
    "RowProblem",
    "STATUSES",
    "add_subscriber",
    "all_subscribers",
    "allow_test_domains",
    "check_list_name",
    "email_key",
    "forget",
    "import_file",
    "iter_subscribers",
    "known_lists",
    "list_files",
    "log_problem",
    "merge_into_list",
    "normalise_email",
    "parse_list",
    "read_list",
    "read_list_file",
    "refusal",
    "remove_subscriber",
    "sync_lists",
]
