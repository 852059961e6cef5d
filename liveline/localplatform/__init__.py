"""The local platform: real local stand-ins for the Azure services Liveline deploys to.

A Docker engine, a registry standing in for Azure Container Registry, Azurite standing
in for Azure Blob Storage, and an offline base image standing in for python:3.11-slim.
`python -m liveline.localplatform up|down|status`; from Python use `up()`, `down()`,
`status()`. Everything lives in the state folder (settings.state_dir).
"""

from liveline.localplatform.control import COMPONENTS, down, status, up
from liveline.localplatform.processes import PlatformError
from liveline.localplatform.wheels import ensure_wheels

__all__ = ["COMPONENTS", "PlatformError", "down", "ensure_wheels", "status", "up"]
