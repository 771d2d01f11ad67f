"""The one place the screens reach the outside world: factories a test can replace, and the use
cases a screen needs (check a login, where tags point now, an image's release history, compare
two images, copy-mode preflight, ``dockyard init``), each a call into ``core`` with these
factories.

Screens import ``core`` for values and pure rules (parse a platform, a tag set); anything that
talks to git, a registry, the keyring or an engine goes through here. This module loads before
the first screen paints, so each core module is imported when first called, always inside a
thread worker: GitPython, python-on-whales, keyring, httpx and semver stay off the start-up path.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.config import ProjectConfig
    from core.credentials import CredentialStore, RegistryLogin
    from core.diff import ImageDiff
    from core.engines.base import Engine
    from core.events import Event
    from core.history import History
    from core.lookups import TagsNow
    from core.parts import Split
    from core.plan import Plan, PlanRequest
    from core.platforms import Platform
    from core.reference import ImageName
    from core.registry import RegistryClient, StopFlag
    from core.repo import ProjectRepo
    from core.rollback import RollbackPlan, RollbackResult
    from core.scaffold import InitPlan
    from core.staging import CopyPreflight
    from core.tags import TagSet
    from core.version import ReleaseVersion


def _open_repo(root: Path) -> ProjectRepo:
    from core.repo import ProjectRepo  # kept off the assistant's first paint: loads semver

    return ProjectRepo.open(root)


def _load_config(root: Path) -> ProjectConfig:
    # kept off the assistant's first paint: loads semver
    from core.config import load_config

    return load_config(root)


def _save_config(root: Path, config: ProjectConfig) -> Path:
    # kept off the assistant's first paint: loads semver
    from core.config import save_config

    return save_config(root, config)


def _credentials() -> CredentialStore:
    # kept off the assistant's first paint
    from core.credentials import CredentialStore

    return CredentialStore()


def _registry_client(image: ImageName) -> RegistryClient:
    """A client for the image's registry, logged in with the stored credential when there is one."""
    # kept off the assistant's first paint
    from core.clients import logged_in_clients
    from core.engines.base import EngineOptions

    return logged_in_clients(EngineOptions.from_env().insecure_registries)(image)


def _engine(name: str | None, builder: str | None) -> Engine:
    """The engine called ``name`` (None/"auto": the first usable), on ``builder`` for buildx."""
    # kept off the assistant's first paint: loads httpcore, httpx
    from core.engines.selection import choose_engine

    return choose_engine(name, builder or None)


def _make_plan(request: PlanRequest) -> Plan:
    # kept off the assistant's first paint: loads semver
    from core.plan import make_plan

    return make_plan(request)


def _plan_steps(plan: Plan) -> list[list[str]]:
    # kept off the assistant's first paint: loads semver
    from core.rendering import plan_steps

    return plan_steps(plan)


def _release(plan: Plan, cancel: threading.Event, split: Split | None) -> Iterator[Event]:
    """The release as the CLI runs it, on the plan's engine: stored logins handed to the engine
    for this run only; ``split``: a leg writing its part file, or the merge of parts (settled by
    the Review step)."""
    # kept off the assistant's first paint
    from core.engines.base import EngineOptions
    from core.release import release_with_stored_logins

    return release_with_stored_logins(
        plan, cancel=cancel,
        insecure_registries=EngineOptions.from_env().insecure_registries, ca_file=plan.ca_file,
        part_file=split.part_file if split else None, merge=split.parts if split else (),
    )


@dataclass(frozen=True)
class Services:
    """Factories for repo, config, registry, engine, credentials, plan, commands and release,
    and the use cases built on them."""

    open_repo: Callable[[Path], ProjectRepo] = _open_repo
    load_config: Callable[[Path], ProjectConfig] = _load_config
    save_config: Callable[[Path, ProjectConfig], Path] = _save_config
    registry_client: Callable[[ImageName], RegistryClient] = _registry_client
    engine: Callable[[str | None, str | None], Engine] = _engine
    credentials: Callable[[], CredentialStore] = _credentials
    make_plan: Callable[[PlanRequest], Plan] = _make_plan
    plan_steps: Callable[[Plan], list[list[str]]] = _plan_steps
    release: Callable[[Plan, threading.Event, Split | None], Iterator[Event]] = _release
    log_dir: Path | None = None  # where build logs go; None: <project>/.dockyard/logs

    def logins(self, registries: Sequence[str]) -> tuple[list[RegistryLogin], CredentialStore]:
        """The login each registry would use (keyring, else docker's), and the store read."""
        # kept off the assistant's first paint
        from core.credentials import logins_for

        store = self.credentials()
        return logins_for(registries, store), store

    def check_login(self, image: ImageName) -> None:
        """Raise the registry's refusal when the login for ``image`` does not work."""
        # kept off the assistant's first paint: loads httpcore, httpx, semver
        from core.lookups import check_login

        check_login(image, self.registry_client)

    def tags_now(
        self, name: ImageName, tags: Sequence[str], tag_set: TagSet | None = None,
        version: ReleaseVersion | None = None,
    ) -> TagsNow:
        """Where each tag points now; the aliases judged by the never-backwards rule."""
        # kept off the assistant's first paint: loads httpcore, httpx, semver
        from core.lookups import tags_now

        return tags_now(name, tags, self.registry_client, tag_set, version)

    def diff(self, image: ImageName, a: str, b: str) -> ImageDiff:
        """What changed from ``a`` to ``b`` (tags or digests) in ``image``'s repository."""
        # kept off the assistant's first paint: loads httpcore, httpx
        from core.diff import diff_images

        with self.registry_client(image) as client:
            return diff_images(client, image, a, b)

    def history(self, name: ImageName, report_dir: Path | None = None) -> History:
        """``dockyard history`` for a screen: every version tag of ``name`` with its image and
        aliases, and the runs this machine's reports (``report_dir``, default dockyard's state
        dir) record for it."""
        # kept off the assistant's first paint: loads httpcore, httpx, semver
        from core.history import read_history
        from core.release_report import default_report_dir

        with self.registry_client(name) as client:
            return read_history(client, name.path, str(name),
                                report_dir=report_dir or default_report_dir())

    def init_project(self, root: Path, mode: str, binary: str | None, dockerfile: str,
                     force: bool) -> InitPlan:
        """``dockyard init``: write the Dockerfile for ``mode`` and remember it in dockyard.toml;
        the plan written. Refuses to replace a Dockerfile unless ``force``."""
        # kept off the assistant's first paint: loads semver
        from core.scaffold import plan_init, write_init

        plan = plan_init(root, mode=mode, binary=binary, dockerfile=dockerfile, force=force)
        write_init(plan)
        return plan

    def preflight_copy(self, template: str, dockerfile: Path, context: Path,
                       platforms: Sequence[Platform]) -> CopyPreflight:
        """Copy mode's binaries and Dockerfile, checked before a plan exists."""
        # kept off the assistant's first paint
        from core.staging import preflight_copy

        return preflight_copy(template, dockerfile, context, platforms)

    def plan_rollback(self, name: ImageName, to: str,
                      aliases: Sequence[str] | None = None) -> RollbackPlan:
        """What pointing ``name``'s aliases at version ``to`` would move (nothing moves yet);
        a DockyardError when the target fails verification or an alias is not its own."""
        # kept off the assistant's first paint: loads httpcore, httpx, semver
        from core.rollback import plan_rollback

        with self.registry_client(name) as client:
            return plan_rollback(client, name, to, aliases)

    def rollback(self, plan: RollbackPlan, cancel: StopFlag | None = None,
                 report_dir: Path | None = None) -> RollbackResult:
        """Move the aliases of a plan the user confirmed; the report goes to ``report_dir``
        (default: dockyard's state dir)."""
        # kept off the assistant's first paint: loads httpcore, httpx, semver
        from core.rollback import run_rollback

        with self.registry_client(plan.name) as client:
            return run_rollback(plan, client, report_dir=report_dir, cancel=cancel)
