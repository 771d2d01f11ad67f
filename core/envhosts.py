"""``DOCKYARD_INSECURE_REGISTRIES``, read in one place for the engines' options and the registry
commands; apart from core.engines.base so that ``dockyard inspect`` does not load the engine layer
(~20 ms) for one environment variable."""

from __future__ import annotations

import os
from collections.abc import Mapping


def insecure_registries_from_env(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The hosts (comma- or space-separated) this machine allows plain http / unverified TLS."""
    env = os.environ if environ is None else environ
    return tuple(env.get("DOCKYARD_INSECURE_REGISTRIES", "").replace(",", " ").split())
