"""Snapshots of each wizard screen's key states (pytest-textual-snapshot; textual 8.2.8).

Everything shown is made fixed: projects live at fixed paths with fixed commit dates (so commit
ids are fixed), image names are fixed and looked up in the real test registry through an
injected client factory, and the build is the recorded buildx output through the real parser.
Update with ``pytest tests/ui/test_snapshots.py --snapshot-update`` and review the SVGs.
"""

from __future__ import annotations

import dataclasses
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import keyring.backends.fail
import pytest

from core.credentials import CredentialStore
from core.demo import create_demo
from core.engines.progress import PlainParser
from core.events import AliasMoved, Event, PhaseFinished, PhaseStarted, ReleaseFinished
from core.plan import make_plan
from core.reference import ImageName
from core.registry import RegistryClient
from screens.build import BuildScreen
from screens.credentials_step import CredentialsStepScreen
from screens.images import ImagesScreen
from screens.mode import ModeScreen
from screens.platforms import PlatformsScreen
from screens.review import ReviewScreen
from screens.summary import SummaryScreen
from screens.version import VersionScreen
from tests.support.gitrepo import git, make_repo
from tests.support.registry import run_registry
from tests.ui.conftest import Host, demo_draft, push_tiny_image, quiet, settle
from tests.ui.test_build_summary_screens import verify_report
from tui.draft import BuildOutcome, Draft
from tui.services import Services

SIZE = (120, 40)
BASE = Path("/tmp/dockyard-snapshots")
IMAGE = "127.0.0.1:5000/demo/app"  # a fixed name; lookups go to the test registry
FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "buildx"


@pytest.fixture(autouse=True)
def fixed_dates(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE"):
        monkeypatch.setenv(name, "2026-01-02T03:04:05Z")


def fresh(name: str) -> Path:
    path = BASE / name
    shutil.rmtree(path, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def demo(name: str) -> Draft:
    project = create_demo(fresh(name), registry="127.0.0.1:5000")
    return demo_draft(project.root, IMAGE)


def planned(name: str) -> Draft:
    draft = demo(name)
    return dataclasses.replace(draft, plan=make_plan(draft.to_request()))


def to_registry(registry):
    """Clients for the real test registry whatever host the (fixed) image name says."""

    def make(image: ImageName) -> RegistryClient:
        return RegistryClient(registry.host)

    return make


def test_version_all_rules_pass(snap_compare) -> None:
    root = make_repo(fresh("version-ok"), tags=("v1.0.0", "v1.1.0"))
    app = Host(lambda: VersionScreen(Draft(root=root), Services()))

    async def ready(pilot) -> None:
        await settle(pilot, lambda: bool(app.screen.rules))
        await quiet(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=ready)


def test_version_rules_fail_and_cut_confirmation(snap_compare) -> None:
    root = make_repo(fresh("version-cut"), tags=("v1.0.0",))
    (root / "README").write_text("unreleased change\n")
    git(root, "commit", "-q", "-am", "unreleased change")
    app = Host(lambda: VersionScreen(Draft(root=root), Services()))

    async def ready(pilot) -> None:
        await settle(pilot, lambda: bool(app.screen.rules))
        await pilot.press("c")
        await quiet(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=ready)


def test_images_aliases_and_registry_state(snap_compare) -> None:
    # a registry of its own: other tests of the session push demo/app tags too
    with run_registry() as registry:
        push_tiny_image(registry.url, "demo/app", "latest")
        draft = demo("images")
        services = Services(registry_client=to_registry(registry))
        app = Host(lambda: ImagesScreen(draft, services))

        async def ready(pilot) -> None:
            await settle(pilot, lambda: IMAGE in app.screen.lookups)
            await quiet(pilot)

        assert snap_compare(app, terminal_size=SIZE, run_before=ready)


def test_platforms_checklist(snap_compare, tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    # An empty binfmt_misc of the test's own: the screen says "no QEMU binfmt handler" whether
    # or not this machine has QEMU registered.
    import core.engines.podman

    monkeypatch.setattr(core.engines.podman, "_BINFMT", tmp_path)
    draft = dataclasses.replace(demo("platforms"), engine="podman")
    app = Host(lambda: PlatformsScreen(draft, Services()))

    async def ready(pilot) -> None:
        await settle(pilot, lambda: app.screen.info is not None, rounds=500)
        await quiet(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=ready)


def test_mode_copy_table(snap_compare) -> None:
    draft = demo("mode")
    app = Host(lambda: ModeScreen(draft, Services()))

    async def ready(pilot) -> None:
        await settle(pilot, lambda: app.screen.checks is not None)
        await quiet(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=ready)


def test_credentials_without_keyring(snap_compare) -> None:
    store = CredentialStore("dockyard-h6-snapshot", backend=keyring.backends.fail.Keyring())
    draft = demo("credentials")
    app = Host(lambda: CredentialsStepScreen(draft, Services(credentials=lambda: store)))

    async def ready(pilot) -> None:
        await settle(pilot, lambda: bool(app.screen.logins))
        await quiet(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=ready)


def test_review_plan_and_commands(snap_compare) -> None:
    draft = demo("review")
    app = Host(lambda: ReviewScreen(draft, Services()))

    async def ready(pilot) -> None:
        await settle(pilot, lambda: app.screen.plan_draft is not None, rounds=500)
        await quiet(pilot)

    assert snap_compare(app, terminal_size=(120, 50), run_before=ready)


def test_build_finished(snap_compare, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = (FIXTURES / "plain-run.log").read_text().splitlines()
    monkeypatch.setattr("screens.build.time.strftime", lambda fmt: "20260102T030405")

    def release(plan, cancel: threading.Event, split=None) -> Iterator[Event]:
        yield PhaseStarted("preflight")
        yield PhaseFinished("preflight", True, 0.1)
        yield PhaseStarted("build")
        parser = PlainParser()
        for line in lines:
            yield from parser.feed(line)
        yield PhaseFinished("build", True, 0.5)
        yield ReleaseFinished(ok=True, report_path=str(BASE / "report.json"))

    draft = planned("build")
    services = Services(release=release, log_dir=BASE / "logs")
    app = Host(lambda: BuildScreen(draft, services))

    async def ready(pilot) -> None:
        await settle(pilot, lambda: app.screen.done, rounds=500)
        await quiet(pilot)

    assert snap_compare(app, terminal_size=(120, 45), run_before=ready)


def test_summary_verified(snap_compare, registry) -> None:
    amd = push_tiny_image(registry.url, "demo/app", "amd", payload=b"amd64 layer")
    arm = push_tiny_image(registry.url, "demo/app", "arm", payload=b"arm64 layer!")
    index = "sha256:" + "e" * 64
    outcome = BuildOutcome(
        ok=True, report_path=str(BASE / "report.json"), log_path=str(BASE / "build.log"),
        verify=[verify_report(IMAGE, {"linux/amd64": amd, "linux/arm64": arm}, index)],
        moved=[AliasMoved(IMAGE, "latest", "sha256:" + "d" * 64, index)], seconds=12.0,
    )
    draft = planned("summary")
    app = Host(lambda: SummaryScreen(draft, Services(registry_client=to_registry(registry)),
                                     outcome))

    async def ready(pilot) -> None:
        await settle(pilot, lambda: len(app.screen.sizes) == 2)
        await quiet(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=ready)
