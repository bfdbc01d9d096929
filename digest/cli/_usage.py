"""How the command line reads to a person: usage lines, help and usage errors.

Typer's defaults show `{INPUT...}...`, `[[ISSUE]]` and `<bool>`, print usage errors as a
four-line box, and keep a docstring's line breaks in the command list. These classes, given to
every Typer app and command as `cls`, keep typer's help but fix those, and turn a usage error
into our one line (`error: ...`) with exit code 2.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer import _click as click
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from digest.cli._console import fail
from digest.errors import EXIT_USAGE


class _Argument(TyperArgument):
    def _usage_display_name(self) -> str:
        # A metavar is written as the usage line should read it ("INPUT...", "[SOURCE]...").
        if self.metavar is not None:
            return self.metavar
        name = (self.name or "").upper()
        name = name if self.required else f"[{name}]"
        return name + ("..." if self.nargs != 1 else "")

    def _rich_display_name(self) -> str:
        return self._usage_display_name()

    def get_error_hint(self) -> str:
        return f"'{self.metavar or (self.name or '').upper()}'"

    def display_type_rich(self, ctx: click.Context) -> str | None:
        return _value_type(super().display_type_rich(ctx))


class _Option(TyperOption):
    def display_type_rich(self, ctx: click.Context) -> str | None:
        if self.is_flag or self.count:
            return None  # a flag takes no value: no `<bool>`
        return _value_type(super().display_type_rich(ctx))


def _value_type(shown: str | None) -> str | None:
    # a repeatable option takes one value each time: `<str>`, not `<list[str]>`
    return re.sub(r"^<list\[(.*)\]>", r"<\1>", shown) if shown else shown


def _retype(params: Sequence[click.Parameter]) -> None:
    for param in params:
        if type(param) is TyperArgument:
            param.__class__ = _Argument
        elif type(param) is TyperOption:
            param.__class__ = _Option


def _one_paragraph_per_line(text: str | None) -> str | None:
    """A docstring's paragraphs, each on one line: the help wraps them to the terminal, and the
    command list shows the whole first one rather than breaking it where the source did."""
    if not text:
        return text
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip())]
    return "\n\n".join(p for p in paragraphs if p)


class _Readable:
    """What commands and groups share: parameters that display well, help without the source's
    line breaks, `-h` as well as `--help`."""

    def _make_readable(self: Any) -> None:
        _retype(self.params)
        self.help = _one_paragraph_per_line(self.help)
        if self.help and not self.short_help:
            self.short_help = self.help.split("\n\n", 1)[0]

    def format_help(self: Any, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # imported here, as typer imports rich: a command that shows no help does not pay for it
        from digest.cli._help_table import use_narrow_options_table

        use_narrow_options_table()
        super().format_help(ctx, formatter)  # type: ignore[misc]

    def get_help_option(self: Any, ctx: click.Context) -> TyperOption | None:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None:
            _retype([option])
            option.help = "Show this help and exit."
        return option


class DigestCommand(_Readable, TyperCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._make_readable()


class DigestGroup(_Readable, TyperGroup):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._make_readable()

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """As typer's, but a usage error is one line on stderr, and the exit code is 2."""
        if not standalone_mode:
            return super().main(
                args, prog_name, complete_var, standalone_mode, windows_expand_args, **extra
            )
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            exc.show()  # the help itself (typer's rich help is already printed)
            sys.exit(exc.exit_code)
        except click.exceptions.ClickException as exc:
            sys.exit(usage_error(exc))
        except typer.Abort:
            sys.exit(1)
        # without standalone mode click returns the exit code of an Exit; else the command's value
        sys.exit(code if isinstance(code, int) else 0)


def usage_error(exc: click.exceptions.ClickException) -> int:
    """Print a click/typer error as our one line; the exit code for it."""
    message = exc.format_message().strip().rstrip(".")
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        message = f"{ctx.command_path}: {message} (see `{ctx.command_path} --help`)"
    raised = fail(" ".join(message.split()), exc.exit_code if exc.exit_code else EXIT_USAGE)
    return raised.exit_code


def typer_app(**kwargs: Any) -> typer.Typer:
    """A Typer app whose commands and groups read as described above."""
    return typer.Typer(cls=DigestGroup, **kwargs)
