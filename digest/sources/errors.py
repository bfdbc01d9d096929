"""What a source reports when an input cannot become an article."""

from __future__ import annotations

from dataclasses import dataclass

from digest.errors import EXIT_PARTIAL, DigestError


def printable(name: str) -> str:
    """`name` safe to print on one line: control, format and undecodable characters escaped
    (`\\n`, `\\u202e`, `\\udcff`), so a file named "x\\nadded 99" cannot forge a line of output."""
    if name.isprintable():
        return name
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in name)


class ParseError(DigestError):
    """One input could not be parsed; `reason` is short and names no internals.

    Its message is `ORIGIN: reason` when the origin is known, so that a caller that lets it reach
    the CLI prints the one line the user needs.
    """

    exit_code = EXIT_PARTIAL

    def __init__(self, reason: str, origin: str | None = None) -> None:
        self.reason = reason
        self.origin = origin
        super().__init__(f"{printable(origin)}: {reason}" if origin else reason)

    def at(self, origin: str) -> ParseError:
        """The same error, naming the input it came from."""
        return self if self.origin else ParseError(self.reason, origin)


@dataclass(frozen=True)
class ParseFailure:
    """An input `read_source` could not turn into articles; the others go on."""

    origin: str
    reason: str

    def __str__(self) -> str:
        return f"{printable(self.origin)}: {self.reason}"
