"""Liveline, the library: from a git commit and a published model to a live, verified
deployment, with no Dagster in it.

`settings` (every setting, LIVELINE_*), `constants` (names shared across packages),
`git` (the one git runner; `git.watch`), `registry` (the one registry client),
`modelstore` (publish, list, verify, watch), `images` (build context, build, SBOM, smoke
test), `k8s` (render, roll out, read what is live). The Dagster code location
(`orchestration`) composes it; the local platform (`devplatform`) is never imported here.
"""
