"""The name a greeting uses: the first name, or none.

"Hello Ada," reads as a letter; "Hello Ada Lovelace," and "Hello Reader 12," read as a mail merge
gone wrong. A name that does not look like a person's (digits, an address, a placeholder) greets
nobody by name: "Hello,".
"""

from __future__ import annotations

import re

# a courtesy title keeps the surname: "Dr Smith", not "Dr"
_TITLES = frozenset(
    {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "professor", "sir", "dame", "lord", "lady"}
    | {"rev", "revd", "fr", "cllr"}
)
_NOT_A_NAME = re.compile(r"[\d@/\\|=_#]")


def greeting_name(name: str) -> str:
    """The first name of `name` as a subscriber list spells it ("Ada Lovelace" → "Ada",
    "Lovelace, Ada" → "Ada", "Dr Ada Lovelace" → "Dr Lovelace"), or "" when it is no
    person's name ("Reader 12", "ada@example.org", "")."""
    name = " ".join(name.split())
    if not name or _NOT_A_NAME.search(name):
        return ""
    if name.count(",") == 1:  # "Lovelace, Ada": the list's surname-first order
        surname, _, given = name.partition(",")
        name = f"{given.strip()} {surname.strip()}".strip()
    words = name.split(" ")
    if len(words) >= 2 and words[0].lower().rstrip(".") in _TITLES:
        return f"{words[0]} {words[-1]}"
    return words[0]
