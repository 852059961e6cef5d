"""The Liveline scoring service: a Flask app that serves one verified model."""

from serving.app import create_app

__all__ = ["create_app"]
