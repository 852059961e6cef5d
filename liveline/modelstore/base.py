"""What every part of the model store shares: its error."""

from __future__ import annotations


class ModelStoreError(Exception):
    """A model cannot be published or used; the message says why and what to do."""
