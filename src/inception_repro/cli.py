"""Command-line wrapper: a user error is one line on stderr and exit status 2, never a traceback.

Anything else that escapes a command is one line too, saying where its traceback was logged: the
run folder's crash.log when the error happened in a run (``crash_log_in``), else results/local/crash.log.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from inception_repro.errors import ConfigError, Stopped, UserError
from inception_repro.provenance import project_root

CRASH_LOG = "crash.log"


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose errors are ``ConfigError``s (one line, with the usage) instead of an exit."""

    def error(self, message: str):
        raise ConfigError(f"{message}; usage: {' '.join(self.format_usage().split()[1:])}")


def write_crash_log(error: BaseException, folder: Path | None) -> Path:
    """Append ``error``'s traceback, the command and the date to ``folder``/crash.log (results/local/ if
    ``folder`` does not exist); returns the log's path."""
    if folder is None or not folder.is_dir():
        folder = project_root() / "results" / "local"
        folder.mkdir(parents=True, exist_ok=True)
    path = folder / CRASH_LOG
    with open(path, "a") as log:
        log.write(f"--- {datetime.now(timezone.utc).isoformat(timespec='seconds')}: {shlex.join(sys.argv)}\n")
        traceback.print_exception(error, file=log)
    return path


@contextmanager
def crash_log_in(folder: Path) -> Iterator[None]:
    """Log the traceback of an unexpected error raised inside into ``folder``/crash.log, and re-raise it."""
    try:
        yield
    except UserError:
        raise
    except Exception as error:
        if not hasattr(error, "crash_log"):
            error.crash_log = write_crash_log(error, folder)
        raise


def _message(error: BaseException) -> str:
    """The error's message on one line; one re-raised from a DataLoader worker is its original message."""
    text = str(error)
    if "Original Traceback" in text:
        text = text.strip().splitlines()[-1].split(": ", 1)[-1]
    return " ".join(text.split())


def run_cli(command: Callable[[list[str]], int], argv: list[str]) -> int:
    try:
        return command(argv)
    except Stopped as error:
        print(f"error: {_message(error)}", file=sys.stderr)
        return error.exit_status
    except UserError as error:
        print(f"error: {_message(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; run the same command again to resume where it stopped", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - the entry point: one line, the traceback in a file
        log = getattr(error, "crash_log", None) or write_crash_log(error, None)
        message = _message(error)[:300]
        print(
            f"error: unexpected {error.__class__.__name__}: {message}; the traceback is in {log}; "
            "rerun the same command to resume, and report that file if it happens again",
            file=sys.stderr,
        )
        return 1
