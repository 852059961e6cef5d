"""A client for the configured cluster: a kubeconfig file and, optionally, a context."""

from __future__ import annotations

from pathlib import Path

import kubernetes


def api_client(kubeconfig: Path, context: str = "") -> kubernetes.client.ApiClient:
    """A client from kubeconfig (the local cluster's, or one from `az aks get-credentials`);
    use it as a context manager so that its connection pool is closed."""
    client = kubernetes.config.new_client_from_config(
        config_file=str(kubeconfig), context=context or None
    )
    if not isinstance(client, kubernetes.client.ApiClient):
        raise TypeError(f"kubernetes.config gave a {type(client).__name__}, not an ApiClient")
    return client
