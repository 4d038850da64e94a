"""Command-line wrapper: a user error is one line on stderr and exit status 2, never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable

from inception_repro.errors import UserError


def run_cli(command: Callable[[list[str]], int], argv: list[str]) -> int:
    try:
        return command(argv)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
