"""The publish promise under races and shallow clones, against a real registry and real podman.

"A version tag is never overwritten; aliases move only to a verified digest, and never
backwards." Each test tries to break one sentence of that: two releases of one tag at once
(with the worst interleaving forced, then free-running processes), two versions at once, and a
CI shallow clone that does not know the newer release.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from core.engines.podman import PodmanEngine
from core.events import (
    AliasMoved,
    AliasWithheld,
    DigestPushed,
    Event,
    LogLine,
    ReleaseFailed,
    ReleaseFinished,
)
from core.plan import Plan
from core.reference import ImageName
from core.registry import ManifestHead, RegistryClient
from core.release import run_release
from tests.e2e.conftest import digest, plan_for, release_tag
from tests.support.gitrepo import git
from tests.support.outcome import finished
from tests.support.registry import RunningRegistry

pytestmark = pytest.mark.e2e

PAIRS = 10
ALIASES = ("1.0", "1", "latest")


class GatedClient(RegistryClient):
    """The real client; ``before_put(ref)`` runs before each manifest PUT, ``after_put(ref)``
    after it and ``before_head(ref)`` before each HEAD (to force an order)."""

    def __init__(self, host: str, before_put: Callable[[str], None],
                 after_put: Callable[[str], None] | None = None,
                 before_head: Callable[[str], None] | None = None) -> None:
        super().__init__(host)
        self.before_put = before_put
        self.after_put = after_put
        self.before_head = before_head

    def put_manifest(self, repo: str, ref: str, raw: bytes, media_type: str) -> str:
        self.before_put(ref)
        digest = super().put_manifest(repo, ref, raw, media_type)
        if self.after_put is not None:
            self.after_put(ref)
        return digest

    def head_manifest(self, repo: str, ref: str) -> ManifestHead | None:
        if self.before_head is not None:
            self.before_head(ref)
        return super().head_manifest(repo, ref)


def release_in_thread(
    plan: Plan, engine: PodmanEngine, tmp_path: Path, before_put: Callable[[str], None],
    out: list[Event], barrier: threading.Barrier | None = None,
    **hooks: Callable[[str], None],
) -> threading.Thread:
    """Run one release in a thread; a run that fails breaks ``barrier``, so the other run's
    wait ends at once (and the test shows both failures) instead of after its timeout."""
    def client_for(name: ImageName) -> RegistryClient:
        return GatedClient(name.api_host, before_put, **hooks)

    def run() -> None:
        try:
            out.extend(run_release(plan, engine, client_for=client_for,
                                   report_dir=tmp_path / "reports"))
        finally:
            ok = bool(out) and isinstance(out[-1], ReleaseFinished) and out[-1].ok
            if barrier is not None and not ok:
                barrier.abort()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def pushed(events: list[Event]) -> str:
    (event,) = [e for e in events if isinstance(e, DigestPushed)]
    return event.digest


def test_two_releases_of_one_tag_with_different_content_have_exactly_one_winner(
    project: Callable[..., Path], registry: RunningRegistry, podman: PodmanEngine,
    tmp_path: Path,
) -> None:
    """Both runs see the tag absent and PUT it at once (a barrier holds the first PUT until the
    other arrives): the worst case OCI allows. One exits ok; the other names both digests and
    moves nothing; every alias is on the winner's digest."""
    winners: list[int] = []
    phases: list[str] = []
    for pair in range(PAIRS):
        first = project(f"a{pair}", salt=f"a{pair}")
        second = project(f"b{pair}", salt=f"b{pair}")
        release_tag(first, "v1.0.0")
        release_tag(second, "v1.0.0")
        repo = f"race/same-tag-{pair}"
        image = f"{registry.host}/{repo}"
        barrier = threading.Barrier(2, timeout=120)

        def at_version_tag(ref: str, barrier: threading.Barrier = barrier) -> None:
            if ref == "1.0.0":
                barrier.wait()

        runs: list[list[Event]] = [[], []]
        threads = [release_in_thread(plan_for(root, image), podman, tmp_path, at_version_tag,
                                     events, barrier)
                   for root, events in zip((first, second), runs, strict=True)]
        for thread in threads:
            thread.join(timeout=300)
        assert all(isinstance(events[-1], ReleaseFinished) for events in runs), [
            e for events in runs for e in events if isinstance(e, ReleaseFailed)]
        oks = [finished(events).ok for events in runs]
        assert sorted(oks) == [False, True], (pair, [
            e for events in runs for e in events if isinstance(e, ReleaseFailed)])
        won, lost = (runs[0], runs[1]) if oks[0] else (runs[1], runs[0])
        winner, loser = pushed(won), pushed(lost)
        assert winner != loser
        assert digest(registry, repo, "1.0.0") == winner
        for alias in ALIASES:
            assert digest(registry, repo, alias) == winner, (pair, alias)
        (failed,) = [e for e in lost if isinstance(e, ReleaseFailed)]
        assert winner in failed.error and loser in failed.error
        assert failed.phase in ("tag", "aliases", "verify-aliases")
        moved_by_loser = [e for e in lost if isinstance(e, AliasMoved)]
        assert all(digest(registry, repo, e.tag) == winner for e in moved_by_loser)
        winners.append(0 if oks[0] else 1)
        phases.append(failed.phase)
    print(f"{PAIRS} same-tag pairs: exactly one winner each; first run won {winners.count(0)}, "
          f"second {winners.count(1)}; the loser stopped in {sorted(phases)}")


def test_a_ci_rerun_of_the_same_commit_at_once_ends_as_already_published(
    project: Callable[..., Path], registry: RunningRegistry, podman: PodmanEngine,
    tmp_path: Path,
) -> None:
    root = project()
    release_tag(root, "v1.0.0")
    image = f"{registry.host}/race/rerun"
    barrier = threading.Barrier(2, timeout=120)

    def at_version_tag(ref: str) -> None:
        if ref == "1.0.0":
            barrier.wait()

    runs: list[list[Event]] = [[], []]
    threads = [release_in_thread(plan_for(root, image), podman, tmp_path, at_version_tag, events,
                                 barrier) for events in runs]
    for thread in threads:
        thread.join(timeout=300)
    assert [finished(events).ok for events in runs] == [True, True], [
        e for events in runs for e in events if isinstance(e, ReleaseFailed)]
    held = digest(registry, "race/rerun", "1.0.0")
    for alias in ALIASES:
        assert digest(registry, "race/rerun", alias) == held
    if len({pushed(events) for events in runs}) == 2:  # podman builds were not bit-identical
        notes = [e.text for events in runs for e in events if isinstance(e, LogLine)
                 and "published meanwhile from this commit" in e.text]
        assert len(notes) == 1 and held in notes[0]


def test_a_rerun_that_overwrites_the_tag_after_it_was_read_back_is_adopted_not_fought(
    project: Callable[..., Path], registry: RunningRegistry, podman: PodmanEngine,
    tmp_path: Path,
) -> None:
    """The window the tag's read-back cannot see: run A creates 1.0.0 and reads it back, then
    run B (same commit, other bytes) overwrites it. A notices before its first alias move and
    takes B's image; both end ok and every tag is on the one image the registry holds."""
    root = project()
    release_tag(root, "v1.0.0")
    repo = "race/rerun-late"
    image = f"{registry.host}/{repo}"
    barrier = threading.Barrier(2, timeout=120)
    a_reading, b_tagged = threading.Event(), threading.Event()

    def a_put(ref: str) -> None:
        if ref == "1.0.0":
            barrier.wait()

    def a_head(ref: str) -> None:
        if ref in ALIASES and not a_reading.is_set():
            a_reading.set()  # A has created and read back its tag
            assert b_tagged.wait(timeout=120)

    def b_put(ref: str) -> None:
        if ref == "1.0.0":
            barrier.wait()
            assert a_reading.wait(timeout=120)

    def b_after(ref: str) -> None:
        if ref == "1.0.0":
            b_tagged.set()

    first: list[Event] = []
    second: list[Event] = []
    threads = [release_in_thread(plan_for(root, image), podman, tmp_path, a_put, first,
                                 barrier, before_head=a_head),
               release_in_thread(plan_for(root, image), podman, tmp_path, b_put, second,
                                 barrier, after_put=b_after)]
    for thread in threads:
        thread.join(timeout=300)
    assert [finished(first).ok, finished(second).ok] == [True, True], [
        e for e in (*first, *second) if isinstance(e, ReleaseFailed)]
    held = digest(registry, repo, "1.0.0")
    assert held == pushed(second)  # B's PUT came last
    for alias in ALIASES:
        assert digest(registry, repo, alias) == held
    if pushed(first) == held:
        pytest.skip("both builds gave identical bytes (same second): no overwrite to adopt")
    adopted = [e.text for e in first if isinstance(e, LogLine)
               and "published meanwhile from this commit" in e.text]
    assert adopted and held in adopted[0]


def test_an_older_release_racing_a_newer_one_never_leaves_latest_behind(
    project: Callable[..., Path], registry: RunningRegistry, podman: PodmanEngine,
    tmp_path: Path,
) -> None:
    """The worst order: 1.0.1 reads the registry before 1.1.0 exists, then 1.1.0 publishes
    completely, then 1.0.1 moves its aliases. 1.0.1 must give `1` and `latest` back."""
    root = project()
    release_tag(root, "v1.0.0")
    repo = "race/versions"
    image = f"{registry.host}/{repo}"
    assert finished(list(run_release(plan_for(root, image), podman,
                                    report_dir=tmp_path / "r"))).ok
    backport = tmp_path / "backport"
    subprocess.run(["git", "clone", "-q", str(root), str(backport)], check=True)
    git(backport, "checkout", "-q", "-b", "backport", "v1.0.0")
    release_tag(backport, "v1.0.1", change="fix")
    git(backport, "push", "-q", "origin", "v1.0.1")
    older = plan_for(backport, image)
    release_tag(root, "v1.1.0", change="feature")
    newer = plan_for(root, image)
    assert older.images[0].tags.aliases == ALIASES  # this checkout knows no 1.1.0

    older_read, newer_done = threading.Event(), threading.Event()

    def older_put(ref: str) -> None:
        if ref in ALIASES:
            older_read.set()  # its registry read happened before this first alias PUT
            assert newer_done.wait(timeout=300)

    def newer_put(ref: str) -> None:
        if ref == "1.1.0":
            assert older_read.wait(timeout=300)

    old_events: list[Event] = []
    new_events: list[Event] = []
    threads = [release_in_thread(older, podman, tmp_path, older_put, old_events)]
    newer_thread = release_in_thread(newer, podman, tmp_path, newer_put, new_events)
    newer_thread.join(timeout=300)
    newer_done.set()
    threads[0].join(timeout=300)
    assert finished(new_events).ok and finished(old_events).ok
    newest = digest(registry, repo, "1.1.0")
    assert digest(registry, repo, "latest") == newest
    assert digest(registry, repo, "1") == newest
    assert digest(registry, repo, "1.0") == digest(registry, repo, "1.0.1") == pushed(old_events)
    withheld = {e.tag: e.reason for e in old_events if isinstance(e, AliasWithheld)}
    assert set(withheld) == {"1", "latest"}
    assert all("1.1.0 is published" in reason for reason in withheld.values())


# -- real processes, as CI runs them ------------------------------------------------------------


def dockyard(root: Path, image: str, env: dict[str, str], *args: str
             ) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "release", "--repo", str(root), "--image", image,
         "--platform", "linux/amd64,linux/arm64", "--mode", "copy", "--binary", "dist/{arch}/app",
         "--engine", "podman", *args],
        cwd=Path(__file__).resolve().parents[2], env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


@pytest.fixture
def cli_env(podman_root: Path, tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "DOCKYARD_PODMAN_STORAGE_DRIVER": "vfs",
            "DOCKYARD_PODMAN_ISOLATION": "chroot", "DOCKYARD_PODMAN_ROOT": str(podman_root),
            "XDG_STATE_HOME": str(tmp_path / "state"),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}


@pytest.mark.timeout(900)
def test_concurrent_processes_of_two_versions_never_move_latest_backwards(
    project: Callable[..., Path], registry: RunningRegistry, cli_env: dict[str, str],
) -> None:
    pairs = 5
    for pair in range(pairs):
        root = project(f"p{pair}")
        release_tag(root, "v1.0.0")
        repo = f"race/procs-{pair}"
        image = f"{registry.host}/{repo}"
        first = dockyard(root, image, cli_env, "--yes")
        assert first.wait(timeout=300) == 0, first.communicate()[0]
        clone = root.parent / f"p{pair}-backport"
        git(root, "checkout", "-q", "-b", "backport", "v1.0.0")
        release_tag(root, "v1.0.1", change="fix")
        git(root, "checkout", "-q", "main")
        release_tag(root, "v1.1.0", change="feature")
        subprocess.run(["git", "clone", "-q", "--depth", "1", "--branch", "v1.0.1",
                        f"file://{root}", str(clone)], check=True, capture_output=True)
        older = dockyard(clone, image, cli_env, "--yes")
        newer = dockyard(root, image, cli_env, "--yes")
        outputs = [proc.communicate(timeout=300)[0] for proc in (older, newer)]
        failures = [line for out in outputs for line in out.splitlines()
                    if "FAILED" in line or line.startswith(("error:", "registry now:"))]
        assert [older.returncode, newer.returncode] == [0, 0], failures
        newest = digest(registry, repo, "1.1.0")
        assert digest(registry, repo, "latest") == newest, (pair, outputs)
        assert digest(registry, repo, "1") == newest, (pair, outputs)
        assert digest(registry, repo, "1.0") == digest(registry, repo, "1.0.1")


def test_a_shallow_ci_clone_of_a_backport_withholds_latest_and_major(
    project: Callable[..., Path], registry: RunningRegistry, cli_env: dict[str, str],
    tmp_path: Path,
) -> None:
    """`git clone --depth 1 --branch v1.0.1` after 1.1.0 was released: the checkout knows no
    1.1.0, the registry does."""
    root = project()
    repo = "race/shallow"
    image = f"{registry.host}/{repo}"
    release_tag(root, "v1.0.0")
    done = dockyard(root, image, cli_env, "--yes")
    assert done.wait(timeout=300) == 0, done.communicate()[0]
    git(root, "checkout", "-q", "-b", "backport")
    release_tag(root, "v1.0.1", change="fix")
    git(root, "checkout", "-q", "main")
    release_tag(root, "v1.1.0", change="feature")
    done = dockyard(root, image, cli_env, "--yes")
    assert done.wait(timeout=300) == 0, done.communicate()[0]
    newest = digest(registry, repo, "latest")
    assert newest == digest(registry, repo, "1.1.0")
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", "--branch", "v1.0.1",
                    f"file://{root}", str(clone)], check=True, capture_output=True)
    assert git(clone, "tag") == "v1.0.1"  # the checkout knows nothing newer

    dry = dockyard(clone, image, cli_env, "--dry-run", "--json")
    plan = json.loads(dry.communicate(timeout=120)[0])
    (planned,) = plan["images"]
    assert planned["aliases"] == ["1.0"]
    assert {w["tag"]: w["reason"] for w in planned["withheld"]} == {
        "1": "1.1.0 is published", "latest": "1.1.0 is published"}

    run = dockyard(clone, image, cli_env, "--yes")
    out = run.communicate(timeout=300)[0]
    assert run.returncode == 0, out
    assert f"withheld: {image}:latest — 1.1.0 is published" in out
    assert digest(registry, repo, "latest") == newest
    assert digest(registry, repo, "1") == newest
    assert digest(registry, repo, "1.0") == digest(registry, repo, "1.0.1") != newest


# -- stops and faults in the alias phase ---------------------------------------------------------


def test_a_cancel_during_the_alias_phase_keeps_what_moved_and_a_rerun_completes_it(
    project: Callable[..., Path], registry: RunningRegistry, podman: PodmanEngine,
    tmp_path: Path,
) -> None:
    from core.release import Release

    root = project()
    release_tag(root, "v1.0.0")
    repo = "stops/alias-cancel"
    image = f"{registry.host}/{repo}"
    plan = plan_for(root, image)
    release = Release(plan, podman, client_for=lambda n: RegistryClient(n.api_host),
                      report_dir=tmp_path / "reports")
    events: list[Event] = []
    for event in release.events():
        events.append(event)
        if isinstance(event, AliasMoved):
            release.cancel()  # as SIGTERM does: after the first alias moved
    (failed,) = [e for e in events if isinstance(e, ReleaseFailed)]
    assert failed.phase == "aliases" and "cancelled" in failed.error
    moved = [e.tag for e in events if isinstance(e, AliasMoved)]
    assert moved == ["1.0"]
    version = digest(registry, repo, "1.0.0")
    assert digest(registry, repo, "1.0") == version  # kept: a cancel rolls nothing back
    assert digest(registry, repo, "1") is None and digest(registry, repo, "latest") is None
    report = json.loads(release.report_path.read_text())
    assert report["ok"] is False
    assert report["failure"]["kind"] == "cancelled"
    assert report["failure"]["moved"] == {image: ["1.0"]}

    again = list(run_release(plan, podman, report_dir=tmp_path / "reports"))
    assert finished(again).ok
    assert [e.tag for e in again if isinstance(e, AliasMoved)] == ["1", "latest"]
    for tag in ALIASES:
        assert digest(registry, repo, tag) == version


def test_a_report_that_cannot_be_written_stops_the_run_before_anything_is_pushed(
    project: Callable[..., Path], registry: RunningRegistry, podman: PodmanEngine,
    tmp_path: Path,
) -> None:
    root = project()
    release_tag(root, "v1.0.0")
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the report directory should be\n")
    events = list(run_release(plan_for(root, f"{registry.host}/stops/report"), podman,
                              report_dir=blocked / "runs"))
    (failed,) = [e for e in events if isinstance(e, ReleaseFailed)]
    assert failed.error.startswith("report: cannot write")
    assert not finished(events).ok and finished(events).report_path == ""
    assert not [e for e in events if isinstance(e, DigestPushed)]
    assert digest(registry, "stops/report", "1.0.0") is None


def test_a_registry_read_error_before_the_aliases_moves_none(
    project: Callable[..., Path], registry: RunningRegistry, podman: PodmanEngine,
    tmp_path: Path,
) -> None:
    """The never-backwards read is refused (the tag list answers 401): no alias moves on a
    guess, the version tag stays published."""

    class NoTagList(RegistryClient):
        def list_tags(self, repo: str, *, page_size: int | None = None,
                      missing_ok: bool = False) -> list[str]:
            from core.errors import CredentialError

            raise CredentialError(f"{self.host}/{repo}: anonymous access was refused (HTTP 401)")

    root = project()
    release_tag(root, "v1.0.0")
    repo = "stops/read-error"
    events = list(run_release(plan_for(root, f"{registry.host}/{repo}"), podman,
                              client_for=lambda n: NoTagList(n.api_host),
                              report_dir=tmp_path / "reports"))
    (failed,) = [e for e in events if isinstance(e, ReleaseFailed)]
    assert failed.phase == "aliases" and "401" in failed.error
    assert not [e for e in events if isinstance(e, AliasMoved)]
    assert digest(registry, repo, "1.0.0") is not None
    for tag in ALIASES:
        assert digest(registry, repo, tag) is None


def test_an_error_a_library_lets_through_is_a_failed_phase_not_a_traceback(
    project: Callable[..., Path], registry: RunningRegistry, podman: PodmanEngine,
    tmp_path: Path,
) -> None:
    import httpx

    class Looping(RegistryClient):
        def head_manifest(self, repo: str, ref: str) -> ManifestHead | None:
            if ref == "latest":
                raise httpx.TooManyRedirects("Exceeded maximum allowed redirects.")
            return super().head_manifest(repo, ref)

    root = project()
    release_tag(root, "v1.0.0")
    repo = "stops/unexpected"
    events = list(run_release(plan_for(root, f"{registry.host}/{repo}"), podman,
                              client_for=lambda n: Looping(n.api_host),
                              report_dir=tmp_path / "reports"))
    (failed,) = [e for e in events if isinstance(e, ReleaseFailed)]
    assert failed.phase == "aliases"
    assert failed.error == "unexpected TooManyRedirects: Exceeded maximum allowed redirects."
    assert not finished(events).ok
    report = json.loads(Path(finished(events).report_path).read_text())
    assert report["failure"]["phase"] == "aliases"
