"""Exit codes and the errors that map onto them.

A user's mistake (bad setting, missing file, unknown issue) is a `DigestError`: the CLI prints its
one-line message and exits with its code, never a traceback.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_PARTIAL = 1  # some inputs bad, some sends deferred: the rest of the work was done
EXIT_USAGE = 2  # usage or configuration error: nothing was done


class DigestError(Exception):
    """An error the user can act on; its message is one line that names the input and the reason."""

    exit_code = EXIT_USAGE


class ConfigError(DigestError):
    """A bad or missing setting: names the key and the file."""


class NotBuiltYet(DigestError):
    """A command whose stage is not built yet: says so instead of pretending."""


class Interrupted(DigestError):
    """Ctrl-C: the work done so far is kept and the rest can be resumed."""

    exit_code = EXIT_PARTIAL
