"""Errors raised at the edge of the API and turned into JSON by one handler."""

from __future__ import annotations


class ApiError(Exception):
    """A client error: an HTTP status and a message that names the problem."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
