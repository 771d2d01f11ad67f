"""Run a plan through the two phases: push and verify the version tag, then move the aliases.

The safety rule: no alias moves until the immutable version tag is in the registry and verified.
Each run writes a JSON report (phases, digests, every alias's previous digest) so an alias move
can be rolled back by hand, and a failure says which phase failed and what the registry holds.

Re-running a release is safe. The version tag decides:

* absent: build and push it;
* present and the *same release*: skip the build (and move only aliases not already there);
* present and anything else: refuse, a version tag is never overwritten.

"Same release" is established from the registry alone, because builds are not bit-for-bit
reproducible (timestamps, provenance) so a rebuilt digest would differ: the existing index has
exactly the planned platforms, and every platform image's config carries the label
``org.opencontainers.image.revision`` equal to the plan's commit (both engines set it at build).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.engines.base import PUSH, REVISION_LABEL, Output
from core.errors import DockyardError, PublishError
from core.events import (
    AliasMoved,
    CredentialChosen,
    DigestPushed,
    Event,
    LogLine,
    PhaseFinished,
    PhaseStarted,
    ReleaseFailed,
    ReleaseFinished,
    VerifyReported,
)

if TYPE_CHECKING:
    from core.credentials import RegistryLogin
    from core.engines.base import Engine
    from core.plan import ImagePlan, Plan
    from core.reference import ImageName
    from core.registry import RegistryClient

ClientFactory = Callable[["ImageName"], "RegistryClient"]
_Step = Generator[Event, None, str]  # a phase: streams events, returns a one-line detail


def default_report_dir() -> Path:
    """``$XDG_STATE_HOME/dockyard/runs``: outside the project, so a run never dirties the tree."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "dockyard" / "runs"


def plan_logins(plan: Plan) -> list[RegistryLogin]:
    """The stored login for each registry the plan pushes to, looked up once for the run."""
    from core.credentials import logins_for

    return logins_for(image.name.domain for image in plan.images)


def default_client_for(
    insecure_registries: tuple[str, ...] = (), logins: Sequence[RegistryLogin] | None = None
) -> ClientFactory:
    """Registry clients logged in with the run's stored credential for their registry."""
    from core.credentials import canonical_registry, logged_in_client

    known = {login.registry: login for login in logins or ()}

    def make(image: ImageName) -> RegistryClient:
        login = known.get(canonical_registry(image.domain))
        return logged_in_client(image, insecure_registries=insecure_registries, login=login)

    return make


@contextlib.contextmanager
def engine_credentials(logins: Sequence[RegistryLogin]) -> Iterator[Path | None]:
    """A throw-away docker config dir holding the run's logins (None when there are none);
    pass it as ``EngineOptions.docker_config``. Removed afterwards, also on failure."""
    from core.credentials import temporary_docker_config

    creds = [login.credential for login in logins if login.credential is not None]
    if not creds:
        yield None
        return
    with temporary_docker_config(creds) as directory:
        yield directory


@dataclasses.dataclass
class _ImageState:
    image: ImagePlan
    client: RegistryClient
    skip_build: bool = False
    digest: str | None = None
    previous: dict[str, str | None] = dataclasses.field(default_factory=dict)
    moved: list[str] = dataclasses.field(default_factory=list)


class _Failed(Exception):
    """Internal: a phase failed; carries the error for ReleaseFailed."""

    def __init__(self, phase: str, error: str) -> None:
        super().__init__(error)
        self.phase = phase
        self.error = error


class Release:
    """One run of a plan. Iterate ``events()`` in a worker thread; ``cancel()`` from another."""

    def __init__(
        self,
        plan: Plan,
        engine: Engine,
        *,
        client_for: ClientFactory | None = None,
        output: Output = PUSH,
        cancel: threading.Event | None = None,
        report_dir: Path | None = None,
        logins: Sequence[RegistryLogin] = (),
    ) -> None:
        self.plan = plan
        self.engine = engine
        self.logins = tuple(logins)
        self.client_for = client_for or default_client_for(
            engine.options.insecure_registries, self.logins
        )
        self.output = output
        self.cancel_event = cancel or threading.Event()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        directory = report_dir or default_report_dir()
        self.report_path = directory / f"{plan.version.image_tag}-{stamp}-{os.getpid()}.json"
        self.report: dict[str, Any] = {
            "version": plan.version.text,
            "commit": plan.commit,
            "engine": engine.name,
            "output": {"kind": output.kind, "path": str(output.path) if output.path else None,
                       "platform": str(output.platform) if output.platform else None},
            "started": datetime.now(UTC).isoformat(),
            "phases": [],
            "images": {},
            "verify": [],
            "ok": False,
        }
        self._states: list[_ImageState] = []

    def cancel(self) -> None:
        """Stop the run: the engine's process group gets SIGINT, then SIGKILL."""
        self.cancel_event.set()

    # -- the run -------------------------------------------------------------------------------

    def events(self) -> Iterator[Event]:
        phase = "preflight"
        try:
            for phase, step in self._phases():
                if self.cancel_event.is_set() and phase != "verify-aliases":
                    # a cancel before a phase stops the run; once aliases moved, it is only read
                    raise _Failed(phase, "cancelled by the user before this phase started")
                yield PhaseStarted(phase)
                started = time.monotonic()
                detail = yield from step()
                seconds = round(time.monotonic() - started, 3)
                self.report["phases"].append({"phase": phase, "ok": True, "seconds": seconds,
                                              "detail": detail or ""})
                self._write_report()
                yield PhaseFinished(phase, True, seconds, detail or "")
        except _Failed as failed:
            yield from self._fail(failed.phase, failed.error)
            return
        except DockyardError as err:
            yield from self._fail(phase, str(err))
            return
        self.report["ok"] = True
        self.report["finished"] = datetime.now(UTC).isoformat()
        self._write_report()
        yield ReleaseFinished(ok=True, report_path=str(self.report_path))

    __iter__ = events

    def _phases(self) -> Iterator[tuple[str, Callable[[], _Step]]]:
        """Phases as (name, generator function returning a detail string)."""
        yield "preflight", self._preflight
        if self.output.pushes:
            yield "resolve", self._resolve
        yield "build", self._build
        if self.output.pushes:
            yield "verify", self._verify_version
            yield "aliases", self._move_aliases
            yield "verify-aliases", self._verify_aliases

    def _preflight(self) -> _Step:
        """Nothing runs before this passes: copy-mode binaries, the Dockerfile, engine support."""
        plan = self.plan
        for login in self.logins:
            cred = login.credential
            yield CredentialChosen(login.registry, cred.username if cred else None, login.source)
        if plan.mode == "copy":
            from core.binaries import check_dockerfile_copy, require_binaries

            if not plan.binary_template:
                raise PublishError("copy mode without a binary template", "pass --binary")
            check_dockerfile_copy(plan.dockerfile)
            checks = require_binaries(plan.context, plan.binary_template, plan.platforms)
            for check in checks:
                yield LogLine(text=f"{check.platform}: {check.path} ok")
        if self.output.kind == "load" and self.output.platform is not None:
            yield LogLine(text=f"loading only {self.output.platform} into {self.engine.name}")
        for item in self.engine.check(plan, self.output):
            extra = f" ({item.detail})" if item.detail else ""
            yield LogLine(text=f"{item.platform}: {item.how}{extra}", platform=item.platform)
        return f"{self.engine.name}, {len(plan.platforms)} platforms"

    def _resolve(self) -> _Step:
        """Look at each version tag before building anything."""
        details = []
        for image in self.plan.images:
            state = _ImageState(image, self.client_for(image.name))
            self._states.append(state)
            ref = image.name.with_tag(image.tags.version_tag)
            entry = self._image_report(state)
            head = state.client.head_manifest(image.name.path, image.tags.version_tag)
            if head is None:
                entry["existing"] = None
                details.append(f"{ref} is new")
                continue
            entry["existing"] = head.digest
            reason = self._same_release(state)
            if reason:
                raise PublishError(
                    f"{ref} already exists with digest {head.digest} and {reason}",
                    "version tags are immutable: release a new version",
                )
            state.skip_build, state.digest = True, head.digest
            yield LogLine(text=f"{ref} is already published from this commit ({head.digest})")
            details.append(f"{ref} already published")
        return "; ".join(details)

    def _same_release(self, state: _ImageState) -> str:
        """"" when the existing version tag is this release, else why it is not."""
        from core.platforms import normalize_platform
        from core.verify import config_platform, summarize_index

        image, client = state.image, state.client
        manifest = client.get_manifest(image.name.path, image.tags.version_tag)
        children: list[dict[str, Any]]
        if manifest.is_index:
            summary = summarize_index(manifest.json)
            platforms = set(summary.platforms)
            children = [client.get_manifest(image.name.path, e.digest).json
                        for e in summary.entries]
        else:
            children = [manifest.json]
            platforms = set()
        configs = []
        for child in children:
            digest = (child.get("config") or {}).get("digest")
            configs.append(client.get_blob_json(image.name.path, digest) if digest else {})
        if not manifest.is_index:
            found = config_platform(configs[0]) if configs else None
            platforms = {found} if found else set()
        planned = {normalize_platform(p.os, p.arch, p.variant) for p in self.plan.platforms}
        if platforms != planned:
            shown = ", ".join(sorted(str(p) for p in platforms)) or "no platforms"
            return f"other platforms ({shown})"
        for config in configs:
            labels = (config.get("config") or {}).get("Labels") or {}
            revision = labels.get(REVISION_LABEL)
            if revision != self.plan.commit:
                return f"was built from commit {revision or 'unknown'}, not {self.plan.commit[:12]}"
        return ""

    def _build(self) -> _Step:
        plan = self.plan
        if self.output.pushes:
            pending = tuple(s.image for s in self._states if not s.skip_build)
            if not pending:
                return "skipped: every version tag is already published from this commit"
            plan = dataclasses.replace(plan, images=pending)
        try:
            for event in self.engine.build(plan, self.output, cancel=self.cancel_event):
                if isinstance(event, DigestPushed):
                    self._record_digest(event)
                yield event
        except DockyardError as err:
            raise _Failed("build", str(err)) from err
        if not self.output.pushes:
            where = self.output.path or self.output.platform
            return f"{self.output.kind}: {where}"
        missing = [s.image.name.with_tag(s.image.tags.version_tag)
                   for s in self._states if s.digest is None]
        if missing:
            raise _Failed("build", f"the engine reported no digest for {', '.join(missing)}")
        return f"pushed {len(pending)} image(s)"

    def _record_digest(self, event: DigestPushed) -> None:
        for state in self._states:
            if state.image.name.with_tag(state.image.tags.version_tag) == event.image:
                state.digest = event.digest
                self._image_report(state)["digest"] = event.digest

    def _verify_version(self) -> _Step:
        from core.verify import verify_release

        for state in self._states:
            image = state.image
            report = verify_release(state.client, image.name, image.tags.version_tag,
                                    self.plan.platforms)
            self.report["verify"].append({"phase": "verify", **report.to_dict()})
            yield VerifyReported(report.ok, report.to_dict())
            if not report.ok:
                raise _Failed("verify", "; ".join(report.problems))
            if state.digest is not None and report.digest != state.digest:
                raise _Failed("verify", f"{image.name.with_tag(image.tags.version_tag)} is "
                              f"{report.digest}, not the pushed {state.digest}")
            state.digest = report.digest
        return "version tags match the plan"

    def _move_aliases(self) -> _Step:
        """Record where each alias points, write that down, then move the ones not there yet."""
        moved = 0
        for state in self._states:
            image = state.image
            for alias in image.tags.aliases:
                head = state.client.head_manifest(image.name.path, alias)
                state.previous[alias] = head.digest if head else None
            self._image_report(state)["aliases"] = {
                alias: {"previous": state.previous[alias], "target": state.digest}
                for alias in image.tags.aliases
            }
        self._write_report()  # the rollback information is on disk before anything moves
        for state in self._states:
            image = state.image
            todo = tuple(a for a in image.tags.aliases if state.previous[a] != state.digest)
            for alias in image.tags.aliases:
                if alias not in todo:
                    yield LogLine(text=f"{image.name.with_tag(alias)} already at {state.digest}")
            if not todo:
                continue
            subset = dataclasses.replace(image, tags=dataclasses.replace(image.tags, aliases=todo))
            try:
                yield from self.engine.move_aliases(subset, state.client, cancel=self.cancel_event)
            except DockyardError as err:
                state.moved = list(todo)  # unknown how far it got: treat all as touched
                raise _Failed("aliases", str(err)) from err
            state.moved = list(todo)
            assert state.digest is not None
            for alias in todo:
                moved += 1
                yield AliasMoved(str(image.name), alias, state.previous[alias], state.digest)
        return f"moved {moved} alias(es)"

    def _verify_aliases(self) -> _Step:
        from core.verify import verify_release

        for state in self._states:
            image = state.image
            report = verify_release(state.client, image.name, image.tags.version_tag,
                                    self.plan.platforms, image.tags.aliases)
            self.report["verify"].append({"phase": "verify-aliases", **report.to_dict()})
            yield VerifyReported(report.ok, report.to_dict())
            if not report.ok:
                raise _Failed("verify-aliases", "; ".join(report.problems))
        return "aliases resolve to the version digest"

    # -- failure -------------------------------------------------------------------------------

    def _fail(self, phase: str, error: str) -> Iterator[Event]:
        rolled_back: list[str] = []
        if phase in ("aliases", "verify-aliases"):
            rolled_back = self._roll_back()
        state = self._registry_state(rolled_back)
        self.report["failure"] = {"phase": phase, "error": error, "registry_state": state}
        self.report["phases"].append({"phase": phase, "ok": False})
        self.report["finished"] = datetime.now(UTC).isoformat()
        self._write_report()
        yield ReleaseFailed(phase=phase, error=error, registry_state=state)
        yield ReleaseFinished(ok=False, report_path=str(self.report_path))

    def _roll_back(self) -> list[str]:
        """Put moved aliases back on the manifest they pointed at (by its exact bytes)."""
        done: list[str] = []
        for state in self._states:
            repo = state.image.name.path
            for alias in state.moved:
                previous = state.previous.get(alias)
                if previous is None:
                    continue  # the registry API cannot delete a tag alone; reported below
                with contextlib.suppress(DockyardError):
                    manifest = state.client.get_manifest(repo, previous)
                    state.client.put_manifest(repo, alias, manifest.raw, manifest.media_type)
                    done.append(state.image.name.with_tag(alias))
        return done

    def _registry_state(self, rolled_back: list[str]) -> str:
        """What the registry holds now, in words (asked again, not assumed)."""
        if not self.output.pushes:
            return f"nothing pushed (output {self.output.kind})"
        if not self._states:
            return "nothing was pushed"
        parts: list[str] = []
        for state in self._states:
            image = state.image
            repo = image.name.path
            try:
                head = state.client.head_manifest(repo, image.tags.version_tag)
                version = (f"{image.name.with_tag(image.tags.version_tag)} "
                           f"{'is ' + head.digest if head else 'was not pushed'}")
                alias_words = []
                for alias in image.tags.aliases:
                    now = state.client.head_manifest(repo, alias)
                    digest = now.digest if now else None
                    was = state.previous.get(alias, digest)
                    if alias not in state.previous or digest == was:
                        alias_words.append(f"{alias} unchanged ({_short(digest)})")
                    else:
                        alias_words.append(f"{alias} now {_short(digest)} (was {_short(was)})")
            except DockyardError as err:
                parts.append(f"{image.name}: registry state unknown ({err})")
                continue
            parts.append(f"{version}; aliases: {', '.join(alias_words) or 'none'}")
        if rolled_back:
            parts.append(f"rolled back: {', '.join(rolled_back)}")
        return " | ".join(parts)

    # -- report --------------------------------------------------------------------------------

    def _image_report(self, state: _ImageState) -> dict[str, Any]:
        images: dict[str, Any] = self.report["images"]
        entry: dict[str, Any] = images.setdefault(str(state.image.name), {
            "version_tag": state.image.tags.version_tag,
            "aliases_planned": list(state.image.tags.aliases),
        })
        return entry

    def _write_report(self) -> None:
        for state in self._states:
            entry = self._image_report(state)
            entry["skip_build"] = state.skip_build
            entry["digest"] = state.digest
        with contextlib.suppress(OSError):
            self.report_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.report_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.report, indent=2, default=str) + "\n")
            tmp.replace(self.report_path)


def _short(digest: str | None) -> str:
    return digest[:19] if digest else "absent"


def run_release(
    plan: Plan,
    engine: Engine,
    *,
    client_for: ClientFactory | None = None,
    cancel: threading.Event | None = None,
    output: Output = PUSH,
    report_dir: Path | None = None,
    logins: Sequence[RegistryLogin] = (),
) -> Iterator[Event]:
    """The events of one release run; set ``cancel`` to stop it. Always ends with
    ReleaseFinished (preceded by ReleaseFailed when a phase failed)."""
    release = Release(plan, engine, client_for=client_for, output=output, cancel=cancel,
                      report_dir=report_dir, logins=logins)
    return release.events()


def release_with_stored_logins(
    plan: Plan,
    *,
    engine: str | None = None,
    insecure_registries: tuple[str, ...] = (),
    output: Output = PUSH,
    cancel: threading.Event | None = None,
    report_dir: Path | None = None,
    stall_timeout: float | None = None,
    build_timeout: float | None = None,
) -> Iterator[Event]:
    """A release as the CLI and the TUI run it: the stored logins are looked up once, handed to
    the engine through a throw-away docker config (removed afterwards), and one registry client
    per host is shared by every phase."""
    from core.engines.base import EngineOptions, select_engine

    logins = plan_logins(plan)
    with engine_credentials(logins) as docker_config:
        options = EngineOptions.from_env(
            docker_config=docker_config, insecure_registries=insecure_registries
        ).with_builder(plan.builder)
        options = dataclasses.replace(  # --stall-timeout / --build-timeout win over the env
            options, stall_timeout=stall_timeout or options.stall_timeout,
            build_timeout=build_timeout or options.build_timeout)
        selected = select_engine(None if engine in (None, "auto") else engine, options)
        clients: dict[str, RegistryClient] = {}
        factory = default_client_for(insecure_registries, logins)

        def client_for(image: ImageName) -> RegistryClient:
            if image.api_host not in clients:
                clients[image.api_host] = factory(image)
            return clients[image.api_host]

        try:
            yield from run_release(plan, selected, client_for=client_for, cancel=cancel,
                                   output=output, report_dir=report_dir, logins=logins)
        finally:
            for client in clients.values():
                client.close()
