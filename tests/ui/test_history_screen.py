"""The history screen against the real registry, holding the releases ``dockyard history``'s tests
push (several releases, a prerelease, a backport, an ``edge`` tag), with a real run report."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Static

from core.plan import ImagePlan
from core.reference import ImageName, parse_reference
from core.registry import RegistryClient
from core.release_report import RunReport
from core.release_state import ImageState
from core.rendering import human_size, short_digest
from core.tags import TagSet
from core.version import parse_version
from screens.browser import BrowserScreen
from screens.history import MARK, HistoryScreen
from tests.registry.content import Pushed, Pusher, push_releases
from tests.registry.proxy import Fault, FaultProxy, running
from tests.support.registry import RunningRegistry
from tests.ui.conftest import Host, quiet
from tui.services import Services
from tui.standalone import BrowserApp
from tui.widgets import HelpModal

REPO = "h15/history-view"
SIZE = (150, 40)


@pytest.fixture(scope="module")
def releases(registry: RunningRegistry) -> Iterator[dict[str, Pushed]]:
    pusher = Pusher(registry.url)
    yield push_releases(pusher, REPO)
    pusher.close()


def real_client(name: ImageName) -> RegistryClient:
    return RegistryClient(name.api_host)


def write_backport_report(report_dir: Path, name: ImageName,
                          releases: dict[str, Pushed]) -> None:
    """The report a release run of 1.1.1 writes (core/release_report.py), moving 1.1 onto it."""
    state = ImageState(ImagePlan(name, TagSet("1.1.1", ("1.1",), ())),
                       client=None)  # type: ignore[arg-type]
    report = RunReport("release", parse_version("v1.1.1"), "e" * 40, Path("/src/app"), [state],
                       report_dir)
    state.digest = releases["1.1.1"].digest
    report.image(state)["aliases"] = {"1.1": {"previous": releases["1.1.0"].digest,
                                              "target": state.digest}}
    state.moved.append("1.1")
    report.data["ok"] = True
    report.data["started"] = "2026-11-22T09:41:07+00:00"  # fixed, for the snapshot
    report.finish()
    report.write()


def history_host(image: str, report_dir: Path, factory: Any = real_client) -> Host:
    name = parse_reference(image).name
    return Host(lambda: HistoryScreen(name, Services(registry_client=factory),
                                      report_dir=report_dir))


async def loaded(pilot: Any) -> HistoryScreen:
    """Wait until the history (or its error) has arrived and is painted."""
    app = pilot.app
    for _ in range(500):
        await pilot.pause(0.02)
        screen = app.screen
        if (isinstance(screen, HistoryScreen) and not app.workers
                and (screen.history is not None or "error" in screen.query_one("#status").classes)):
            await quiet(pilot)
            return screen
    raise AssertionError("the history never finished loading")


async def open_history(pilot: Any) -> HistoryScreen:
    """In the browser app: wait for the tag list, then ``h``; the history once loaded."""
    browser = pilot.app.screen
    assert isinstance(browser, BrowserScreen)
    for _ in range(500):
        await pilot.pause(0.02)
        if browser.tags:
            break
    browser.query_one("#tags", DataTable).focus()
    await pilot.press("h")
    return await loaded(pilot)


def rows(screen: HistoryScreen) -> list[tuple[str, ...]]:
    table = screen.query_one("#versions", DataTable)
    return [tuple(str(cell) for cell in table.get_row_at(index))
            for index in range(table.row_count)]


def detail(screen: HistoryScreen) -> str:
    return str(screen.query_one("#detail", Static).render())


@pytest.mark.anyio
async def test_every_version_newest_first_with_its_aliases_beside_it(
    registry: RunningRegistry, releases: dict[str, Pushed], tmp_path: Path,
) -> None:
    app = history_host(f"{registry.host}/{REPO}", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        shown = rows(screen)
        assert [(row[1], row[2]) for row in shown] == [
            ("1.2.0", "latest, 1, 1.2, v1.2.0"),
            ("1.2.0-rc.2 pre", "latest, 1, 1.2, v1.2.0"),  # a version of its own, same image
            ("1.2.0-rc.1 pre", ""),
            ("1.1.1", "1.1"),
            ("1.1.0", ""),
            ("1.0.0", "1.0"),
            ("0.9.0", ""),
        ]
        top = shown[0]
        assert top[3] == short_digest(releases["1.2.0"].digest)
        assert top[4] == "linux/amd64, linux/arm64"
        assert top[7] == "d" * 12  # the revision label, short
        assert shown[-1][4] == "linux/amd64" and shown[-1][6] == "2024-01-02 03:04 UTC"
        single = json.loads(releases["0.9.0"].raw)
        assert shown[-1][5] == human_size(single["config"]["size"] + single["layers"][0]["size"])
        assert all(row[0] == "" for row in shown)  # nothing marked yet
        assert screen.selected_version is not None
        assert screen.selected_version.version.image_tag == "1.2.0"  # the cursor starts on top
        assert screen.status == f"7 versions in {registry.host}/{REPO}; other tags: edge"


@pytest.mark.anyio
async def test_the_detail_pane_shows_platforms_and_the_runs_from_reports(
    registry: RunningRegistry, releases: dict[str, Pushed], tmp_path: Path,
) -> None:
    name = parse_reference(f"{registry.host}/{REPO}").name
    write_backport_report(tmp_path, name, releases)
    app = history_host(str(name), tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        assert "runs recorded" not in detail(screen)  # 1.2.0: no report of this machine's
        await pilot.press("down", "down", "down")
        assert screen.selected_version is not None
        assert screen.selected_version.version.image_tag == "1.1.1"
        text = detail(screen)
        assert f"{name}:1.1.1" in text and "← 1.1" in text
        assert releases["1.1.1"].digest in text and f"revision {'e' * 40}" in text
        runnable = [m for m in json.loads(releases["1.1.1"].raw)["manifests"]
                    if "annotations" not in m]
        for platform, entry in zip(("linux/amd64", "linux/arm64"), runnable, strict=True):
            assert f"{platform:<16} {entry['digest']}" in text
        assert ("release 2026-11-22 09:41 UTC ok from /src/app (commit eeeeeeeeeeee): "
                "moved 1.1 1.1.0 → 1.1.1") in text
        await pilot.press("down")
        assert "runs recorded" not in detail(screen)  # 1.1.0 was not released here


@pytest.mark.anyio
async def test_mark_chooses_the_other_version_of_a_compare(
    registry: RunningRegistry, releases: dict[str, Pushed], tmp_path: Path,
) -> None:
    calls: list[ImageName] = []

    def counting(name: ImageName) -> RegistryClient:
        calls.append(name)
        return real_client(name)

    app = history_host(f"{registry.host}/{REPO}", tmp_path, counting)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        await pilot.press("down", "down", "down", "m")
        assert screen.marked_version is not None
        assert screen.marked_version.version.image_tag == "1.1.1"
        assert [row[0] for row in rows(screen)] == ["", "", "", MARK, "", "", ""]
        assert screen.status.endswith("; marked 1.1.1")
        await pilot.press("up", "up", "up")  # the highlighted one is the first side
        assert screen.selected_version is not None
        assert screen.selected_version.version.image_tag == "1.2.0"
        await pilot.press("r")  # a reload keeps the mark and the cursor
        screen = await loaded(pilot)
        assert len(calls) == 2
        assert screen.marked_version is not None and screen.selected_version is not None
        assert (screen.marked_version.version.image_tag,
                screen.selected_version.version.image_tag) == ("1.1.1", "1.2.0")
        assert rows(screen)[3][0] == MARK
        await pilot.press("down", "down", "down", "m")  # m on the marked one clears it
        assert screen.marked_version is None
        assert all(row[0] == "" for row in rows(screen))


@pytest.mark.anyio
async def test_an_image_without_versions_says_so_and_lists_its_tags(
    registry: RunningRegistry, tmp_path: Path,
) -> None:
    pusher = Pusher(registry.url)
    pusher.index("h15/history-none", "latest", ["linux/amd64"])
    pusher.close()
    app = history_host(f"{registry.host}/h15/history-none", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        assert screen.status == (f"no version tags in {registry.host}/h15/history-none; "
                                 "other tags: latest")
        assert screen.check_action("mark", ()) is None  # greyed: nothing to mark


@pytest.mark.anyio
async def test_a_registry_error_is_one_line(registry: RunningRegistry, tmp_path: Path) -> None:
    app = history_host(f"{registry.host}/h15/never-pushed", tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        assert screen.status == (f"registry: {registry.host}/h15/never-pushed: repository not "
                                 "found; check the image name (nothing pushed yet?)")
        assert "error" in screen.query_one("#status").classes
        assert screen.query_one("#versions", DataTable).row_count == 0
        assert screen.selected_version is None
        await pilot.press("m")  # nothing to mark: nothing happens, nothing breaks
        assert screen.marked_version is None
        assert "Traceback" not in str(app.export_screenshot())


@pytest.mark.anyio
async def test_a_version_with_a_problem_is_flagged_in_its_row_and_explained_below(
    registry: RunningRegistry, releases: dict[str, Pushed], tmp_path: Path,
) -> None:
    amd64 = json.loads(releases["1.0.0"].raw)["manifests"][0]["digest"]
    config = json.loads(RegistryClient(registry.host).get_manifest(REPO, amd64).raw)["config"]
    with running(FaultProxy(registry.host)) as proxy:
        proxy.inject(Fault(status=404, method="GET", path_contains=config["digest"]))
        app = history_host(f"{proxy.host}/{REPO}", tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            screen = await loaded(pilot)
            platforms = {row[1]: row[4] for row in rows(screen)}
            assert platforms["1.0.0"] == "⚠ linux/amd64, linux/arm64"
            assert platforms["1.1.0"] == "linux/amd64, linux/arm64"
            await pilot.press(*["down"] * 5)
            assert "⚠ linux/amd64 config is unreadable (" in detail(screen)


@pytest.mark.anyio
async def test_the_read_runs_in_a_worker_and_the_screen_answers_meanwhile(
    registry: RunningRegistry, releases: dict[str, Pushed], tmp_path: Path,
) -> None:
    gate = threading.Event()
    threads: list[threading.Thread] = []

    class SlowList(RegistryClient):
        def list_tags(self, *args: Any, **kwargs: Any) -> Any:
            threads.append(threading.current_thread())
            gate.wait(10)
            return super().list_tags(*args, **kwargs)

    app = history_host(f"{registry.host}/{REPO}", tmp_path,
                       lambda name: SlowList(name.api_host))
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(250):
            await pilot.pause(0.02)
            if threads:
                break
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        assert threads and threads[0] is not threading.main_thread()
        assert screen.status == f"reading the history of {registry.host}/{REPO}…"
        assert screen.query_one("#versions", DataTable).loading
        await pilot.press("question_mark")  # keys work while the registry is slow
        await pilot.pause()
        assert isinstance(app.screen, HelpModal)
        assert "newest first" in app.screen.body and "Mark (compare)" in str(app.screen.keys)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen
        gate.set()
        screen = await loaded(pilot)
        assert not screen.query_one("#versions", DataTable).loading
        assert len(rows(screen)) == 7


@pytest.mark.anyio
async def test_the_browsers_h_opens_the_history_of_the_browsed_image(
    registry: RunningRegistry, releases: dict[str, Pushed], tmp_path: Path,
) -> None:
    name = parse_reference(f"{registry.host}/{REPO}").name
    write_backport_report(tmp_path, name, releases)
    app = BrowserApp(str(name), client_factory=real_client, report_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        browser = app.screen
        screen = await open_history(pilot)
        assert screen.image == name
        assert [row[1] for row in rows(screen)][:2] == ["1.2.0", "1.2.0-rc.2 pre"]
        await pilot.press("down", "down", "down")
        assert "moved 1.1 1.1.0 → 1.1.1" in detail(screen)  # the app's report dir
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is browser and app.is_running


@pytest.mark.anyio
async def test_history_is_offered_only_once_the_browser_has_an_image() -> None:
    app = BrowserApp(None, client_factory=real_client)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        browser = app.screen
        assert isinstance(browser, BrowserScreen)
        assert browser.check_action("history", ()) is None  # shown greyed, does nothing
        browser.query_one("#tags", DataTable).focus()
        await pilot.press("h")
        await pilot.pause()
        assert app.screen is browser


# ---- snapshot: fixed content, fixed report, a fixed name instead of the registry's port -----


def test_snapshot_history_with_a_mark_and_a_run(
    registry: RunningRegistry, releases: dict[str, Pushed], tmp_path: Path, snap_compare: Any,
) -> None:
    name = parse_reference(f"registry.test/{REPO}").name
    write_backport_report(tmp_path, name, releases)
    app = history_host(str(name), tmp_path, lambda _name: RegistryClient(registry.host))

    async def ready(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.press("down", "down", "down", "down", "m", "up")
        await quiet(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=ready)
