"""A release through its phases with a recorded engine and the real registry: the happy path,
a re-run, and each way a phase fails (refused version tag, build, verification, a stop)."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import pytest

from core.engines.base import Engine
from core.events import (
    AliasMoved,
    DigestPushed,
    Event,
    LogBatch,
    LogLine,
    PhaseFinished,
    PhaseStarted,
    ReleaseFailed,
    StepFailed,
    StepStarted,
    VerifyReported,
)
from core.plan import Plan
from core.reference import ImageName
from core.registry import RegistryClient
from core.release import PHASES, Release, run_release
from tests.registry.proxy import Fault, FaultProxy, running
from tests.support.fake_engine import (
    RecordedEngine,
    Recording,
    buildx_replay,
    plant,
    tag_digest,
)
from tests.support.outcome import failure, finished
from tests.support.registry import RunningRegistry

ALL = ("1.0.0", "1.0", "1", "latest")


def release(plan: Plan, engine: Engine | None, tmp_path: Path,
            client_for: Callable[[ImageName], RegistryClient] | None = None,
            **options: object) -> list[Event]:
    def default(name: ImageName) -> RegistryClient:
        return RegistryClient(name.api_host)

    events = run_release(plan, engine, client_for=client_for or default,
                         report_dir=tmp_path / "reports", **options)  # type: ignore[arg-type]
    return list(events)




E = TypeVar("E", bound=Event)


def of(kind: type[E], events: Iterable[Event]) -> list[E]:
    """The events of one kind, typed as that kind."""
    return [e for e in events if isinstance(e, kind)]


def test_a_release_builds_verifies_tags_and_moves_aliases(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    recording = Recording.load("app-1.0.0")
    plan = recording.plan(tmp_path / "app", f"{registry.host}/fast/happy")
    events = release(plan, RecordedEngine(recording), tmp_path)
    assert finished(events).ok, of(ReleaseFailed, events)
    started = [e.phase for e in events if isinstance(e, PhaseStarted)]
    assert tuple(started) == PHASES
    (pushed,) = of(DigestPushed, events)
    assert isinstance(pushed, DigestPushed) and pushed.digest == recording.digest
    built = {e.platform for e in events if isinstance(e, StepStarted)}
    assert built == {str(p) for p in plan.platforms}
    moved = {e.tag: e for e in events if isinstance(e, AliasMoved)}
    assert set(moved) == {"1.0", "1", "latest"}
    assert all(e.previous is None and e.digest == pushed.digest for e in moved.values())
    assert [tag_digest(registry.host, "fast/happy", t) for t in ALL] == [pushed.digest] * 4
    assert [e.ok for e in events if isinstance(e, VerifyReported)] == [True, True]
    report = json.loads(Path(finished(events).report_path).read_text())
    assert report["ok"] is True and report["engine"] == "podman"
    assert report["images"][str(plan.images[0].name)]["aliases"]["latest"] == {
        "previous": None, "target": pushed.digest}
    assert [p["phase"] for p in report["phases"]] == list(PHASES)


def test_a_rerun_of_the_same_release_builds_and_writes_nothing(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    recording = Recording.load("app-1.0.0")
    plan = recording.plan(tmp_path / "app", f"{registry.host}/fast/rerun")
    engine = RecordedEngine(recording)
    assert finished(release(plan, engine, tmp_path)).ok
    puts: list[str] = []

    class Counting(RegistryClient):
        def put_manifest(self, repo: str, ref: str, raw: bytes, media_type: str) -> str:
            puts.append(ref)
            return super().put_manifest(repo, ref, raw, media_type)

    events = release(plan, engine, tmp_path, lambda n: Counting(n.api_host))
    assert finished(events).ok
    assert engine.builds == 1 and puts == []
    assert not of(DigestPushed, events) and not of(AliasMoved, events)
    build = next(e for e in events if isinstance(e, PhaseFinished) and e.phase == "build")
    assert build.detail.startswith("skipped")
    logs = " ".join(e.text for e in events if isinstance(e, LogLine))
    assert "already published from this commit" in logs and "already at" in logs


def test_a_version_tag_from_another_commit_is_refused_before_building(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    theirs = plant(registry.host, "fast/taken", "rival-1.0.0", "1.0.0", "latest")
    recording = Recording.load("app-1.0.0")
    engine = RecordedEngine(recording)
    plan = recording.plan(tmp_path / "app", f"{registry.host}/fast/taken")
    events = release(plan, engine, tmp_path)
    failed = failure(events)
    assert failed.phase == "resolve"
    assert f"already exists with digest {theirs}" in failed.error
    assert "was built from commit" in failed.error
    assert engine.builds == 0 and not of(AliasMoved, events)
    assert tag_digest(registry.host, "fast/taken", "latest") == theirs
    assert "latest unchanged" in failed.registry_state


def test_other_platforms_under_the_version_tag_are_refused(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    plant(registry.host, "fast/platforms", "app-1.0.0-amd64", "1.0.0")  # same commit, amd64
    recording = Recording.load("app-1.0.0")
    plan = recording.plan(tmp_path / "app", f"{registry.host}/fast/platforms")
    failed = failure(release(plan, RecordedEngine(recording), tmp_path))
    assert failed.phase == "resolve" and "other platforms (linux/amd64)" in failed.error


def test_a_failing_build_step_tags_nothing(registry: RunningRegistry, tmp_path: Path) -> None:
    recording = Recording.load("broken-1.0.0")
    plan = recording.plan(tmp_path / "broken", f"{registry.host}/fast/broken")
    events = release(plan, RecordedEngine(recording), tmp_path)
    failed = failure(events)
    assert failed.phase == "build"
    assert "podman build exited with 1" in failed.error
    assert {e.name for e in events if isinstance(e, StepFailed)} == {"RUN test -f /etc/app.conf"}
    assert "1.0.0 was not pushed" in failed.registry_state
    assert "latest unchanged (absent)" in failed.registry_state
    assert [tag_digest(registry.host, "fast/broken", t) for t in ALL] == [None] * 4
    report = json.loads(Path(finished(events).report_path).read_text())
    assert report["failure"]["phase"] == "build" and report["failure"]["kind"] == "error"


def test_a_buildx_build_failure_goes_through_the_real_parser(
    registry: RunningRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = buildx_replay(tmp_path, monkeypatch, build="build-fail-rawjson")
    plan = Recording.load("app-1.0.0").plan(tmp_path / "app", f"{registry.host}/fast/bx-fail")
    events = release(plan, engine, tmp_path)
    failed = failure(events)
    assert failed.phase == "build"
    assert of(StepFailed, events)  # buildx's rawjson, parsed by core/engines/progress.py
    assert tag_digest(registry.host, "fast/bx-fail", "1.0.0") is None


def test_a_digest_the_registry_does_not_hold_fails_verification(
    registry: RunningRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """buildx's recorded push went to the recording machine's registry: this one has no such
    digest, so the release must stop at verification, with no tag written."""
    engine = buildx_replay(tmp_path, monkeypatch)
    plan = Recording.load("app-1.0.0").plan(tmp_path / "app", f"{registry.host}/fast/bx-gone")
    events = release(plan, engine, tmp_path)
    (pushed,) = of(DigestPushed, events)
    failed = failure(events)
    assert failed.phase == "verify"
    reports = of(VerifyReported, events)
    assert len(reports) == 1 and not reports[0].ok
    assert "has no tag" in failed.registry_state
    assert pushed.digest[:19] in failed.registry_state
    assert [tag_digest(registry.host, "fast/bx-gone", t) for t in ALL] == [None] * 4


def test_a_registry_failing_during_verification_moves_nothing(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    recording = Recording.load("app-1.0.0")
    plan = recording.plan(tmp_path / "app", f"{registry.host}/fast/verify-down")
    with running(FaultProxy(registry.host)) as proxy:
        pushing = [True]

        def client_for(name: ImageName) -> RegistryClient:
            return RegistryClient(proxy.host, backoff=0.01, max_retries=1)

        def faults_after_push(events: Iterable[Event]) -> Iterable[Event]:
            for event in events:
                if isinstance(event, DigestPushed) and pushing[0]:
                    pushing[0] = False
                    proxy.inject(Fault(500, times=10_000, method="GET",
                                       path_contains="/manifests/"))
                yield event

        events = list(faults_after_push(run_release(
            plan, RecordedEngine(recording), client_for=client_for,
            report_dir=tmp_path / "reports")))
    failed = failure(events)
    assert failed.phase == "verify" and "500" in failed.error
    assert not of(AliasMoved, events)
    assert [tag_digest(registry.host, "fast/verify-down", t) for t in ALL] == [None] * 4


def test_a_stop_before_a_phase_ends_the_run_there(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    recording = Recording.load("app-1.0.0")
    engine = RecordedEngine(recording)
    plan = recording.plan(tmp_path / "app", f"{registry.host}/fast/stop-early")
    run = Release(plan, engine, client_for=lambda n: RegistryClient(n.api_host),
                  report_dir=tmp_path / "reports")
    events: list[Event] = []
    for event in run.events():
        events.append(event)
        if isinstance(event, PhaseFinished) and event.phase == "resolve":
            run.cancel()
    failed = failure(events)
    assert failed.phase == "build" and "cancelled before this phase started" in failed.error
    assert engine.builds == 0
    report = json.loads(Path(finished(events).report_path).read_text())
    assert report["failure"]["kind"] == "cancelled"


def test_a_stop_during_the_build_stops_it(registry: RunningRegistry, tmp_path: Path) -> None:
    """The recorded podman build was cancelled after its step printed "tick": the replay
    holds there until this run is cancelled, then ends as podman did."""
    recording = Recording.load("slow-1.0.0")
    plan = recording.plan(tmp_path / "slow", f"{registry.host}/fast/stop-build")
    cancel = threading.Event()
    events: list[Event] = []
    for event in run_release(plan, RecordedEngine(recording), cancel=cancel,
                             client_for=lambda n: RegistryClient(n.api_host),
                             report_dir=tmp_path / "reports"):
        events.append(event)
        if isinstance(event, LogBatch) and "tick" in event.lines:
            cancel.set()
    failed = failure(events)
    assert failed.phase == "build" and "cancelled" in failed.error
    assert "1.0.0 was not pushed" in failed.registry_state


def test_output_other_than_push_runs_build_only(registry: RunningRegistry, tmp_path: Path) -> None:
    """An OCI archive is not the registry: no resolve, verify or tags (the recordings are of
    pushes, so the engine refuses; the run reports it as a failed build, not a traceback)."""
    from core.engines.base import Output

    recording = Recording.load("app-1.0.0")
    plan = recording.plan(tmp_path / "app", f"{registry.host}/fast/archive")
    output = Output(kind="oci-archive", path=tmp_path / "out.tar")
    events = release(plan, RecordedEngine(recording), tmp_path, output=output)
    assert [e.phase for e in events if isinstance(e, PhaseStarted)] == ["preflight", "build"]
    failed = failure(events)
    assert failed.phase == "build" and "unexpected RuntimeError" in failed.error
    assert failed.registry_state == "nothing pushed (output oci-archive)"


def test_a_copy_mode_plan_missing_a_binary_stops_in_preflight(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    recording = Recording.load("app-1.0.0")
    engine = RecordedEngine(recording)
    plan = recording.plan(tmp_path / "app", f"{registry.host}/fast/no-binary")
    (plan.root / "dist" / "arm64" / "app").unlink()  # gone between review and run
    events = release(plan, engine, tmp_path)
    failed = failure(events)
    assert failed.phase == "preflight" and "arm64" in failed.error
    assert failed.registry_state == "nothing was pushed" and engine.builds == 0
    template = dataclasses.replace(plan, binary_template=None)
    (plan.root / "dist" / "arm64" / "app").write_bytes(b"")
    assert failure(release(template, engine, tmp_path)).phase == "preflight"


def test_the_recordings_are_what_the_podman_engine_would_run_today(tmp_path: Path) -> None:
    """A change to PodmanEngine's commands makes the recordings stale: re-record them."""
    from core.engines.base import EngineOptions
    from core.engines.podman import PodmanEngine

    engine = PodmanEngine(EngineOptions(storage_driver="vfs", isolation="chroot",
                                        podman_root=Path("{storage}")))
    for name in ("app-1.0.0", "app-1.0.0-amd64", "broken-1.0.0", "slow-1.0.0"):
        recording = Recording.load(name)
        plan = recording.plan(tmp_path / name, "127.0.0.1:5000/fast/commands")
        assert engine.commands(plan) == RecordedEngine(recording).commands(plan), name


def test_a_replay_answers_only_the_plan_it_was_recorded_for(tmp_path: Path) -> None:
    recording = Recording.load("app-1.0.0")
    plan = Recording.load("app-1.1.0").plan(tmp_path / "other", "127.0.0.1:5000/fast/other")
    with pytest.raises(RuntimeError, match=r"recording app-1\.0\.0 is of"):
        list(RecordedEngine(recording).build(plan))
