"""Fixtures for the wizard's Pilot tests: one screen at a time in a small host app."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.screen import Screen

from screens.credentials import CredentialsScreen
from tui.app import WIZARD_CSS
from tui.messages import OpenCredentials


class Host(App[None]):
    """Pushes one screen and records what it is dismissed with."""

    CSS_PATH = WIZARD_CSS

    def __init__(self, make_screen: Callable[[], Screen[Any]]) -> None:
        super().__init__()
        self.make_screen = make_screen
        self.results: list[Any] = []

    def on_mount(self) -> None:
        self.push_screen(self.make_screen(), self.results.append)

    def on_open_credentials(self, message: OpenCredentials) -> None:
        """As the wizard's app does: the step screens ask for the manager by message."""
        self.push_screen(CredentialsScreen(message.store, registry=message.registry),
                         message.done)


@pytest.fixture
def host() -> Callable[[Callable[[], Screen[Any]]], Host]:
    return Host


async def settle(pilot: Any, until: Callable[[], bool], *, rounds: int = 500) -> None:
    """Let workers finish: pause until ``until()`` holds (fails the test if it never does)."""
    for _ in range(rounds):
        await pilot.pause(0.02)
        if until():
            return
    raise AssertionError("condition not reached")


async def click(pilot: Any, selector: str) -> None:
    """Click a widget once its place on screen has stopped moving.

    A click lands where the widget is at that instant; under load a worker's update can still be
    shifting the layout, and the click would hit a neighbour.
    """
    widget = pilot.app.screen.query_one(selector)
    before = None
    for _ in range(200):
        await pilot.pause(0.02)
        region = widget.region
        if region.area and region == before:
            break
        before = region
    else:
        raise AssertionError(f"{selector} never settled on screen")
    await pilot.click(selector)


async def quiet(pilot: Any) -> None:
    """Wait until workers are done and the last updates are laid out and painted (snapshots)."""
    await pilot.app.workers.wait_for_complete()
    await pilot.wait_for_scheduled_animations()
    for _ in range(3):
        await pilot.pause(0.05)


def write_file(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def anyio_backend() -> str:
    """Pilot tests are async; anyio's pytest plugin (httpx already depends on anyio) runs them."""
    return "asyncio"


def push_tiny_image(registry_url: str, repo: str, tag: str, *, payload: bytes = b"x") -> str:
    """Upload a one-layer image (config + layer blobs, then the manifest); its manifest digest.

    Gives the Images and Summary screens something real to find in the registry.
    """
    import hashlib
    import json

    import httpx

    def blob(data: bytes) -> dict[str, object]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        start = httpx.post(f"{registry_url}/v2/{repo}/blobs/uploads/")
        start.raise_for_status()
        location = start.headers["Location"]
        if location.startswith("/"):
            location = registry_url + location
        sep = "&" if "?" in location else "?"
        done = httpx.put(f"{location}{sep}digest={digest}", content=data,
                         headers={"Content-Type": "application/octet-stream"})
        done.raise_for_status()
        return {"mediaType": "", "digest": digest, "size": len(data)}

    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    config_ref = {**blob(config), "mediaType": "application/vnd.oci.image.config.v1+json"}
    layer_ref = {**blob(payload), "mediaType": "application/vnd.oci.image.layer.v1.tar"}
    manifest = json.dumps({"schemaVersion": 2,
                           "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": config_ref, "layers": [layer_ref]}).encode()
    put = httpx.put(f"{registry_url}/v2/{repo}/manifests/{tag}", content=manifest,
                    headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    put.raise_for_status()
    return "sha256:" + hashlib.sha256(manifest).hexdigest()


def demo_draft(root: Path, image: str) -> Any:
    """A complete draft for the project ``core.demo.create_demo`` wrote (copy mode, v0.1.0)."""
    from core.config import load_config
    from core.repo import ProjectRepo
    from tui.draft import Draft

    repo = ProjectRepo.open(root)
    [version] = repo.version_tags()
    draft = Draft.from_config(root, load_config(root))
    return dataclasses.replace(
        draft, version=version, known=(version,), commit=repo.head_commit(), images=(image,),
        engine="podman",
    )
