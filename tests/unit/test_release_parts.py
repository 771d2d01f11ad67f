"""A release split by platform (each leg pushes a part, a merge publishes it), the report the
run writes, and the run as the CLI starts it (stored logins, the engine picked)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from core.events import (
    AliasMoved,
    CredentialChosen,
    DigestPushed,
    Event,
    LogLine,
    PhaseFinished,
    PhaseStarted,
    ReleaseFailed,
)
from core.parts import read_part
from core.registry import RegistryClient
from core.release import Release, default_report_dir, release_with_stored_logins
from tests.support.fake_engine import RecordedEngine, Recording, plant, tag_digest
from tests.support.outcome import failure, finished
from tests.support.registry import RunningRegistry
from tests.unit.test_release_phases import of, release


def leg(registry: RunningRegistry, tmp_path: Path, repo: str, arch: str) -> Path:
    recording = Recording.load(f"app-1.0.0-{arch}")
    plan = recording.plan(tmp_path / arch, f"{registry.host}/{repo}")
    part = tmp_path / f"part-{arch}.json"
    events = release(plan, RecordedEngine(recording), tmp_path, part_file=part)
    assert finished(events).ok, of(ReleaseFailed, events)
    phases = [e.phase for e in events if isinstance(e, PhaseStarted)]
    assert phases == ["preflight", "resolve", "build", "verify", "part"]
    assert not of(AliasMoved, events)
    return part


def test_parts_built_apart_merge_into_one_release(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    repo = "fast/parts"
    parts = [read_part(leg(registry, tmp_path, repo, arch)) for arch in ("amd64", "arm64")]
    assert tag_digest(registry.host, repo, "1.0.0") is None  # a leg moves no tag
    whole = Recording.load("app-1.0.0")
    plan = whole.plan(tmp_path / "merge", f"{registry.host}/{repo}")
    events = release(plan, None, tmp_path, merge=parts)
    assert finished(events).ok, of(ReleaseFailed, events)
    phases = [e.phase for e in events if isinstance(e, PhaseStarted)]
    assert phases == ["preflight", "resolve", "merge", "verify", "tag", "aliases",
                      "verify-aliases"]
    assert "linux/amd64" in " ".join(e.text for e in events if isinstance(e, LogLine))
    (pushed,) = of(DigestPushed, events)
    for tag in ("1.0.0", "1.0", "1", "latest"):
        assert tag_digest(registry.host, repo, tag) == pushed.digest
    again = release(plan, None, tmp_path, merge=parts)  # the merge re-run: nothing to do
    merged = next(e for e in again if isinstance(e, PhaseFinished) and e.phase == "merge")
    assert finished(again).ok and merged.detail.startswith("skipped")
    rerun = release(Recording.load("app-1.0.0-amd64").plan(tmp_path / "leg-again",
                                                           f"{registry.host}/{repo}"),
                    RecordedEngine("app-1.0.0-amd64"), tmp_path,
                    part_file=tmp_path / "again.json")
    assert finished(rerun).ok  # a leg re-run after the merge builds its part anyway
    assert "already published from this commit" in str(
        next(e for e in rerun if isinstance(e, PhaseFinished) and e.phase == "resolve"))


def test_a_leg_of_a_version_published_from_another_commit_is_refused(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    plant(registry.host, "fast/part-taken", "rival-1.0.0", "1.0.0")
    recording = Recording.load("app-1.0.0-amd64")
    plan = recording.plan(tmp_path / "leg", f"{registry.host}/fast/part-taken")
    events = release(plan, RecordedEngine(recording), tmp_path, part_file=tmp_path / "p.json")
    failed = failure(events)
    assert failed.phase == "resolve" and "a part of it cannot be built any more" in failed.error


def test_a_run_needs_an_engine_unless_it_merges(registry: RunningRegistry, tmp_path: Path) -> None:
    from core.errors import DockyardError

    plan = Recording.load("app-1.0.0").plan(tmp_path / "app", f"{registry.host}/fast/none")
    with pytest.raises(DockyardError, match="no build engine"):
        Release(plan, None)


def test_a_report_that_cannot_be_written_stops_the_run_before_anything(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the report directory should be\n")
    recording = Recording.load("app-1.0.0")
    engine = RecordedEngine(recording)
    plan = recording.plan(tmp_path / "app", f"{registry.host}/fast/no-report")
    events = list(Release(plan, engine, client_for=lambda n: RegistryClient(n.api_host),
                          report_dir=blocker / "runs").events())
    failed = failure(events)
    assert failed.phase == "preflight"
    assert "cannot write" in failed.error and "XDG_STATE_HOME" in failed.error
    assert finished(events).report_path == "" and engine.builds == 0


def test_a_report_lost_during_the_run_fails_it_at_the_end(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    """The release itself went through (the registry says so); the run still fails, since
    the record of what moved (the way back) is not on disk."""
    reports = tmp_path / "reports"
    recording = Recording.load("app-1.0.0")
    plan = recording.plan(tmp_path / "app", f"{registry.host}/fast/report-lost")
    run = Release(plan, RecordedEngine(recording), client_for=lambda n: RegistryClient(n.api_host),
                  report_dir=reports)
    events: list[Event] = []
    for event in run.events():
        events.append(event)
        if isinstance(event, PhaseFinished) and event.phase == "aliases":
            shutil.rmtree(reports)
            reports.write_text("in the way\n")
    failed = failure(events)
    assert failed.phase == "report" and failed.error.startswith("report: cannot write")
    assert f"-> {recording.digest}, aliases 1.0, 1, latest" in failed.registry_state
    assert finished(events).report_path == "" and not finished(events).ok
    assert tag_digest(registry.host, "fast/report-lost", "latest") == recording.digest


def test_reports_go_to_the_state_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert default_report_dir() == tmp_path / "state" / "dockyard" / "runs"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_report_dir() == tmp_path / ".local" / "state" / "dockyard" / "runs"


def test_the_cli_run_picks_the_engine_and_the_stored_logins(
    registry: RunningRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """release_with_stored_logins with the real BuildxEngine (stand-in docker replaying the
    recorded buildx run) and an empty keyring: anonymous, and the recorded push is not in this
    registry, so verification stops it."""
    from tests.support.fake_engine import buildx_replay

    buildx_replay(tmp_path, monkeypatch)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    plan = Recording.load("app-1.0.0").plan(tmp_path / "app", f"{registry.host}/fast/cli")
    plan = dataclasses.replace(plan, engine="buildx")  # the run takes the plan's engine
    events = list(release_with_stored_logins(plan, report_dir=tmp_path / "reports"))
    chosen = of(CredentialChosen, events)
    assert [(c.registry, c.username) for c in chosen] == [(registry.host, None)]
    assert of(DigestPushed, events)
    failed = failure(events)
    assert failed.phase == "verify"
    report = json.loads(Path(finished(events).report_path).read_text())
    assert report["engine"] == "buildx"
