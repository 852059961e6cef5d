"""Liveline, the library: from a git commit and a published model to a live, verified
deployment, with no Dagster in it.

`settings` (every setting, LIVELINE_*), `constants` (names shared across packages),
`git` (the one git runner; `git.watch`), `registry` (the one registry client),
`modelstore` (publish, list, verify, watch), `images` (build context, build, SBOM, smoke
test), `k8s` (render, roll out, read what is live). The Dagster code location
(`orchestration`) composes it; the local platform (`devplatform`) is never imported here.

`liveline.publish_model(estimator, X_eval, y_eval, name=...)` publishes a model trained
anywhere (`liveline.publish`); it is imported on first use, so that `import liveline`
stays light for the sensors and the serving image's build.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "publish_model":
        from liveline.publish import publish_model

        return publish_model
    raise AttributeError(f"module 'liveline' has no attribute {name!r}")
