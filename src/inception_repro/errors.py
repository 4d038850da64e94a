"""Errors caused by the user's setup (bad config, missing data); reported as one line, no traceback."""


class UserError(Exception):
    """Base class for problems the user can fix; the message says how."""


class DatasetNotFoundError(UserError):
    """The dataset is not where it was looked for, and could not be fetched."""


class DatasetCorruptError(UserError):
    """A dataset file exists but is truncated or malformed."""


class ConfigError(UserError):
    """An unknown key or an invalid value in the configuration; the message names the valid choices."""


class Stopped(UserError):
    """A run stopped by a signal once it saved what it resumes from; the exit status is 128 + ``signum``."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.exit_status = 128 + signum

    def __reduce__(self):  # a grid worker's Stopped travels back to the grid pickled
        return type(self), (str(self), self.exit_status - 128)
