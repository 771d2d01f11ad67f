"""The wizard started with ``--part`` or ``--merge``: Review shows the leg's or the merge's plan
(issue 11, item 4), Build runs it. The release in the fast tests is the recorded buildx replay;
the e2e test builds a real part with podman into the real registry."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from textual.widgets import Button, Static

from core.demo import create_demo
from core.events import Event
from core.parts import Part, PartImage, Split, read_part, write_part
from core.platforms import parse_platform
from core.repo import ProjectRepo
from screens.build import BuildScreen
from screens.review import ReviewScreen
from tests.support.podman import podman_storage
from tests.support.registry import RunningRegistry, run_registry
from tests.ui.conftest import settle
from tests.ui.test_app import next_when_enabled, on_screen, replay_release
from tui.app import DockyardApp
from tui.cli import main
from tui.services import Services
from tui.widgets import ErrorModal

pytestmark = pytest.mark.anyio

BEFORE_REVIEW = 5  # Version, Images, Platforms, Mode, Credentials


async def to_review(pilot) -> str:
    """Next through the steps before Review; Review's plan text once core has validated it."""
    for _ in range(BEFORE_REVIEW):
        await next_when_enabled(pilot)
    app = pilot.app
    # a refused plan also raises the error modal over Review
    await settle(pilot, lambda: any(isinstance(s, ReviewScreen) for s in app.screen_stack),
                 rounds=1000)
    (screen,) = [s for s in app.screen_stack if isinstance(s, ReviewScreen)]
    await settle(pilot, lambda: screen.plan_draft is not None or "not valid" in
                 str(screen.query_one("#plan", Static).render()), rounds=1000)
    return str(screen.query_one("#plan", Static).render())


def recording_release(seen: list[Split | None]):
    """The recorded buildx replay, noting the split the Build screen handed over."""
    replay = replay_release()

    def release(plan, cancel: threading.Event,
                split: Split | None = None) -> Iterator[Event]:
        seen.append(split)
        return replay(plan, cancel)

    return release


def demo_parts(root: Path, directory: Path, image: str, *, revision: str = "") -> list[Path]:
    """One part file per demo platform, as two legs would have written them."""
    head = ProjectRepo.open(root).head_commit()
    paths = []
    for arch, digest in (("amd64", "a" * 64), ("arm64", "b" * 64)):
        part = Part(version="0.1.0", git_tag="v0.1.0", revision=revision or head,
                    platforms=(parse_platform(f"linux/{arch}"),),
                    images=(PartImage(image, f"sha256:{digest}",
                                      "application/vnd.oci.image.index.v1+json"),),
                    engine="podman")
        paths.append(write_part(part, directory / f"part-{arch}.json"))
    return paths


async def test_started_with_part_review_shows_the_leg_and_build_gets_it(
    tmp_path, registry
) -> None:
    demo = create_demo(tmp_path / "demo", registry=registry.host)
    seen: list[Split | None] = []
    services = Services(release=recording_release(seen), log_dir=tmp_path / "logs")
    app = DockyardApp(demo.root, services, split=Split(part=True, part_file=tmp_path / "leg.json"))
    async with app.run_test(size=(140, 45)) as pilot:
        text = await to_review(pilot)
        assert "Part of a split release: builds linux/amd64, linux/arm64 only" in text
        assert f"part file: {tmp_path / 'leg.json'}" in text
        assert f"write-part {tmp_path / 'leg.json'}" in text
        assert "registry-put-manifest" not in text  # no tag, no alias
        assert str(app.screen.query_one("#next", Button).label) == "Build & push part ▶"
        await next_when_enabled(pilot)
        await on_screen(pilot, BuildScreen)
        await settle(pilot, lambda: app.screen.done, rounds=500)
        assert app.screen.phases == ("preflight", "resolve", "build", "verify", "part")
    assert seen == [Split(part=True, part_file=tmp_path / "leg.json")]


async def test_started_with_part_and_no_file_names_the_default_one(tmp_path, registry) -> None:
    demo = create_demo(tmp_path / "demo", registry=registry.host)
    app = DockyardApp(demo.root, Services(), split=Split(part=True))
    async with app.run_test(size=(140, 45)) as pilot:
        text = await to_review(pilot)
        default = Path.cwd() / "dockyard-part-linux-amd64_linux-arm64.json"
        assert f"part file: {default}" in text
        assert app.screen.plan_draft.split == Split(part=True, part_file=default)


async def test_started_with_merge_review_lists_the_parts_and_the_merge_steps(
    tmp_path, registry
) -> None:
    demo = create_demo(tmp_path / "demo", registry=registry.host)
    parts = tuple(read_part(path) for path in demo_parts(demo.root, tmp_path, demo.image))
    seen: list[Split | None] = []
    services = Services(release=recording_release(seen), log_dir=tmp_path / "logs")
    app = DockyardApp(demo.root, services, split=Split(parts=parts))
    async with app.run_test(size=(160, 45)) as pilot:
        text = await to_review(pilot)
        assert "Merge of 2 parts built on separate machines" in text
        assert f"linux/amd64: {demo.image}@sha256:aaaaaaaaaaaa" in text
        assert f"linux/arm64: {demo.image}@sha256:bbbbbbbbbbbb" in text
        assert "registry-merge-index" in text and "podman build" not in text
        assert str(app.screen.query_one("#next", Button).label) == "Merge & publish ▶"
        await next_when_enabled(pilot)
        await on_screen(pilot, BuildScreen)
        assert app.screen.phases[2] == "merge"
    assert seen == [Split(parts=parts)]


async def test_parts_of_another_commit_are_refused_on_review(tmp_path, registry) -> None:
    demo = create_demo(tmp_path / "demo", registry=registry.host)
    parts = tuple(read_part(path) for path in
                  demo_parts(demo.root, tmp_path, demo.image, revision="c" * 40))
    app = DockyardApp(demo.root, Services(), split=Split(parts=parts))
    async with app.run_test(size=(140, 45)) as pilot:
        text = await to_review(pilot)
        assert "The plan is not valid yet" in text
        assert f"{tmp_path / 'part-amd64.json'} was built from cccccccccccc" in text
        assert isinstance(app.screen, ErrorModal)
        review = app.screen_stack[-2]
        assert isinstance(review, ReviewScreen) and review.query_one("#next", Button).disabled


def test_the_wizard_refuses_part_file_without_part_and_an_unreadable_part(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--part-file", str(tmp_path / "x.json")]) == 2
    assert capsys.readouterr().err == ("error: part: --part-file goes with --part; add --part, "
                                       "or drop --part-file\n")
    assert main(["--merge", str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: part: {tmp_path / 'missing.json'} is not a file")
    assert err.count("\n") == 1


@pytest.mark.e2e
async def test_a_part_built_from_the_wizard_is_pushed_by_digest_and_written(tmp_path) -> None:
    """The real Services: podman builds both demo platforms (copy mode: no emulation), the part
    file names the digests the registry holds, and no tag was written. A registry of its own:
    in the session's, another test may have published the demo's 0.1.0 already."""
    with run_registry() as registry:
        await build_a_part(tmp_path, registry)


async def build_a_part(tmp_path: Path, registry: RunningRegistry) -> None:
    demo = create_demo(tmp_path / "demo", registry=registry.host)
    repo = demo.image.split("/", 1)[1]
    leg = tmp_path / "leg.json"
    with podman_storage("dy-wizpart-") as storage:
        env = {"DOCKYARD_PODMAN_STORAGE_DRIVER": "vfs", "DOCKYARD_PODMAN_ISOLATION": "chroot",
               "DOCKYARD_PODMAN_ROOT": str(storage), "XDG_STATE_HOME": str(tmp_path / "state"),
               "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
        saved = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        try:
            services = Services(log_dir=tmp_path / "logs")
            app = DockyardApp(demo.root, services, split=Split(part=True, part_file=leg))
            async with app.run_test(size=(140, 45)) as pilot:
                await to_review(pilot)
                await next_when_enabled(pilot)
                await on_screen(pilot, BuildScreen)
                await settle(pilot, lambda: app.screen.done, rounds=15000)
                assert app.screen.outcome.ok, app.screen.outcome
                # the phases the screen lists are the ones the real part run went through
                assert tuple(app.screen.phase_state) == app.screen.phases
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    part = json.loads(leg.read_text())
    assert part["platforms"] == ["linux/amd64", "linux/arm64"]
    (image,) = part["images"]
    index = httpx.get(f"{registry.url}/v2/{repo}/manifests/{image['digest']}",
                      headers={"Accept": image["media_type"]})
    assert index.status_code == 200
    assert tags_of(registry.url, repo) == set()  # a part moves no tag


def tags_of(url: str, repo: str) -> set[str]:
    answer = httpx.get(f"{url}/v2/{repo}/tags/list")
    return set(answer.json().get("tags") or ()) if answer.status_code == 200 else set()
