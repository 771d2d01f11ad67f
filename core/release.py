"""Run a plan through the publish phases; every tag is written from bytes that were verified.

1. **build**: the engine pushes each image by digest, with no tag (core/publish.py);
2. **verify**: that digest holds exactly the planned platforms (core/verify.py);
3. **tag**: the version tag is created from the verified bytes, never replaced: if another
   release created it meanwhile, this run stops and moves nothing;
4. **aliases**: each alias gets the same bytes, unless a newer release is already published
   (judged against the registry, not only the checkout: never backwards, core/published.py);
5. **verify-aliases**: the version tag is still ours and each alias resolves to it; a race
   with another release is settled here (an alias taken backwards by this run is given back).

Each run writes a JSON report (phases, digests, every alias's previous digest) so an alias move
can be rolled back by hand, and a failure says which phase failed and what the registry holds.
A cancel (Ctrl-C, SIGTERM) during the alias phase stops it: the report lists what moved and a
re-run completes the rest.

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
import secrets
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from core.clients import logged_in_clients
from core.engines.base import PUSH, REVISION_LABEL, ClientFactory, Output
from core.errors import DockyardError, PublishError
from core.events import (
    AliasMoved,
    AliasWithheld,
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
    from core.parts import Part
    from core.plan import ImagePlan, Plan
    from core.reference import ImageName
    from core.registry import Manifest, RegistryClient
    from core.version import ReleaseVersion
#: The phases of a release that pushes, in order (screens show them as a checklist).
PHASES = ("preflight", "resolve", "build", "verify", "tag", "aliases", "verify-aliases")


def phases_for(*, part: bool = False, merge: bool = False) -> tuple[str, ...]:
    """The phases a pushing run goes through: a part stops after verify with its part file, a
    merge assembles the parts' index instead of building (as ``Release._phases`` runs them)."""
    if part:
        return (*PHASES[:PHASES.index("verify") + 1], "part")
    if merge:
        return tuple("merge" if phase == "build" else phase for phase in PHASES)
    return PHASES
_Step = Generator[Event, None, str]  # a phase: streams events, returns a one-line detail


def default_report_dir() -> Path:
    """dockyard's state dir (platformdirs: ``$XDG_STATE_HOME/dockyard`` on Linux) ``/runs``:
    outside the project, so a run never dirties the tree."""
    return platformdirs.user_state_path("dockyard") / "runs"


def plan_logins(plan: Plan, given: Sequence[RegistryLogin] = ()) -> list[RegistryLogin]:
    """The login for each registry the plan pushes to, looked up once for the run: ``given``
    (``--login``) first, the stored ones for the others (none looked up when none are left)."""
    from core.credentials import logins_for
    from core.reference import canonical_registry

    chosen = {login.registry for login in given}
    rest = [image.name.domain for image in plan.images
            if canonical_registry(image.name.domain) not in chosen]
    return [*given, *(logins_for(rest) if rest else ())]


class RequestStop:
    """What a run's registry clients check: the run's cancel, except while the failure is being
    reported, when requests get ``grace`` seconds (what the registry holds now is worth saying,
    and a registry that hangs then still cannot hold the exit for long)."""

    def __init__(self, cancel: threading.Event, grace: float = 1.0) -> None:
        self.cancel = cancel
        self.grace = grace
        self._reporting_since: float | None = None

    def reporting(self) -> None:
        self._reporting_since = time.monotonic()

    def is_set(self) -> bool:
        if not self.cancel.is_set():
            return False
        since = self._reporting_since
        return since is None or time.monotonic() - since > self.grace

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.is_set():
            left = 0.05 if deadline is None else min(0.05, deadline - time.monotonic())
            if left <= 0:
                return False
            time.sleep(left)  # steps: the answer also turns with time, not only with the event
        return True


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
    digest: str | None = None  # pushed (or already published) digest; tags follow it
    manifest: Manifest | None = None  # the verified bytes every tag is written from
    kept: list[str] = dataclasses.field(default_factory=list)  # aliases this run points at it
    previous: dict[str, str | None] = dataclasses.field(default_factory=dict)
    moved: list[str] = dataclasses.field(default_factory=list)
    withheld: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    @property
    def repo(self) -> str:
        return self.image.name.path

    @property
    def version_ref(self) -> str:
        return self.image.name.with_tag(self.image.tags.version_tag)


class _Failed(Exception):
    """Internal: a phase failed; carries the error for ReleaseFailed. ``kind`` says how the
    aliases already moved are treated: "error" rolls them back, "cancelled" leaves them (a
    re-run completes the rest), "lost" hands them to the release that holds the version tag."""

    def __init__(self, phase: str, error: str, kind: str = "error") -> None:
        super().__init__(error)
        self.phase = phase
        self.error = error
        self.kind = kind


class Release:
    """One run of a plan. Iterate ``events()`` in a worker thread; ``cancel()`` from another."""

    def __init__(
        self,
        plan: Plan,
        engine: Engine | None,
        *,
        client_for: ClientFactory | None = None,
        output: Output = PUSH,
        cancel: threading.Event | None = None,
        report_dir: Path | None = None,
        logins: Sequence[RegistryLogin] = (),
        part_file: Path | None = None,
        merge: Sequence[Part] = (),
        request_stop: RequestStop | None = None,
    ) -> None:
        """``part_file``: build and push only ``plan.platforms`` by digest and describe them in
        that file, moving no tag. ``merge``: build nothing; assemble the parts' index, then
        publish it as a release does. ``engine`` may be None only for a merge."""
        if engine is None and not merge:
            raise DockyardError("no build engine", "this is a dockyard bug", field="engine")
        self.plan = plan
        self.engine = engine
        self.part_file = part_file
        self.merge = tuple(merge)
        self.request_stop = request_stop
        self.logins = tuple(logins)
        insecure = engine.options.insecure_registries if engine is not None else ()
        self.client_for = client_for or logged_in_clients(insecure, self.logins)
        self.output = output
        self.cancel_event = cancel or threading.Event()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        directory = report_dir or default_report_dir()
        run = f"{os.getpid()}-{secrets.token_hex(3)}"  # two runs in one process at once, too
        self.report_path = directory / f"{plan.version.image_tag}-{stamp}-{run}.json"
        self.report: dict[str, Any] = {
            "version": plan.version.text,
            "commit": plan.commit,
            "engine": engine.name if engine is not None else None,
            "mode": "part" if part_file else "merge" if merge else "release",
            "output": {"kind": output.kind, "path": str(output.path) if output.path else None,
                       "platform": str(output.platform) if output.platform else None},
            "started": datetime.now(UTC).isoformat(),
            "phases": [],
            "images": {},
            "verify": [],
            "ok": False,
        }
        self._states: list[_ImageState] = []
        self._report_error: str | None = None

    def cancel(self) -> None:
        """Stop the run: the engine's process group gets SIGINT, then SIGKILL; an alias phase
        stops before its next move."""
        self.cancel_event.set()

    # -- the run -------------------------------------------------------------------------------

    def events(self) -> Iterator[Event]:
        phase = "preflight"
        try:
            self._write_report(strict=True)  # before anything runs: no report, no release
            for phase, step in self._phases():
                if self.cancel_event.is_set() and phase != "verify-aliases":
                    # a cancel before a phase stops the run; once aliases moved, it is only read
                    raise _Failed(phase, "cancelled before this phase started", "cancelled")
                yield PhaseStarted(phase)
                started = time.monotonic()
                detail = yield from step()
                seconds = round(time.monotonic() - started, 3)
                self.report["phases"].append({"phase": phase, "ok": True, "seconds": seconds,
                                              "detail": detail or ""})
                self._write_report()
                yield PhaseFinished(phase, True, seconds, detail or "")
        except _Failed as failed:
            yield from self._fail(failed)
            return
        except DockyardError as err:
            kind = "cancelled" if self.cancel_event.is_set() else "error"
            yield from self._fail(_Failed(phase, str(err), kind))
            return
        except Exception as err:
            # a bug of ours or an error a library let through: still a failed phase with a
            # report and the registry's state, never a traceback half-way through a publish
            yield from self._fail(_Failed(phase, f"unexpected {type(err).__name__}: {err}"))
            return
        self.report["ok"] = True
        self.report["finished"] = datetime.now(UTC).isoformat()
        self._write_report()
        if self._report_error is not None:
            error = f"report: {self._report_error}"
            yield ReleaseFailed(phase="report", error=error, registry_state=self._summary())
            yield ReleaseFinished(ok=False, report_path="")
            return
        yield ReleaseFinished(ok=True, report_path=str(self.report_path))

    __iter__ = events

    def _phases(self) -> Iterator[tuple[str, Callable[[], _Step]]]:
        """Phases as (name, generator function returning a detail string)."""
        yield "preflight", self._preflight
        if self.output.pushes:
            yield "resolve", self._resolve
        if self.merge:
            yield "merge", self._merge_parts
        else:
            yield "build", self._build
        if self.output.pushes:
            yield "verify", self._verify_pushed
        if self.part_file is not None:
            yield "part", self._write_part
            return
        if self.output.pushes:
            yield "tag", self._tag_versions
            yield "aliases", self._move_aliases
            yield "verify-aliases", self._verify_aliases

    def _check_cancel(self, phase: str) -> None:
        if self.cancel_event.is_set():
            raise _Failed(phase, "cancelled", "cancelled")

    def _preflight(self) -> _Step:
        """Nothing runs before this passes: copy-mode binaries, the Dockerfile, engine support;
        for a merge, that the parts belong together."""
        plan = self.plan
        for login in self.logins:
            cred = login.credential
            yield CredentialChosen(login.registry, cred.username if cred else None, login.source)
        if self.merge:
            from core.parts import check_parts

            check_parts(self.merge, plan)
            for part in self.merge:
                platforms = ", ".join(str(p) for p in part.platforms)
                yield LogLine(text=f"part {part.source}: {platforms} ({part.engine})")
            return f"{len(self.merge)} parts, {len(plan.platforms)} platforms"
        assert self.engine is not None
        if plan.mode == "copy":
            from core.binaries import check_dockerfile_copy, require_binaries

            if not plan.binary_template:
                raise PublishError("copy mode without a binary template", "pass --binary")
            check_dockerfile_copy(plan.dockerfile)
            checks = require_binaries(plan.context, plan.binary_template, plan.platforms)
            from core.staging import copy_layout

            copy_layout(plan.dockerfile, plan.context, checks, target=plan.build.target,
                        build_args=dict(plan.build.build_args))
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
            entry = self._image_report(state)
            head = state.client.head_manifest(state.repo, image.tags.version_tag)
            if head is None:
                entry["existing"] = None
                details.append(f"{state.version_ref} is new")
                continue
            entry["existing"] = head.digest
            reason = self._same_release(state, image.tags.version_tag,
                                        platforms=self.part_file is None)
            if reason and self.part_file is not None:
                raise PublishError(
                    f"{state.version_ref} already exists with digest {head.digest} and {reason}",
                    "version tags are immutable: a part of it cannot be built any more",
                )
            if self.part_file is not None:
                details.append(f"{state.version_ref} already published from this commit")
                continue  # a leg re-run after the merge: build the part anyway, harmless
            if reason:
                raise PublishError(
                    f"{state.version_ref} already exists with digest {head.digest} and {reason}",
                    "version tags are immutable: release a new version",
                )
            state.skip_build, state.digest = True, head.digest
            yield LogLine(text=f"{state.version_ref} is already published from this commit "
                               f"({head.digest})")
            details.append(f"{state.version_ref} already published")
        return "; ".join(details)

    def _same_release(self, state: _ImageState, ref: str, *, platforms: bool = True) -> str:
        """"" when the image at ``ref`` is this release, else why it is not (``platforms``:
        its platforms must be the plan's too)."""
        from core.image import config_platform, summarize_index
        from core.platforms import normalize_platform

        client, repo = state.client, state.repo
        manifest = client.get_manifest(repo, ref)
        children: list[dict[str, Any]]
        if manifest.is_index:
            summary = summarize_index(manifest.json)
            found_platforms = set(summary.platforms)
            children = [client.get_manifest(repo, e.digest).json for e in summary.entries]
        else:
            children = [manifest.json]
            found_platforms = set()
        configs = []
        for child in children:
            digest = (child.get("config") or {}).get("digest")
            configs.append(client.get_blob_json(repo, digest) if digest else {})
        if not manifest.is_index:
            found = config_platform(configs[0]) if configs else None
            found_platforms = {found} if found else set()
        planned = {normalize_platform(p.os, p.arch, p.variant) for p in self.plan.platforms}
        if platforms and found_platforms != planned:
            shown = ", ".join(sorted(str(p) for p in found_platforms)) or "no platforms"
            return f"other platforms ({shown})"
        for config in configs:
            labels = (config.get("config") or {}).get("Labels") or {}
            revision = labels.get(REVISION_LABEL)
            if revision != self.plan.commit:
                return f"was built from commit {revision or 'unknown'}, not {self.plan.commit[:12]}"
        return ""

    def _merge_parts(self) -> _Step:
        """Assemble each image's index from the parts and push it by digest (no tag)."""
        from core.parts import merged_index

        merged = 0
        for state in self._states:
            self._check_cancel("merge")
            if state.skip_build:
                continue
            index = merged_index(state.client, state.repo, str(state.image.name), self.merge,
                                 self.plan.platforms)
            state.client.put_manifest(state.repo, index.digest, index.raw, index.media_type)
            merged += 1
            event = DigestPushed(str(state.image.name), index.digest)
            self._record_digest(event)
            yield event
        if not merged:
            return "skipped: every version tag is already published from this commit"
        return f"merged {len(self.merge)} parts into {merged} index(es)"

    def _write_part(self) -> _Step:
        """Describe what this leg pushed, for the merge; no tag moves."""
        from core.parts import Part, PartImage, write_part

        assert self.part_file is not None and self.engine is not None
        images = []
        for state in self._states:
            assert state.manifest is not None
            images.append(PartImage(str(state.image.name), state.manifest.digest,
                                    state.manifest.media_type))
        part = Part(version=self.plan.version.text, git_tag=self.plan.version.git_tag,
                    revision=self.plan.commit, platforms=self.plan.platforms,
                    images=tuple(images), engine=self.engine.name,
                    builder=self.engine.options.builder)
        path = write_part(part, self.part_file)
        self.report["part_file"] = str(path)
        yield LogLine(text=f"part file written: {path}")
        return f"part file {path}"

    def _build(self) -> _Step:
        assert self.engine is not None
        plan = self.plan
        if self.output.pushes:
            pending = tuple(s.image for s in self._states if not s.skip_build)
            if not pending:
                return "skipped: every version tag is already published from this commit"
            plan = dataclasses.replace(plan, images=pending)
        from core.staging import staged_context

        try:
            with staged_context(plan) as plan:
                for event in self.engine.build(plan, self.output, cancel=self.cancel_event,
                                               client_for=self.client_for):
                    if isinstance(event, DigestPushed):
                        self._record_digest(event)
                    yield event
        except DockyardError as err:
            kind = "cancelled" if self.cancel_event.is_set() else "error"
            raise _Failed("build", str(err), kind) from err
        if not self.output.pushes:
            where = self.output.path or self.output.platform
            return f"{self.output.kind}: {where}"
        missing = [s.version_ref for s in self._states if s.digest is None]
        if missing:
            raise _Failed("build", f"the engine reported no digest for {', '.join(missing)}")
        return f"pushed {len(pending)} image(s) by digest"

    def _record_digest(self, event: DigestPushed) -> None:
        for state in self._states:
            if event.image in (str(state.image.name), state.version_ref):
                state.digest = event.digest
                self._image_report(state)["digest"] = event.digest

    def _verify_digest(self, state: _ImageState, phase: str) -> Iterator[Event]:
        """Check the image behind ``state.digest`` and keep its bytes for every tag."""
        from core.verify import verify_release

        assert state.digest is not None
        report = verify_release(state.client, state.image.name, state.digest,
                                self.plan.platforms)
        self.report["verify"].append({"phase": phase, **report.to_dict()})
        yield VerifyReported(report)
        if not report.ok:
            raise _Failed(phase, "; ".join(report.problems))
        state.manifest = state.client.get_manifest(state.repo, state.digest)

    def _verify_pushed(self) -> _Step:
        for state in self._states:
            self._check_cancel("verify")
            yield from self._verify_digest(state, "verify")
        return "pushed digests match the plan"

    def _tag_versions(self) -> _Step:
        """Create each version tag from the verified bytes; never replace one."""
        from core.publish import create_version_tag

        details = []
        for state in self._states:
            self._check_cancel("tag")
            assert state.manifest is not None and state.digest is not None
            tag = state.image.tags.version_tag
            claim = create_version_tag(state.client, state.repo, tag, state.manifest)
            if claim.won(state.digest):
                words = "created" if claim.created else "already there"
                yield LogLine(text=f"{state.version_ref} -> {state.digest} ({words})")
                details.append(f"{state.version_ref} {words}")
                continue
            reason = self._same_release(state, claim.holder)
            if reason:
                raise _Failed("tag", f"{state.version_ref} was created by another release during "
                              f"this run: it holds {claim.holder}, this run pushed "
                              f"{state.digest} ({reason}); version tags are never replaced, "
                              "so nothing was moved", "lost")
            yield from self._adopt(state, claim.holder, "tag")
            details.append(f"{state.version_ref} already published ({claim.holder})")
        return "; ".join(details)

    def _move_aliases(self) -> _Step:
        """Weigh the registry (never backwards), write down where each alias points, then move
        the ones not there yet, checking before each move that the version tag is still ours."""
        from core.publish import put_alias
        from core.published import guard, read_published

        version = self.plan.version
        for state in self._states:
            image = state.image
            published = read_published(state.client, state.repo, version, image.tags.aliases)
            allowed = guard(image.tags, version, published)
            for alias, reason in allowed.withheld:
                if alias in image.tags.aliases:
                    state.withheld.append((alias, reason))
                    yield AliasWithheld(str(image.name), alias, reason)
            state.kept = list(allowed.aliases)
            for alias in image.tags.aliases:
                now = published.aliases.get(alias)
                if now is None:
                    head = state.client.head_manifest(state.repo, alias)
                    state.previous[alias] = head.digest if head else None
                else:
                    state.previous[alias] = now.digest
            self._image_report(state)["aliases"] = {
                alias: {"previous": state.previous[alias], "target": state.digest}
                for alias in state.kept
            }
        self._write_report()  # the rollback information is on disk before anything moves
        moved = 0
        for state in self._states:
            assert state.manifest is not None and state.digest is not None
            for alias in state.kept:
                if state.previous[alias] == state.digest:
                    yield LogLine(text=f"{state.image.name.with_tag(alias)} already at "
                                       f"{state.digest}")
                    continue
                self._check_cancel("aliases")
                yield from self._still_ours(state, "aliases")
                put_alias(state.client, state.repo, alias, state.manifest)
                state.moved.append(alias)
                self._write_report()
                moved += 1
                yield AliasMoved(str(state.image.name), alias, state.previous[alias], state.digest)
        held = sum(len(s.withheld) for s in self._states)
        return f"moved {moved} alias(es)" + (f", withheld {held}" if held else "")

    def _still_ours(self, state: _ImageState, phase: str) -> Iterator[Event]:
        """The version tag still holds this run's digest. If a run of the same commit wrote it
        since (a CI re-run racing this one), its image is adopted: verified, and every alias
        goes to it instead; anything else means this run lost, and it moves nothing more."""
        from core.publish import holds

        assert state.digest is not None
        other = holds(state.client, state.repo, state.image.tags.version_tag, state.digest)
        if other is None:
            return
        reason = "it is absent" if other == "absent" else self._same_release(state, other)
        if reason:
            raise _Failed(phase, f"{state.version_ref} was replaced by another release during "
                          f"this run: it now holds {other}, not {state.digest} ({reason})",
                          "lost")
        yield from self._adopt(state, other, phase)

    def _adopt(self, state: _ImageState, holder: str, phase: str) -> Iterator[Event]:
        yield LogLine(text=f"{state.version_ref} was published meanwhile from this commit by "
                           f"another run ({holder}); using it")
        state.digest = holder
        self._image_report(state)["adopted"] = holder
        yield from self._verify_digest(state, phase)

    def _verify_aliases(self) -> _Step:
        """The version tag is still ours; settle races over the aliases; then verify them."""
        from core.verify import verify_release

        for state in self._states:
            yield from self._still_ours(state, "verify-aliases")
            yield from self._settle(state)
            yield from self._still_ours(state, "verify-aliases")
            image = state.image
            report = verify_release(state.client, image.name, image.tags.version_tag,
                                    self.plan.platforms, state.kept)
            self.report["verify"].append({"phase": "verify-aliases", **report.to_dict()})
            yield VerifyReported(report)
            if not report.ok:
                raise _Failed("verify-aliases", "; ".join(report.problems))
        return "aliases resolve to the version digest"

    def _settle(self, state: _ImageState, rounds: int = 3) -> Iterator[Event]:
        """Read the registry again after the moves. A newer release published meanwhile takes
        back an alias this run moved (it is handed to that release's version tag); an alias an
        older release moved after us is put back on ours. Repeats until nothing changes."""
        from core.publish import put_alias
        from core.published import guard, read_published

        assert state.manifest is not None and state.digest is not None
        version = self.plan.version
        for _ in range(rounds):
            tags = dataclasses.replace(state.image.tags, aliases=tuple(state.kept), withheld=())
            published = read_published(state.client, state.repo, version, tags.aliases,
                                       known={state.digest: version})
            allowed = guard(tags, version, published)
            changed = False
            for alias, reason in allowed.withheld:
                now = published.aliases.get(alias)
                if now is not None and now.digest == state.digest:
                    newest = self._newest_in_series(alias, published.releases)
                    if newest is not None:
                        source = state.client.get_manifest(state.repo, newest.image_tag)
                        put_alias(state.client, state.repo, alias, source)
                        yield LogLine(text=f"{state.image.name.with_tag(alias)} given back to "
                                           f"{newest.image_tag} ({source.digest})")
                        changed = True
                state.kept.remove(alias)
                state.withheld.append((alias, f"{reason} (published during this run)"))
                yield AliasWithheld(str(state.image.name), alias, state.withheld[-1][1])
            for alias in allowed.aliases:
                now = published.aliases.get(alias)
                digest = now.digest if now is not None else None
                if now is None:
                    head = state.client.head_manifest(state.repo, alias)
                    digest = head.digest if head else None
                if digest != state.digest:
                    put_alias(state.client, state.repo, alias, state.manifest)
                    yield LogLine(text=f"{state.image.name.with_tag(alias)} was moved to "
                                       f"{digest or 'nothing'} by another run; put back on "
                                       f"{state.digest}")
                    changed = True
            if not changed:
                return

    def _newest_in_series(self, alias: str, releases: Sequence[ReleaseVersion]
                          ) -> ReleaseVersion | None:
        from core.tags import series_of

        in_series = series_of(alias, self.plan.version)
        return max((k for k in releases if in_series is None or in_series(k)), default=None)

    # -- failure -------------------------------------------------------------------------------

    def _fail(self, failed: _Failed) -> Iterator[Event]:
        if self.request_stop is not None:
            self.request_stop.reporting()  # the registry's state is read, briefly, after a stop
        restored: list[str] = []
        if failed.kind != "cancelled" and any(s.moved for s in self._states):
            restored = self._restore(lost=failed.kind == "lost")
        state = self._registry_state(restored)
        self.report["failure"] = {"phase": failed.phase, "error": failed.error,
                                  "kind": failed.kind, "registry_state": state,
                                  "moved": {str(s.image.name): s.moved for s in self._states}}
        self.report["phases"].append({"phase": failed.phase, "ok": False})
        self.report["finished"] = datetime.now(UTC).isoformat()
        self._write_report()
        error = failed.error
        if self._report_error is not None:
            error += f"; report: {self._report_error}"
        yield ReleaseFailed(phase=failed.phase, error=error, registry_state=state)
        path = "" if self._report_error is not None else str(self.report_path)
        yield ReleaseFinished(ok=False, report_path=path)

    def _restore(self, *, lost: bool) -> list[str]:
        """Moved aliases still on this run's digest go back: to where they pointed before, or,
        when another release holds the version tag, to that release (its exact bytes)."""
        done: list[str] = []
        for state in self._states:
            repo = state.repo
            for alias in state.moved:
                with contextlib.suppress(Exception):  # best effort: the report says the rest
                    now = state.client.head_manifest(repo, alias)
                    if now is None or now.digest != state.digest:
                        continue  # someone moved it since: theirs to keep
                    target = state.image.tags.version_tag if lost else state.previous.get(alias)
                    if target is None:
                        continue  # the registry API cannot delete a tag alone; reported below
                    manifest = state.client.get_manifest(repo, target)
                    state.client.put_manifest(repo, alias, manifest.raw, manifest.media_type)
                    done.append(state.image.name.with_tag(alias))
        return done

    def _registry_state(self, restored: list[str]) -> str:
        """What the registry holds now, in words (asked again, not assumed)."""
        if not self.output.pushes:
            return f"nothing pushed (output {self.output.kind})"
        if not self._states:
            return "nothing was pushed"
        parts: list[str] = []
        for state in self._states:
            image = state.image
            repo = state.repo
            try:
                head = state.client.head_manifest(repo, image.tags.version_tag)
                version = (f"{state.version_ref} "
                           f"{'is ' + head.digest if head else 'was not pushed'}")
                if state.digest is not None and (head is None or head.digest != state.digest):
                    version += f" (this run's image {_short(state.digest)} has no tag)"
                alias_words = []
                for alias in image.tags.aliases:
                    now = state.client.head_manifest(repo, alias)
                    digest = now.digest if now else None
                    was = state.previous.get(alias, digest)
                    if alias not in state.previous or digest == was:
                        alias_words.append(f"{alias} unchanged ({_short(digest)})")
                    else:
                        alias_words.append(f"{alias} now {_short(digest)} (was {_short(was)})")
            except Exception as err:  # whatever went wrong, the failure is still reported
                parts.append(f"{image.name}: registry state unknown ({err})")
                continue
            parts.append(f"{version}; aliases: {', '.join(alias_words) or 'none'}")
        if restored:
            parts.append(f"rolled back: {', '.join(restored)}")
        return " | ".join(parts)

    def _summary(self) -> str:
        return "; ".join(f"{s.version_ref} -> {s.digest}, aliases {', '.join(s.kept) or 'none'}"
                         for s in self._states) or "nothing pushed"

    # -- report --------------------------------------------------------------------------------

    def _image_report(self, state: _ImageState) -> dict[str, Any]:
        images: dict[str, Any] = self.report["images"]
        entry: dict[str, Any] = images.setdefault(str(state.image.name), {
            "version_tag": state.image.tags.version_tag,
            "aliases_planned": list(state.image.tags.aliases),
        })
        return entry

    def _write_report(self, *, strict: bool = False) -> None:
        """Write the report atomically. A failure is remembered (the run then fails at its end);
        with ``strict`` (before anything runs) it stops the run at once."""
        for state in self._states:
            entry = self._image_report(state)
            entry["skip_build"] = state.skip_build
            entry["digest"] = state.digest
            entry["moved"] = list(state.moved)
            entry["withheld"] = [{"tag": t, "reason": r} for t, r in state.withheld]
        try:
            self.report_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.report_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.report, indent=2, default=str) + "\n")
            tmp.replace(self.report_path)
        except OSError as err:
            self._report_error = f"cannot write {self.report_path}: {err.strerror or err}"
            if strict:
                raise DockyardError(self._report_error, "set XDG_STATE_HOME to a writable "
                                    "directory", field="report") from None


def _short(digest: str | None) -> str:
    return digest[:19] if digest else "absent"


def run_release(
    plan: Plan,
    engine: Engine | None,
    *,
    client_for: ClientFactory | None = None,
    cancel: threading.Event | None = None,
    output: Output = PUSH,
    report_dir: Path | None = None,
    logins: Sequence[RegistryLogin] = (),
    part_file: Path | None = None,
    merge: Sequence[Part] = (),
    request_stop: RequestStop | None = None,
) -> Iterator[Event]:
    """The events of one release run (or part, or merge: see Release); set ``cancel`` to stop
    it. Always ends with ReleaseFinished (preceded by ReleaseFailed when a phase failed)."""
    release = Release(plan, engine, client_for=client_for, output=output, cancel=cancel,
                      report_dir=report_dir, logins=logins, part_file=part_file, merge=merge,
                      request_stop=request_stop)
    return release.events()


def release_with_stored_logins(
    plan: Plan,
    *,
    insecure_registries: tuple[str, ...] = (),
    output: Output = PUSH,
    cancel: threading.Event | None = None,
    report_dir: Path | None = None,
    ca_file: Path | None = None,
    part_file: Path | None = None,
    merge: Sequence[Part] = (),
    stall_timeout: float | None = None,
    build_timeout: float | None = None,
    given_logins: Sequence[RegistryLogin] = (),
) -> Iterator[Event]:
    """A release as the CLI and the TUI run it: the stored logins are looked up once (those
    ``given_logins`` does not cover), handed to the engine through a throw-away docker config
    (removed afterwards), and one registry client per host is shared by every phase."""
    from core.engines.base import EngineOptions
    from core.engines.selection import plan_engine
    from core.registry import engine_cert_dir

    logins = plan_logins(plan, given_logins)
    cancel = cancel or threading.Event()  # one event stops the engine and the registry calls
    with engine_credentials(logins) as docker_config, engine_cert_dir(ca_file) as cert_dir:
        options = EngineOptions.from_env(
            docker_config=docker_config, insecure_registries=insecure_registries,
            cert_dir=cert_dir,  # a FROM on the private-CA registry: the engine trusts it too
        ).with_builder(plan.builder)
        options = dataclasses.replace(  # --stall-timeout / --build-timeout win over the env
            options, stall_timeout=stall_timeout or options.stall_timeout,
            build_timeout=build_timeout or options.build_timeout)
        selected = None if merge else plan_engine(plan, options)  # a merge builds nothing
        clients: dict[str, RegistryClient] = {}
        stop = RequestStop(cancel)
        factory = logged_in_clients(insecure_registries, logins, ca_file=ca_file,
                                    cancel=stop, stall_timeout=options.stall_timeout)

        def client_for(image: ImageName) -> RegistryClient:
            if image.api_host not in clients:
                clients[image.api_host] = factory(image)
            return clients[image.api_host]

        if selected is not None and selected.note:
            yield LogLine(text=f"note: {selected.note}")
        try:
            yield from run_release(plan, selected, client_for=client_for, cancel=cancel,
                                   output=output, report_dir=report_dir, logins=logins,
                                   part_file=part_file, merge=merge, request_stop=stop)
        finally:
            for client in clients.values():
                client.close()
