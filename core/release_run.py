"""The phase runner of a release: one run of a plan, phase by phase, each streaming events.

The rule it enforces is told in core/release.py; the aliases are release_aliases.py's, the
report release_report.py's, the stop of the registry clients release_stop.py's.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from core.binaries import check_dockerfile_copy, require_binaries
from core.clients import logged_in_clients
from core.engines.base import PUSH, REVISION_LABEL, ClientFactory, Output
from core.errors import DockyardError, PublishError
from core.events import (
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
from core.platforms import normalize_platform
from core.release_aliases import move_aliases, restore, verify_aliases
from core.release_report import RunReport, registry_state, summary
from core.release_state import ImageState, PhaseFailed
from core.release_stop import RequestStop
from core.staging import copy_layout, staged_context

if TYPE_CHECKING:
    from core.credentials import RegistryLogin
    from core.engines.base import Engine
    from core.parts import Part
    from core.plan import Plan

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
        mode = "part" if part_file else "merge" if merge else "release"
        self._states: list[ImageState] = []
        self.report = RunReport.for_plan(plan, engine.name if engine is not None else None,
                                         mode, output, self._states, report_dir)

    @property
    def report_path(self) -> Path:
        """Where the report is written (also while the run goes)."""
        return self.report.path

    def cancel(self) -> None:
        """Stop the run: the engine's process group gets SIGINT, then SIGKILL; an alias phase
        stops before its next move."""
        self.cancel_event.set()

    # -- the run -------------------------------------------------------------------------------

    def events(self) -> Iterator[Event]:
        return run_phases(self._phases(), self.report, self._states, self.cancel_event,
                          self.output, self.request_stop)

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
            raise PhaseFailed(phase, "cancelled", "cancelled")

    def _preflight(self) -> _Step:
        """Nothing runs before this passes: copy-mode binaries, the Dockerfile, engine support;
        for a merge, that the parts belong together."""
        plan = self.plan
        for login in self.logins:
            cred = login.credential
            yield CredentialChosen(login.registry, cred.who if cred else None, login.source)
        if self.merge:
            # kept off the start-up path: loads httpcore, httpx
            from core.parts import check_parts

            check_parts(self.merge, plan)
            for part in self.merge:
                platforms = ", ".join(str(p) for p in part.platforms)
                yield LogLine(text=f"part {part.source}: {platforms} ({part.engine})")
            return f"{len(self.merge)} parts, {len(plan.platforms)} platforms"
        assert self.engine is not None
        if plan.mode == "copy":

            if not plan.binary_template:
                raise PublishError("copy mode without a binary template", "pass --binary")
            check_dockerfile_copy(plan.dockerfile)
            checks = require_binaries(plan.context, plan.binary_template, plan.platforms)

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
            state = ImageState(image, self.client_for(image.name))
            self._states.append(state)
            if self.output.pushes:  # refused now, not after the build
                state.client.check_push(state.repo)
            entry = self.report.image(state)
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

    def _same_release(self, state: ImageState, ref: str, *, platforms: bool = True) -> str:
        """"" when the image at ``ref`` is this release, else why it is not (``platforms``:
        its platforms must be the plan's too)."""
        # kept off the start-up path: loads httpcore, httpx
        from core.image import read_image

        image = read_image(state.client, state.repo, ref)
        if image.index is not None:
            found_platforms = set(image.index.platforms)
        else:  # a single image is the platform its config declares
            found_platforms = {p.declared for p in image.platforms if p.declared is not None}
        planned = {normalize_platform(p.os, p.arch, p.variant) for p in self.plan.platforms}
        if platforms and found_platforms != planned:
            shown = ", ".join(sorted(str(p) for p in found_platforms)) or "no platforms"
            return f"other platforms ({shown})"
        for platform in image.platforms:
            labels = (platform.config.get("config") or {}).get("Labels") or {}
            revision = labels.get(REVISION_LABEL)
            if revision != self.plan.commit:
                return f"was built from commit {revision or 'unknown'}, not {self.plan.commit[:12]}"
        return ""

    def _merge_parts(self) -> _Step:
        """Assemble each image's index from the parts and push it by digest (no tag)."""
        # kept off the start-up path: loads httpcore, httpx
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
        # kept off the start-up path: loads httpcore, httpx
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
        self.report.data["part_file"] = str(path)
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

        try:
            with staged_context(plan) as plan:
                for event in self.engine.build(plan, self.output, cancel=self.cancel_event,
                                               client_for=self.client_for):
                    if isinstance(event, DigestPushed):
                        self._record_digest(event)
                    yield event
        except DockyardError as err:
            kind = "cancelled" if self.cancel_event.is_set() else "error"
            raise PhaseFailed("build", str(err), kind) from err
        if not self.output.pushes:
            where = self.output.path or self.output.platform
            return f"{self.output.kind}: {where}"
        missing = [s.version_ref for s in self._states if s.digest is None]
        if missing:
            raise PhaseFailed("build", f"the engine reported no digest for {', '.join(missing)}")
        return f"pushed {len(pending)} image(s) by digest"

    def _record_digest(self, event: DigestPushed) -> None:
        for state in self._states:
            if event.image in (str(state.image.name), state.version_ref):
                state.digest = event.digest
                self.report.image(state)["digest"] = event.digest

    def _verify_digest(self, state: ImageState, phase: str) -> Iterator[Event]:
        """Check the image behind ``state.digest`` and keep its bytes for every tag."""
        # kept off the start-up path: loads httpcore, httpx
        from core.verify import verify_release

        assert state.digest is not None
        report = verify_release(state.client, state.image.name, state.digest,
                                self.plan.platforms)
        self.report.data["verify"].append({"phase": phase, **report.to_dict()})
        yield VerifyReported(report)
        if not report.ok:
            raise PhaseFailed(phase, "; ".join(report.problems))
        state.manifest = state.client.get_manifest(state.repo, state.digest)

    def _verify_pushed(self) -> _Step:
        for state in self._states:
            self._check_cancel("verify")
            yield from self._verify_digest(state, "verify")
        return "pushed digests match the plan"

    def _tag_versions(self) -> _Step:
        """Create each version tag from the verified bytes; never replace one."""
        # kept off the start-up path: loads httpcore, httpx
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
                raise PhaseFailed(
                    "tag", f"{state.version_ref} was created by another release during this "
                    f"run: it holds {claim.holder}, this run pushed {state.digest} ({reason}); "
                    "version tags are never replaced, so nothing was moved", "lost")
            yield from self._adopt(state, claim.holder, "tag")
            details.append(f"{state.version_ref} already published ({claim.holder})")
        return "; ".join(details)

    def _move_aliases(self) -> _Step:
        """The aliases, moved (release_aliases.py); the version tag checked before each move."""
        return (yield from move_aliases(self._states, self.plan.version, self.report,
                                        self.cancel_event, self._still_ours))

    def _still_ours(self, state: ImageState, phase: str) -> Iterator[Event]:
        """The version tag still holds this run's digest. If a run of the same commit wrote it
        since (a CI re-run racing this one), its image is adopted: verified, and every alias
        goes to it instead; anything else means this run lost, and it moves nothing more."""
        # kept off the start-up path: loads httpcore, httpx
        from core.publish import holds

        assert state.digest is not None
        other = holds(state.client, state.repo, state.image.tags.version_tag, state.digest)
        if other is None:
            return
        reason = "it is absent" if other == "absent" else self._same_release(state, other)
        if reason:
            raise PhaseFailed(phase, f"{state.version_ref} was replaced by another release "
                              f"during this run: it now holds {other}, not {state.digest} "
                              f"({reason})", "lost")
        yield from self._adopt(state, other, phase)

    def _adopt(self, state: ImageState, holder: str, phase: str) -> Iterator[Event]:
        yield LogLine(text=f"{state.version_ref} was published meanwhile from this commit by "
                           f"another run ({holder}); using it")
        state.digest = holder
        self.report.image(state)["adopted"] = holder
        yield from self._verify_digest(state, phase)

    def _verify_aliases(self) -> _Step:
        """The version tag is still ours; settle races over the aliases; then verify them."""
        for state in self._states:
            yield from verify_aliases(state, self.plan.version, self.plan.platforms,
                                      self.report, self._still_ours)
        return "aliases resolve to the version digest"


def run_phases(phases: Iterable[tuple[str, Callable[[], _Step]]], report: RunReport,
               states: list[ImageState], cancel: threading.Event, output: Output = PUSH,
               request_stop: RequestStop | None = None) -> Iterator[Event]:
    """Run ``phases`` in order, each timed and written to ``report``; any failure becomes a
    failed phase (aliases this run moved given back, the registry's state said) and the run
    always ends with ReleaseFinished. A release runs its phases here, and so does a promotion."""
    phase = "preflight"
    try:
        report.write(strict=True)  # before anything runs: no report, no run
        for phase, step in phases:
            if cancel.is_set() and phase != "verify-aliases":
                # a cancel before a phase stops the run; once aliases moved, it is only read
                raise PhaseFailed(phase, "cancelled before this phase started", "cancelled")
            yield PhaseStarted(phase)
            started = time.monotonic()
            detail = yield from step()
            seconds = round(time.monotonic() - started, 3)
            report.data["phases"].append({"phase": phase, "ok": True,
                                          "seconds": seconds, "detail": detail or ""})
            report.write()
            yield PhaseFinished(phase, True, seconds, detail or "")
    except PhaseFailed as failed:
        yield from _fail(failed, report, states, output, request_stop)
        return
    except DockyardError as err:
        kind = "cancelled" if cancel.is_set() else "error"
        yield from _fail(PhaseFailed(phase, str(err), kind), report, states, output,
                         request_stop)
        return
    except Exception as err:
        # a bug of ours or an error a library let through: still a failed phase with a
        # report and the registry's state, never a traceback half-way through a publish
        yield from _fail(PhaseFailed(phase, f"unexpected {type(err).__name__}: {err}"),
                         report, states, output, request_stop)
        return
    report.data["ok"] = True
    report.finish()
    report.write()
    if report.error is not None:
        error = f"report: {report.error}"
        yield ReleaseFailed("report", error, summary(states), _run_name(report))
        yield ReleaseFinished(ok=False, report_path="", run=_run_name(report))
        return
    yield ReleaseFinished(ok=True, report_path=str(report.path), run=_run_name(report))


def _fail(failed: PhaseFailed, report: RunReport, states: list[ImageState], output: Output,
          request_stop: RequestStop | None) -> Iterator[Event]:
    if request_stop is not None:
        request_stop.reporting()  # the registry's state is read, briefly, after a stop
    restored: list[str] = []
    if failed.kind != "cancelled" and any(s.moved for s in states):
        restored = restore(states, lost=failed.kind == "lost")
    state = registry_state(states, output, restored)
    report.data["failure"] = {
        "phase": failed.phase, "error": failed.error, "kind": failed.kind,
        "registry_state": state, "moved": {str(s.image.name): s.moved for s in states}}
    report.data["phases"].append({"phase": failed.phase, "ok": False})
    report.finish()
    report.write()
    error = failed.error
    if report.error is not None:
        error += f"; report: {report.error}"
    yield ReleaseFailed(failed.phase, error, state, _run_name(report))
    path = "" if report.error is not None else str(report.path)
    yield ReleaseFinished(ok=False, report_path=path, run=_run_name(report))


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




def _run_name(report: RunReport) -> str:
    """What the closing events call the run: a part and a merge are a release's."""
    return "promote" if report.data.get("mode") == "promote" else "release"
