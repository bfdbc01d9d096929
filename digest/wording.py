"""Counted nouns in messages to people: "1 story", "2 stories", never "1 stories"."""

from __future__ import annotations


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """`count` followed by the noun in the number it needs."""
    word = singular if count == 1 else plural_form or _plural_of(singular)
    return f"{count} {word}"


def _plural_of(noun: str) -> str:
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "o", "u"):
        return noun[:-1] + "ies"
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    return noun + "s"
