"""What every part of the model store shares: its errors."""

from __future__ import annotations


class ModelStoreError(Exception):
    """A model cannot be published or used; the message says why and what to do."""


class ObjectNotFound(Exception):
    """The object (or the whole bucket or container) does not exist."""


class ObjectExists(Exception):
    """A create-only write met an object that is already there."""


class ObjectChanged(Exception):
    """An etag-pinned read or write met another version of the object."""
