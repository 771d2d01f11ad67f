"""Another release acting at an exact point of a run (a real client with hooks, another
recorded image planted in the real registry): the version tag is never replaced, an alias
never goes backwards, and what this run moved is given back when it loses."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from core.events import AliasMoved, AliasWithheld, Event, LogLine, ReleaseFailed
from core.reference import ImageName
from core.registry import RegistryClient
from core.release import run_release
from tests.support.fake_engine import (
    HookedClient,
    RecordedEngine,
    Recording,
    plant,
    tag_digest,
)
from tests.support.outcome import failure, finished
from tests.support.registry import RunningRegistry
from tests.unit.test_release_phases import of, release


def hooked(**hooks: Callable[[str], None]) -> Callable[[ImageName], RegistryClient]:
    def client_for(name: ImageName) -> RegistryClient:
        return HookedClient(name.api_host, **hooks)

    return client_for


def nth(count: int, ref: str, action: Callable[[], None]) -> Callable[[str], None]:
    """A hook doing ``action`` once, at the ``count``-th call for ``ref``."""
    seen = [0]

    def hook(asked: str) -> None:
        if asked == ref:
            seen[0] += 1
            if seen[0] == count:
                action()

    return hook


def logs(events: list[Event]) -> str:
    return "\n".join(e.text for e in events if isinstance(e, LogLine))


def test_a_rival_that_creates_the_version_tag_first_wins_and_nothing_moves(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    repo = "fast/lost-tag"
    recording = Recording.load("app-1.0.0")
    plan = recording.plan(tmp_path / "app", f"{registry.host}/{repo}")
    rival: list[str] = []
    # the first HEAD of 1.0.0 is resolve's; the second is the tag phase's create-if-absent
    hook = nth(2, "1.0.0", lambda: rival.append(plant(registry.host, repo, "rival-1.0.0",
                                                      "1.0.0")))
    events = release(plan, RecordedEngine(recording), tmp_path, hooked(before_head=hook))
    failed = failure(events)
    assert failed.phase == "tag"
    assert f"it holds {rival[0]}, this run pushed {recording.digest}" in failed.error
    assert "nothing was moved" in failed.error
    assert not of(AliasMoved, events)
    assert tag_digest(registry.host, repo, "1.0.0") == rival[0]
    assert tag_digest(registry.host, repo, "latest") is None


def test_the_same_commit_published_meanwhile_is_adopted(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    """A CI re-run of the same commit created the tag first: its image is verified and every
    alias goes to it, and this run succeeds (builds are not reproducible, digests differ)."""
    repo = "fast/adopt"
    recording = Recording.load("app-1.0.0")
    plan = recording.plan(tmp_path / "app", f"{registry.host}/{repo}")
    other: list[str] = []
    hook = nth(2, "1.0.0", lambda: other.append(plant(registry.host, repo, "app-1.0.0-again",
                                                      "1.0.0")))
    events = release(plan, RecordedEngine(recording), tmp_path, hooked(before_head=hook))
    assert finished(events).ok, of(ReleaseFailed, events)
    assert "published meanwhile from this commit by another run" in logs(events)
    assert {e.digest for e in events if isinstance(e, AliasMoved)} == {other[0]}
    for tag in ("1.0.0", "1.0", "1", "latest"):
        assert tag_digest(registry.host, repo, tag) == other[0]
    report = json.loads(Path(finished(events).report_path).read_text())
    assert report["images"][str(plan.images[0].name)]["adopted"] == other[0]


def test_a_version_tag_replaced_during_the_alias_moves_hands_them_to_its_holder(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    """The rival's PUT landed after this run's read-back: the check before the next alias
    move sees it, this run stops, and the aliases it moved go to the rival's image."""
    repo = "fast/lost-aliases"
    recording = Recording.load("app-1.0.0")
    plan = recording.plan(tmp_path / "app", f"{registry.host}/{repo}")
    rival: list[str] = []
    hook = nth(1, "1", lambda: rival.append(
        plant(registry.host, repo, "rival-1.0.0", "1.0.0")))
    events = release(plan, RecordedEngine(recording), tmp_path, hooked(after_put=hook))
    failed = failure(events)
    assert failed.phase == "aliases"
    assert "was replaced by another release during this run" in failed.error
    assert [e.tag for e in events if isinstance(e, AliasMoved)] == ["1.0", "1"]
    assert "rolled back" in failed.registry_state
    for tag in ("1.0.0", "1.0", "1"):
        assert tag_digest(registry.host, repo, tag) == rival[0]
    assert tag_digest(registry.host, repo, "latest") is None


def test_an_alias_an_older_release_moved_back_is_put_on_this_release(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    repo = "fast/alias-back"
    old = Recording.load("app-1.0.0")
    assert finished(release(old.plan(tmp_path / "old", f"{registry.host}/{repo}"),
                            RecordedEngine(old), tmp_path)).ok
    new = Recording.load("app-1.1.0")
    plan = new.plan(tmp_path / "new", f"{registry.host}/{repo}")

    def older_release_moves_latest() -> None:
        with RegistryClient(registry.host) as client:
            manifest = client.get_manifest(repo, "1.0.0")
            client.put_manifest(repo, "latest", manifest.raw, manifest.media_type)

    hook = nth(1, "latest", older_release_moves_latest)
    events = release(plan, RecordedEngine(new), tmp_path, hooked(after_put=hook))
    assert finished(events).ok, of(ReleaseFailed, events)
    assert f"latest was moved to {old.digest} by another run; put back on" in logs(events)
    assert tag_digest(registry.host, repo, "latest") == new.digest
    moved = {e.tag: e.previous for e in events if isinstance(e, AliasMoved)}
    assert moved == {"1.1": None, "1": old.digest, "latest": old.digest}


def test_a_newer_release_published_meanwhile_gets_the_aliases_back(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    """1.1.0 was tagged while this run (1.0.0) moved its aliases: "1" and "latest" belong to
    1.1.0 now, never backwards; "1.0" stays on this release."""
    repo = "fast/newer-meanwhile"
    recording = Recording.load("app-1.0.0")
    plan = recording.plan(tmp_path / "app", f"{registry.host}/{repo}")
    newer: list[str] = []
    hook = nth(1, "latest", lambda: newer.append(plant(registry.host, repo, "app-1.1.0",
                                                       "1.1.0")))
    events = release(plan, RecordedEngine(recording), tmp_path, hooked(after_put=hook))
    assert finished(events).ok, of(ReleaseFailed, events)
    withheld = {e.tag: e.reason for e in events if isinstance(e, AliasWithheld)}
    assert set(withheld) == {"1", "latest"}
    assert all("published during this run" in r for r in withheld.values())
    assert "given back to 1.1.0" in logs(events)
    assert tag_digest(registry.host, repo, "latest") == newer[0]
    assert tag_digest(registry.host, repo, "1") == newer[0]
    assert tag_digest(registry.host, repo, "1.0") == recording.digest


def test_an_alias_is_never_moved_backwards(registry: RunningRegistry, tmp_path: Path) -> None:
    repo = "fast/backwards"
    newer = plant(registry.host, repo, "app-1.1.0", "1.1.0", "1.1", "1", "latest")
    recording = Recording.load("app-1.0.0")
    plan = recording.plan(tmp_path / "app", f"{registry.host}/{repo}")
    events = release(plan, RecordedEngine(recording), tmp_path)
    assert finished(events).ok, of(ReleaseFailed, events)
    assert {e.tag for e in events if isinstance(e, AliasWithheld)} == {"1", "latest"}
    assert [e.tag for e in events if isinstance(e, AliasMoved)] == ["1.0"]
    assert tag_digest(registry.host, repo, "latest") == newer


def test_an_alias_the_registry_refuses_rolls_back_the_moved_ones(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    repo = "fast/rollback"
    old = Recording.load("app-1.0.0")
    assert finished(release(old.plan(tmp_path / "old", f"{registry.host}/{repo}"),
                            RecordedEngine(old), tmp_path)).ok
    new = Recording.load("app-1.1.0")
    # "-bad" is no valid tag: the registry answers 400 after "1" and "latest" moved
    plan = new.plan(tmp_path / "new", f"{registry.host}/{repo}", aliases=("1", "latest", "-bad"))
    events = release(plan, RecordedEngine(new), tmp_path)
    failed = failure(events)
    assert failed.phase == "aliases"
    assert "rolled back" in failed.registry_state
    assert tag_digest(registry.host, repo, "latest") == old.digest
    assert tag_digest(registry.host, repo, "1") == old.digest
    assert tag_digest(registry.host, repo, "1.1.0") == new.digest
    report = json.loads(Path(finished(events).report_path).read_text())
    assert report["images"][str(plan.images[0].name)]["aliases"]["latest"]["previous"] == old.digest


def test_a_stop_during_the_alias_moves_keeps_what_moved_and_a_rerun_completes(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    import threading

    repo = "fast/stop-aliases"
    recording = Recording.load("app-1.0.0")
    plan = recording.plan(tmp_path / "app", f"{registry.host}/{repo}")
    cancel = threading.Event()
    client_for = hooked(after_put=nth(1, "1.0", cancel.set))
    events = list(run_release(plan, RecordedEngine(recording), client_for=client_for,
                              cancel=cancel, report_dir=tmp_path / "reports"))
    failed = failure(events)
    assert failed.phase == "aliases" and "cancelled" in failed.error
    assert "rolled back" not in failed.registry_state  # a cancel keeps the moves: re-run
    assert tag_digest(registry.host, repo, "1.0") == recording.digest
    assert tag_digest(registry.host, repo, "latest") is None
    report = json.loads(Path(finished(events).report_path).read_text())
    assert report["failure"]["moved"] == {str(plan.images[0].name): ["1.0"]}
    again = release(plan, RecordedEngine(recording), tmp_path)
    assert finished(again).ok
    assert [e.tag for e in again if isinstance(e, AliasMoved)] == ["1", "latest"]
