"""Two-phase publish end to end: real git repos, a real registry, real podman (and real buildx
wherever ``docker buildx version`` works). Images are FROM scratch copies of per-platform ELF
files, so nothing is pulled from the internet."""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from core.engines.base import EngineOptions
from core.engines.buildx import BuildxEngine, buildx_available
from core.engines.podman import PodmanEngine
from core.events import (
    AliasMoved,
    DigestPushed,
    Event,
    LogBatch,
    PhaseFinished,
    ReleaseFailed,
    StepFailed,
    StepStarted,
    VerifyReported,
)
from core.plan import BuildOptions, Plan
from core.reference import ImageName
from core.registry import RegistryClient
from core.release import run_release
from tests.e2e.conftest import (
    DOCKERFILE,
    PLATFORMS,
    digest,
    plan_for,
    release_tag,
)
from tests.registry.proxy import Fault, FaultProxy, running
from tests.support.outcome import failure, finished
from tests.support.registry import RunningRegistry
from tui.headless import run_release_headless

pytestmark = pytest.mark.e2e

# arm64 has no app.conf: the second COPY is a build step that really fails for one platform
# A step only the build can fail: scratch has no shell for RUN (a COPY that no file fills is
# refused by the dry run, before any build).
FAILING = DOCKERFILE + "RUN test -f /etc/app.conf\n"


class SpyClient(RegistryClient):
    """The real client, noting every manifest PUT (to prove a re-run writes nothing)."""

    puts: ClassVar[list[str]] = []

    def put_manifest(self, repo: str, ref: str, raw: bytes, media_type: str) -> str:
        SpyClient.puts.append(f"{repo}:{ref}")
        return super().put_manifest(repo, ref, raw, media_type)


def run(plan: Plan, engine: object, tmp_path: Path) -> list[Event]:
    def client_for(name: ImageName) -> RegistryClient:
        return SpyClient(name.api_host)

    events: Iterator[Event] = run_release(plan, engine, client_for=client_for,  # type: ignore[arg-type]
                                          report_dir=tmp_path / "reports")
    return list(events)


def test_a_release_pushes_verifies_and_moves_aliases(
    project: Callable[..., Path], registry: RunningRegistry, podman: PodmanEngine,
    tmp_path: Path,
) -> None:
    root = project()
    release_tag(root, "v1.0.0")
    image = f"{registry.host}/e2e/verifies"
    events = run(plan_for(root, image), podman, tmp_path)
    assert finished(events).ok, [e for e in events if isinstance(e, ReleaseFailed)]
    (pushed,) = [e for e in events if isinstance(e, DigestPushed)]
    assert pushed.image == image  # pushed by digest, the tag comes after verification
    reports = [e for e in events if isinstance(e, VerifyReported)]
    assert [r.ok for r in reports] == [True, True]
    assert sorted(reports[0].report.expected) == list(PLATFORMS)
    moved = {e.tag: e for e in events if isinstance(e, AliasMoved)}
    assert set(moved) == {"1.0", "1", "latest"}
    assert all(e.previous is None and e.digest == pushed.digest for e in moved.values())
    for tag in ("1.0.0", "1.0", "1", "latest"):  # podman + exact-bytes PUT: one digest
        assert digest(registry, "e2e/verifies", tag) == pushed.digest
    platforms = {e.platform for e in events if isinstance(e, StepStarted)}
    assert platforms == set(PLATFORMS)
    report = json.loads(Path(finished(events).report_path).read_text())
    assert report["ok"] is True
    assert report["images"][image]["aliases"]["latest"] == {
        "previous": None, "target": pushed.digest}


def test_rerunning_the_same_release_is_a_no_op(
    project: Callable[..., Path], registry: RunningRegistry, podman: PodmanEngine,
    tmp_path: Path,
) -> None:
    root = project()
    release_tag(root, "v2.0.0")
    image = f"{registry.host}/e2e/rerun"
    plan = plan_for(root, image)
    assert finished(run(plan, podman, tmp_path)).ok
    before = {t: digest(registry, "e2e/rerun", t) for t in ("2.0.0", "2.0", "2", "latest")}
    SpyClient.puts.clear()
    events = run(plan, podman, tmp_path)
    assert finished(events).ok
    assert not [e for e in events if isinstance(e, (DigestPushed, AliasMoved, StepStarted))]
    build = next(e for e in events if isinstance(e, PhaseFinished) and e.phase == "build")
    assert build.detail.startswith("skipped")
    assert SpyClient.puts == []
    assert {t: digest(registry, "e2e/rerun", t) for t in before} == before


def test_a_failing_build_step_leaves_latest_untouched(
    project: Callable[..., Path], registry: RunningRegistry, podman: PodmanEngine,
    tmp_path: Path,
) -> None:
    root = project()
    release_tag(root, "v1.0.0")
    image = f"{registry.host}/e2e/failing-step"
    assert finished(run(plan_for(root, image), podman, tmp_path)).ok
    latest = digest(registry, "e2e/failing-step", "latest")
    (root / "Dockerfile").write_text(FAILING)
    release_tag(root, "v1.1.0", change="needs a config file")
    events = run(plan_for(root, image), podman, tmp_path)
    assert not finished(events).ok
    failed = failure(events)
    assert failed.phase == "build"
    assert "app.conf" in " ".join(e.name for e in events if isinstance(e, StepFailed))
    assert "latest unchanged" in failed.registry_state
    step_failures = [e for e in events if isinstance(e, StepFailed)]
    assert step_failures and step_failures[0].platform in PLATFORMS
    assert digest(registry, "e2e/failing-step", "latest") == latest
    assert digest(registry, "e2e/failing-step", "1.1.0") is None
    assert not [e for e in events if isinstance(e, AliasMoved)]


def test_a_missing_platform_binary_stops_before_anything_runs(
    project: Callable[..., Path], registry: RunningRegistry, podman: PodmanEngine,
    tmp_path: Path,
) -> None:
    root = project()
    release_tag(root, "v1.0.0")
    image = f"{registry.host}/e2e/missing-binary"
    assert finished(run(plan_for(root, image), podman, tmp_path)).ok
    latest = digest(registry, "e2e/missing-binary", "latest")
    release_tag(root, "v1.1.0", change="next")
    plan = plan_for(root, image)
    (root / "dist" / "arm64" / "app").unlink()  # gone between review and run
    events = run(plan, podman, tmp_path)
    failed = failure(events)
    assert failed.phase == "preflight"
    assert "arm64" in failed.error
    assert not [e for e in events if isinstance(e, (StepStarted, DigestPushed, AliasMoved))]
    assert digest(registry, "e2e/missing-binary", "latest") == latest
    assert digest(registry, "e2e/missing-binary", "1.1.0") is None


def test_an_existing_version_tag_from_another_build_is_refused(
    project: Callable[..., Path], registry: RunningRegistry, podman: PodmanEngine,
    tmp_path: Path,
) -> None:
    first, second = project("first"), project("second", salt="other")
    release_tag(first, "v3.0.0")
    release_tag(second, "v3.0.0")
    image = f"{registry.host}/e2e/immutable"
    assert finished(run(plan_for(first, image), podman, tmp_path)).ok
    version = digest(registry, "e2e/immutable", "3.0.0")
    latest = digest(registry, "e2e/immutable", "latest")
    events = run(plan_for(second, image), podman, tmp_path)
    failed = failure(events)
    assert failed.phase == "resolve"
    assert f"{image}:3.0.0 already exists with digest {version}" in failed.error
    assert "built from commit" in failed.error
    assert not [e for e in events if isinstance(e, StepStarted)]
    assert digest(registry, "e2e/immutable", "3.0.0") == version
    assert digest(registry, "e2e/immutable", "latest") == latest


def test_headless_runner_prints_json_lines_and_exit_codes(
    project: Callable[..., Path], registry: RunningRegistry, podman_root: Path,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DOCKYARD_PODMAN_STORAGE_DRIVER", "vfs")
    monkeypatch.setenv("DOCKYARD_PODMAN_ISOLATION", "chroot")
    monkeypatch.setenv("DOCKYARD_PODMAN_ROOT", str(podman_root))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    root = project()
    release_tag(root, "v1.0.0")
    image = f"{registry.host}/e2e/headless"
    args = argparse.Namespace(yes=True, json=True, engine="podman", insecure_registry=[],
                              output=None, load=None)
    assert run_release_headless(plan_for(root, image), args) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[-1]["event"] == "ReleaseFinished" and lines[-1]["ok"] is True
    assert (tmp_path / "state" / "dockyard" / "runs").is_dir()

    (root / "Dockerfile").write_text(FAILING)
    release_tag(root, "v1.1.0", change="broken")
    args.json = False
    assert run_release_headless(plan_for(root, image), args) == 1
    out = capsys.readouterr().out
    assert "release FAILED in phase build" in out
    assert "latest unchanged" in out


def test_buildx_release_end_to_end(
    project: Callable[..., Path], registry: RunningRegistry, tmp_path: Path
) -> None:
    problem = buildx_available(EngineOptions())
    if problem is not None:
        print(f"buildx end-to-end skipped: `docker buildx version` failed: {problem}")
        pytest.skip(f"docker buildx is not usable here: {problem}")
    root = project()
    release_tag(root, "v1.0.0")
    image = f"{registry.host}/e2e/buildx"
    events = run(plan_for(root, image), BuildxEngine(EngineOptions()), tmp_path)
    assert finished(events).ok, [e for e in events if isinstance(e, ReleaseFailed)]
    version = digest(registry, "e2e/buildx", "1.0.0")
    assert version is not None
    assert digest(registry, "e2e/buildx", "latest") == version


def test_an_alias_the_registry_refuses_rolls_the_moved_aliases_back(
    project: Callable[..., Path], registry: RunningRegistry, podman: PodmanEngine,
    tmp_path: Path,
) -> None:
    root = project()
    release_tag(root, "v1.0.0")
    image = f"{registry.host}/e2e/rollback"
    assert finished(run(plan_for(root, image), podman, tmp_path)).ok
    old = digest(registry, "e2e/rollback", "latest")
    release_tag(root, "v1.1.0", change="next")
    plan = plan_for(root, image)
    # "-bad" is no valid tag: the registry answers 400 after "1" and "latest" have moved
    tags = dataclasses.replace(plan.images[0].tags, aliases=("1", "latest", "-bad"))
    plan = dataclasses.replace(plan, images=(dataclasses.replace(plan.images[0], tags=tags),))
    events = run(plan, podman, tmp_path)
    failed = failure(events)
    assert failed.phase == "aliases"
    assert "rolled back" in failed.registry_state
    assert digest(registry, "e2e/rollback", "latest") == old
    assert digest(registry, "e2e/rollback", "1") == old
    assert digest(registry, "e2e/rollback", "1.1.0") not in (None, old)
    report = json.loads(Path(finished(events).report_path).read_text())
    assert report["images"][image]["aliases"]["latest"]["previous"] == old


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


@pytest.mark.timeout(120)
def test_cancel_stops_the_real_build_and_moves_nothing(
    registry: RunningRegistry, podman: PodmanEngine, tmp_path: Path
) -> None:
    """A RUN step sleeping for minutes (busybox-static runs natively for amd64): cancelling
    from another thread, as the TUI does, stops podman and the step's processes."""
    from core.release import Release
    from tests.engines.conftest import build_plan

    busybox = Path("/bin/busybox")
    if not busybox.exists():
        pytest.skip("busybox-static is not installed (/bin/busybox)")
    root = tmp_path / "slow"
    root.mkdir()
    shutil.copy(busybox, root / "busybox")
    marker = "sleep 471"
    (root / "Dockerfile").write_text(
        "FROM scratch\nCOPY busybox /bin/busybox\n"
        f'RUN ["/bin/busybox", "sh", "-c", "echo tick; /bin/busybox {marker}"]\n')
    plan = build_plan(root, images=(f"{registry.host}/e2e/cancel",), platforms=("linux/amd64",),
                      version="v1.0.0", build=BuildOptions(provenance=False))
    release = Release(plan, podman, client_for=lambda n: RegistryClient(n.api_host),
                      report_dir=tmp_path / "reports")
    events: list[Event] = []
    for event in release.events():
        events.append(event)
        if isinstance(event, LogBatch) and "tick" in event.lines:
            assert _processes_with(marker)  # the step really runs
            threading.Thread(target=release.cancel).start()
    failed = failure(events)
    assert failed.phase == "build"
    assert "cancelled" in failed.error
    assert _processes_with(marker) == []
    assert _processes_with(str(podman.options.podman_root)) == []  # no podman left either
    assert digest(registry, "e2e/cancel", "1.0.0") is None
    assert digest(registry, "e2e/cancel", "latest") is None


# -- the registry misbehaving: a fault-injecting proxy between dockyard and the real registry --


def run_through(proxy: FaultProxy, plan: Plan, engine: object, tmp_path: Path) -> list[Event]:
    """Release with every registry call of dockyard's own going through ``proxy`` (the engine
    still pushes to the registry directly); retries back off for 10 ms instead of seconds."""

    def client_for(name: ImageName) -> RegistryClient:
        return RegistryClient(proxy.host, backoff=0.01, max_retries=3)

    events = run_release(plan, engine, client_for=client_for,  # type: ignore[arg-type]
                         report_dir=tmp_path / "reports")
    return list(events)


def test_transient_registry_faults_are_retried_and_the_release_verifies(
    project: Callable[..., Path], registry: RunningRegistry, podman: PodmanEngine,
    tmp_path: Path,
) -> None:
    root = project()
    release_tag(root, "v1.0.0")
    image = f"{registry.host}/e2e/flaky"
    with running(FaultProxy(registry.host)) as proxy:
        proxy.inject(Fault(429, method="HEAD", path_contains="/manifests/",
                           headers={"Retry-After": "1"}))
        proxy.inject(Fault(500, method="GET", path_contains="/manifests/"))
        proxy.inject(Fault(reset=True, method="PUT", path_contains="/manifests/"))
        events = run_through(proxy, plan_for(root, image), podman, tmp_path)
        statuses = [seen.status for seen in proxy.requests()]
    assert finished(events).ok, [e for e in events if isinstance(e, ReleaseFailed)]
    assert {429, 500, 0} <= set(statuses)  # each fault was really served, then retried
    version = digest(registry, "e2e/flaky", "1.0.0")
    assert version is not None
    for tag in ("1.0", "1", "latest"):
        assert digest(registry, "e2e/flaky", tag) == version


def test_a_registry_failing_during_verification_moves_no_alias(
    project: Callable[..., Path], registry: RunningRegistry, podman: PodmanEngine,
    tmp_path: Path,
) -> None:
    root = project()
    release_tag(root, "v1.0.0")
    image = f"{registry.host}/e2e/verify-down"
    assert finished(run(plan_for(root, image), podman, tmp_path)).ok
    before = {t: digest(registry, "e2e/verify-down", t) for t in ("1.0.0", "1.0", "1", "latest")}
    release_tag(root, "v1.1.0", change="next")
    with running(FaultProxy(registry.host)) as proxy:
        # every manifest GET fails: resolving (HEAD) works, verification (GET) cannot
        proxy.inject(Fault(500, times=10_000, method="GET", path_contains="/manifests/"))
        events = run_through(proxy, plan_for(root, image), podman, tmp_path)
        failed_gets = [s for s in proxy.requests("GET") if s.status == 500]
    failed = failure(events)
    assert failed.phase == "verify"
    assert "500" in failed.error
    assert "1.1.0" in failed.registry_state and "unchanged" in failed.registry_state
    assert len(failed_gets) == 4  # the first try and max_retries=3 retries, then it gave up
    assert not [e for e in events if isinstance(e, AliasMoved)]
    after = {t: digest(registry, "e2e/verify-down", t) for t in before}
    assert after == before
    # verification runs on the pushed digest before any tag exists: 1.1.0 is still free
    assert digest(registry, "e2e/verify-down", "1.1.0") is None
    assert "has no tag" in failed.registry_state
