"""What the app asks of the outside world, as factories a test can replace.

The defaults call ``core``. They import their modules when first called, which is always inside a
thread worker: GitPython, python-on-whales, keyring and httpx stay out of the start-up path.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.config import ProjectConfig
    from core.credentials import CredentialStore
    from core.engines.base import Engine
    from core.events import Event
    from core.plan import Plan, PlanRequest
    from core.reference import ImageName
    from core.registry import RegistryClient
    from core.repo import ProjectRepo


def _open_repo(root: Path) -> ProjectRepo:
    from core.repo import ProjectRepo

    return ProjectRepo.open(root)


def _load_config(root: Path) -> ProjectConfig:
    from core.config import load_config

    return load_config(root)


def _save_config(root: Path, config: ProjectConfig) -> Path:
    from core.config import save_config

    return save_config(root, config)


def _credentials() -> CredentialStore:
    from core.credentials import CredentialStore

    return CredentialStore()


def _registry_client(image: ImageName) -> RegistryClient:
    """A client for the image's registry, logged in with the stored credential when there is one."""
    from core.engines.base import EngineOptions
    from core.release import default_client_for

    return default_client_for(EngineOptions.from_env().insecure_registries)(image)


def _engine(name: str | None, builder: str | None) -> Engine:
    """The engine called ``name`` (None/"auto": the first usable), on ``builder`` for buildx."""
    from core.engines.base import EngineOptions
    from core.engines.selection import select_engine

    options = EngineOptions.from_env().with_builder(builder or None)
    return select_engine(None if name in (None, "auto") else name, options)


def _make_plan(request: PlanRequest) -> Plan:
    from core.plan import make_plan

    return make_plan(request)


def _plan_steps(plan: Plan, engine: str) -> list[list[str]]:
    from core.rendering import plan_steps

    return plan_steps(plan, engine)


def _release(plan: Plan, engine_name: str, cancel: threading.Event) -> Iterator[Event]:
    """The release as the CLI runs it: stored logins handed to the engine for this run only."""
    from core.engines.base import EngineOptions
    from core.release import release_with_stored_logins

    return release_with_stored_logins(
        plan, engine=engine_name, cancel=cancel,
        insecure_registries=EngineOptions.from_env().insecure_registries, ca_file=plan.ca_file,
    )


@dataclass(frozen=True)
class Services:
    """Factories for repo, config, registry, engine, credentials, plan, commands and release."""

    open_repo: Callable[[Path], ProjectRepo] = _open_repo
    load_config: Callable[[Path], ProjectConfig] = _load_config
    save_config: Callable[[Path, ProjectConfig], Path] = _save_config
    registry_client: Callable[[ImageName], RegistryClient] = _registry_client
    engine: Callable[[str | None, str | None], Engine] = _engine
    credentials: Callable[[], CredentialStore] = _credentials
    make_plan: Callable[[PlanRequest], Plan] = _make_plan
    plan_steps: Callable[[Plan, str], list[list[str]]] = _plan_steps
    release: Callable[[Plan, str, threading.Event], Iterator[Event]] = _release
    log_dir: Path | None = None  # where build logs go; None: <project>/.dockyard/logs
