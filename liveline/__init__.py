"""Liveline: from a git commit and a published model to a live, verified deployment."""
