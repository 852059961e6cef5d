"""The local platform: real local stand-ins for the Azure services Liveline deploys to.

A Docker engine, a registry standing in for Azure Container Registry, Azurite standing
in for Azure Blob Storage, and an offline base image standing in for python:3.11-slim.
`python -m devplatform up|down|status`; from Python use `up()`, `down()`,
`status()`. Everything lives in the state folder (settings.state_dir). A development
tool: only the commands (liveline_cli), the Makefile, bench/ and tests import it.
"""

from devplatform.control import COMPONENTS, down, status, up
from devplatform.processes import PlatformError

__all__ = ["COMPONENTS", "PlatformError", "down", "status", "up"]
