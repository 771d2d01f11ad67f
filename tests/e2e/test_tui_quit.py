"""Quitting the real ``dockyard`` while the registry hangs: "Stop and quit" ends the process.

The demo project publishes through the fault proxy in front of a real registry. The wizard is
walked to Build as a user would; once the release runs the proxy stalls every request, so the run
hangs on its next registry call. Ctrl+Q, then "Stop and quit".
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.demo import create_demo
from tests.registry.proxy import Fault, FaultProxy, running
from tests.support.registry import RunningRegistry
from tests.support.tmux import terminal

pytestmark = pytest.mark.e2e

QUIT_WITHIN = 2.0  # seconds from "Stop and quit" to the process's end (issue 12)


@pytest.fixture
def proxy(registry: RunningRegistry) -> Iterator[FaultProxy]:
    with running(FaultProxy(registry.host)) as server:
        yield server


def wizard_env(podman_root: Path, state: Path) -> dict[str, str]:
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
    return env


def test_stop_and_quit_ends_the_process_while_the_registry_hangs(
    tmp_path: Path, proxy: FaultProxy, podman_root: Path
) -> None:
    demo = create_demo(tmp_path / "demo", registry=proxy.host)
    argv = [sys.executable, "-m", "tui.cli"]
    env = {**wizard_env(podman_root, tmp_path / "state"),
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    with terminal(argv, cwd=demo.root, env=env, status_dir=tmp_path, width=120,
                  height=40) as term:
        term.wait_for("Release rules", "✔ clean", "tag on HEAD")
        for arrival in ("What will be pushed", "emulated", "aarch64", "Registries and logins"):
            term.keys("C-n")
            term.wait_for(arrival, timeout=60)
        term.keys("C-n")
        term.wait_for("pushed first:", "Build & push", timeout=90)
        term.keys("C-n")
        term.wait_for("Cancel build", timeout=30)
        proxy.inject(Fault(stall=True, times=10_000))
        deadline = time.monotonic() + 120
        while not any(seen.status == 0 for seen in proxy.requests()):
            assert time.monotonic() < deadline, "the release never reached the registry"
            time.sleep(0.1)
        time.sleep(1.0)  # the run is now waiting on the stalled registry
        assert "Cancel build" in term.screen()
        term.keys("C-q")
        term.wait_for("Stop and quit")
        term.keys("y")
        stopped = time.monotonic()
        status = term.exit_status(timeout=30)
        took = time.monotonic() - stopped
        assert status == 130, term.screen()
        assert took < QUIT_WITHIN, f"the process lived {took:.1f} s after Stop and quit"
