"""Whole subscriber lists: deleting one (its file in subscribers/ and its rows in the store)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from digest.errors import DigestError
from digest.store import Store
from digest.subscribers import check_list_name, known_lists, list_files


@dataclass
class DeletedList:
    name: str
    file: Path | None  # the list file removed, if there was one
    rows: int  # subscriber rows removed from the store


def delete_list(
    folder: Path, store: Store, name: str, *, include_signups: bool = False
) -> DeletedList:
    """Delete the list `name`. People who joined it on the web (or by `subscribers add`) are
    in no file, so nothing could bring them back: that takes `include_signups`."""
    name = check_list_name(name)
    if name not in known_lists(folder, store):
        known = ", ".join(known_lists(folder, store)) or "none"
        raise DigestError(f"list {name!r}: no such list (the lists: {known})")
    others = {o: n for o, n in store.list_origins(name).items() if o != "file"}
    if others and not include_signups:
        joined = sum(others.values())
        raise DigestError(
            f"list {name!r}: {joined} of its subscribers joined outside the list file (web"
            " sign-ups, `subscribers add`) and could not be restored from a file;"
            " add --yes to delete them too"
        )
    path = list_files(folder).get(name)
    if path is not None:
        try:
            path.unlink()
        except OSError as exc:
            raise DigestError(f"{path}: cannot delete the list file: {exc.strerror}") from None
    return DeletedList(name, path, store.delete_list(name))
