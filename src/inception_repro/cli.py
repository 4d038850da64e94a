"""Command-line wrapper: a user error is one line on stderr and exit status 2, never a traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from inception_repro.errors import ConfigError, UserError


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose errors are ``ConfigError``s (one line, with the usage) instead of an exit."""

    def error(self, message: str):
        raise ConfigError(f"{message}; usage: {' '.join(self.format_usage().split()[1:])}")


def run_cli(command: Callable[[list[str]], int], argv: list[str]) -> int:
    try:
        return command(argv)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
