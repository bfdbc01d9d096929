"""The options table of `--help`, laid out to fit a narrow terminal.

Typer's table gives each of an option's forms (long, short, negative long, negative short),
its type and its help a column of its own. At 80 columns the empty columns' padding and a
`--no-...` form leave the help ten or fifteen characters, and rich cuts the longer names and
words with '…'. Here an option's forms stand one per line in one column, its type in the next,
and the help keeps the rest of the width, wrapped and never cut.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from typer import rich_utils
from typer.core import TyperArgument


def _names(param: Any) -> Text:
    if isinstance(param, TyperArgument):
        shown = param.display_name_raw
        if param.metavar is None and param.nargs != 1:
            shown += "..."
        forms = [shown]
    else:
        forms = [", ".join(param.opts), ", ".join(param.secondary_opts)]
    names = Text("* " if param.required else "  ", style=rich_utils.STYLE_REQUIRED_SHORT)
    names.append("\n  ".join(form for form in forms if form), style=rich_utils.STYLE_OPTION)
    return names


def _type(param: Any, ctx: Any) -> Text:
    shown = Text(style=rich_utils.STYLE_TYPES, overflow="fold")
    shown.append(param.display_type_rich(ctx=ctx) or "")
    number_range = param._get_number_range_help_str()
    if number_range:
        shown.append("\n" + rich_utils.RANGE_STRING.format(number_range).strip())
    return shown


def print_options_panel(
    *, name: str, params: list[Any], ctx: Any, markup_mode: Any, console: Console
) -> None:
    """Drop-in for typer.rich_utils._print_options_panel (same keyword arguments)."""
    if not params:
        return
    table = Table(
        show_header=False, expand=True, box=None, pad_edge=False, padding=(0, 1), highlight=True
    )
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(ratio=1, overflow="fold")
    for param in params:
        help_text = rich_utils._get_parameter_help(param=param, ctx=ctx, markup_mode=markup_mode)
        table.add_row(_names(param), _type(param, ctx), help_text)
    console.print(
        Panel(
            table,
            border_style=rich_utils.STYLE_OPTIONS_PANEL_BORDER,
            title=name,
            title_align=rich_utils.ALIGN_OPTIONS_PANEL,
        )
    )


def use_narrow_options_table() -> None:
    rich_utils._print_options_panel = print_options_panel
