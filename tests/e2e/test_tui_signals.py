"""The real ``dockyard`` wizard under tmux, stopped by SIGTERM while its release pushes."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.demo import create_demo
from tests.e2e.test_signals import HoldingProxy, _podman_of
from tests.e2e.test_tui_tmux import DOCKYARD, Tmux
from tests.registry.proxy import running
from tests.support.podman import podman_storage
from tests.support.registry import run_registry

pytestmark = pytest.mark.e2e


@pytest.fixture
def proxy() -> Iterator[HoldingProxy]:
    """A proxy to a registry of this test's own: the demo's repository name is fixed, and the
    session registry is shared with the other tmux test."""
    with run_registry() as registry, running(HoldingProxy(registry.host)) as holding:
        try:
            yield holding
        finally:
            holding.drop_held()


@pytest.mark.timeout(600)
def test_sigterm_cancels_the_running_release_and_quits(
    tmp_path: Path, proxy: HoldingProxy,
) -> None:
    demo = create_demo(tmp_path / "demo", registry=proxy.host)
    pushing = proxy.hold("PUT", "/manifests/0.1.0")  # creating the version tag: held
    state, pid_file, exit_file = tmp_path / "state", tmp_path / "pid", tmp_path / "exit-code"
    with podman_storage("dy-tuisig-") as root:
        env = {"DOCKYARD_PODMAN_STORAGE_DRIVER": "vfs", "DOCKYARD_PODMAN_ISOLATION": "chroot",
               "DOCKYARD_PODMAN_ROOT": str(root), "XDG_STATE_HOME": str(state),
               "TERM": "xterm-256color", "PATH": os.environ.get("PATH", "")}
        for key in ("DBUS_SESSION_BUS_ADDRESS", "DOCKYARD_KEYRING_SERVICE", "HOME"):
            if key in os.environ:
                env[key] = os.environ[key]
        inner = f"echo \\$\\$ > {pid_file}; exec {DOCKYARD}"
        tmux = Tmux(f"sh -c 'sh -c \"{inner}\"; echo $? > {exit_file}'", env, demo.root)
        try:
            tmux.wait_for("Release rules", "✔ clean", "tag on HEAD")
            for expected in (("What will be pushed",), ("Platforms", "native"),
                             ("x86-64", "aarch64"), ("Registries and logins",),
                             ("pushed first:", "Build & push")):
                tmux.keys("C-n")
                tmux.wait_for(*expected, timeout=90)
            tmux.keys("C-n")
            deadline = time.monotonic() + 300
            while not pushing.wait(0.2):
                screen = tmux.screen()
                assert time.monotonic() < deadline and "Failed in" not in screen, screen
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
            deadline = time.monotonic() + 60
            while not exit_file.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            screen = tmux.screen()
            assert exit_file.read_text().strip() == "143", screen
            assert "Traceback" not in screen
        finally:
            tmux.close()
        assert _podman_of(root) == []
    (report_path,) = (state / "dockyard" / "runs").glob("*.json")
    report = json.loads(report_path.read_text())
    assert report["ok"] is False
    assert report["failure"]["phase"] == "tag"  # the image is pushed by digest, untagged
