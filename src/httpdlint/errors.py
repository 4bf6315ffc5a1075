"""The one error type the tool raises for bad input; the CLI turns it into `file:line: message`."""

from __future__ import annotations


class ConfigError(Exception):
    """Unreadable or unparseable input, reported as one line and exit code 2."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line

    def __str__(self) -> str:
        if self.file and self.line:
            return f"{self.file}:{self.line}: {self.message}"
        if self.file:
            return f"{self.file}: {self.message}"
        return self.message
