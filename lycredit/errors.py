"""Exit codes and the errors that map to them, in one place.

Every command ends with one of these codes (see the README):
0 ok, 1 findings, 2 usage, 65 bad input data, 66 input file missing,
69 database unavailable, 75 another run holds the lock, 77 permission denied,
78 configuration error or schema not at head, or an output file or directory that cannot be
created or written (lycredit.outputs).
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    FINDINGS = 1
    USAGE = 2
    DATA_ERROR = 65
    NO_INPUT = 66
    UNAVAILABLE = 69
    LOCKED = 75
    PERMISSION_DENIED = 77
    CONFIG = 78
    OUTPUT_CLOSED = 141
    """The reader of the output went away (``| head``): 128 + SIGPIPE, what a program that signal ends reports."""


class LycreditError(Exception):
    """Base of every error the core raises on purpose; carries its exit code."""

    exit_code: ExitCode = ExitCode.CONFIG

    def __init__(self, message: str, *, exit_code: ExitCode | None = None):
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(LycreditError):
    exit_code = ExitCode.USAGE


class DataError(LycreditError):
    """Input data that breaks a rule: the message names file, row, field and rule."""

    exit_code = ExitCode.DATA_ERROR


class InputMissing(LycreditError):
    exit_code = ExitCode.NO_INPUT


class DatabaseUnavailable(LycreditError):
    exit_code = ExitCode.UNAVAILABLE


class Locked(LycreditError):
    exit_code = ExitCode.LOCKED


class PermissionDenied(LycreditError):
    exit_code = ExitCode.PERMISSION_DENIED


class ConfigError(LycreditError):
    exit_code = ExitCode.CONFIG


class SchemaNotAtHead(ConfigError):
    pass


class NotFound(LycreditError):
    """A named thing (operator, subject, record) does not exist: bad input."""

    exit_code = ExitCode.DATA_ERROR
