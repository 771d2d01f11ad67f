"""The real ``dockyard`` under tmux, from the Version screen to a verified release.

A demo project (copy mode, linux/amd64 + linux/arm64, tag v0.1.0 on HEAD) is released to a real
registry with real podman; the test only presses keys and reads the screen, then asks the
registry what it holds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.demo import create_demo
from core.reference import parse_image_name
from core.registry import RegistryClient
from core.verify import verify_release
from tests.support.podman import podman_storage
from tests.support.registry import RunningRegistry
from tests.support.tmux import Terminal

pytestmark = pytest.mark.e2e

DOCKYARD = Path(sys.executable).with_name("dockyard")


class Tmux(Terminal):
    """A 120x40 tmux session running a shell command that reports its own exit (the command
    writes it); keys, screen and waits are tests/support/tmux.py's."""

    def __init__(self, command: str, env: dict[str, str], cwd: Path) -> None:
        name = f"dockyard-e2e-{uuid.uuid4().hex[:8]}"
        super().__init__(name, cwd / f"{name}.status")  # exit_status is not used here
        exports = " ".join(f"{key}={value}" for key, value in env.items())
        subprocess.run(["tmux", "new-session", "-d", "-s", self.name, "-x", "120", "-y", "40",
                        "-c", str(cwd), f"env -u COLUMNS -u LINES {exports} {command}"], check=True)
        subprocess.run(["tmux", "resize-window", "-t", self.name, "-x", "120", "-y", "40"],
                       check=False)

    def wait_for(self, *texts: str, timeout: float = 60.0) -> str:
        return super().wait_for(*texts, timeout=timeout)

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True,
                       check=False)


@pytest.fixture
def podman_root() -> Iterator[Path]:
    if shutil.which("tmux") is None:
        pytest.skip("needs tmux (Debian package tmux; scripts/test installs it)")
    with podman_storage("dy-tui-") as root:
        yield root


def test_wizard_releases_and_verifies_under_tmux(tmp_path: Path, registry: RunningRegistry,
                                                 podman_root: Path) -> None:
    demo = create_demo(tmp_path / "demo", registry=registry.host)
    state = tmp_path / "state"
    exit_file = tmp_path / "exit-code"
    env = {
        "DOCKYARD_PODMAN_STORAGE_DRIVER": "vfs",
        "DOCKYARD_PODMAN_ISOLATION": "chroot",
        "DOCKYARD_PODMAN_ROOT": str(podman_root),
        "XDG_STATE_HOME": str(state),
        "TERM": "xterm-256color",
        "PATH": os.environ.get("PATH", ""),
    }
    for key in ("DBUS_SESSION_BUS_ADDRESS", "DOCKYARD_KEYRING_SERVICE", "HOME"):
        if key in os.environ:
            env[key] = os.environ[key]
    tmux = Tmux(f"sh -c '{DOCKYARD}; echo $? > {exit_file}'", env, demo.root)
    try:
        tmux.wait_for("Release rules", "✔ clean", "tag on HEAD")
        tmux.keys("C-n")
        tmux.wait_for("What will be pushed", "pushed (new)", "created → new version")
        tmux.keys("C-n")
        tmux.wait_for("Platforms", "native", "emulated")
        shown = tmux.screen()
        assert "linux/amd64" in shown and "linux/arm64" in shown
        tmux.keys("C-n")
        tmux.wait_for("x86-64", "aarch64", "static")
        tmux.keys("C-n")
        tmux.wait_for("Registries and logins", registry.host, "anonymous")
        tmux.keys("C-n")
        review = tmux.wait_for("pushed first:", "Build & push", timeout=90)
        assert f"{demo.image}:0.1.0" in review
        tmux.keys("C-n")
        tmux.wait_for("Release verified", timeout=600)
        tmux.keys("C-n")
        summary = tmux.wait_for("Release 0.1.0 verified", "docker pull")
        assert "0.1.0 (version)" in summary and "latest (alias)" in summary
        tmux.keys("q")
        deadline = time.monotonic() + 30
        while not exit_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert exit_file.read_text().strip() == "0"
    finally:
        tmux.close()

    name = parse_image_name(demo.image)
    client = RegistryClient(registry.host)
    try:
        report = verify_release(client, name, "0.1.0", demo.platforms, ("0.1", "0", "latest"))
    finally:
        client.close()
    assert report.ok, report.problems
    assert {tag.tag for tag in report.tags} == {"0.1.0", "0.1", "0", "latest"}
    assert list((state / "dockyard").rglob("*.log")), "the full build log was written"
