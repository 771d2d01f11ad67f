"""Quitting the real ``dockyard`` while the registry hangs: "Stop and quit" ends the process.

The demo project publishes through the fault proxy in front of a real registry. The wizard is
walked to Build as a user would; once the release runs the proxy stalls every request, so the run
hangs on its next registry call. Ctrl+Q, then "Stop and quit".
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.demo import create_demo
from tests.registry.proxy import Fault, FaultProxy, running
from tests.support.podman import podman_storage
from tests.support.registry import RunningRegistry, run_registry
from tests.support.tmux import terminal

pytestmark = pytest.mark.e2e

QUIT_WITHIN = 2.0  # seconds from "Stop and quit" to the process's end (issue 12)


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    """The fault proxy in front of a registry of its own: the stopped run's half-done upload
    stays away from the other tests."""
    with run_registry() as registry, running(FaultProxy(registry.host)) as server:
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


@pytest.fixture
def own_podman_root() -> Iterator[Path]:
    """Storage of its own: the run is stopped mid-way, and what it leaves must not reach the
    other tests' podman."""
    with podman_storage("dy-quit-") as root:
        yield root


def test_stop_and_quit_ends_the_process_while_the_registry_hangs(
    tmp_path: Path, proxy: FaultProxy, own_podman_root: Path
) -> None:
    podman_root = own_podman_root
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


WALK = [  # what each step shows on arrival: wide (all names in the bar) and at 80x24
    ("What will be pushed", " 2 Images "),
    ("emulated", " 3 Platforms "),
    ("aarch64", " 4 Mode "),
    ("Registries and logins", " 5 Credentials "),
    ("Build & push", " 6 Review "),
]


def next_step(term, arrival: str) -> None:
    """Ctrl+N until ``arrival`` shows: Next stays disabled while a step still checks."""
    press_until(term, "C-n", arrival)


def wait_until(term, holds: Callable[[str], bool], timeout: float = 10) -> str:
    """The screen once ``holds(screen)``."""
    deadline = time.monotonic() + timeout
    while not holds(shown := term.screen()):
        assert time.monotonic() < deadline, shown
        time.sleep(0.1)
    return shown


def focus_moves_on(term, marker: str, timeout: float = 10) -> None:
    """Tab restyles the line holding ``marker``: the control after the main one gains the
    focus (which shows by colour alone). Had nothing held the focus, Tab would have given it
    to the main control and left that line as it was. (Next is Ctrl+N, wherever the focus.)"""
    def line(styled: str) -> str:
        return next((row for row in styled.splitlines()
                     if marker in re.sub(r"\x1b\[[0-9;]*m", "", row)), "")

    before = line(term.styled())
    assert before, term.screen()
    term.keys("Tab")
    deadline = time.monotonic() + timeout
    while line(term.styled()) == before:
        assert time.monotonic() < deadline, f"Tab did not move the focus to {marker!r}"
        time.sleep(0.1)


def ticks(shown: str) -> dict[str, bool]:
    """The platform checklist as shown: platform -> ticked (✓ is drawn without colour too)."""
    return {platform: mark != " "
            for mark, platform in re.findall(r"▐([✓ ])▌ (linux/\S+)", shown)}


def press_until(term, key: str, arrival: str) -> None:
    """``key`` until ``arrival`` shows (the focused button stays disabled while it checks)."""
    for _ in range(12):
        term.keys(key)
        try:
            term.wait_for(arrival, timeout=10)
            return
        except AssertionError:
            continue
    raise AssertionError(f"{key} never reached {arrival!r}:\n{term.screen()}")


@pytest.fixture
def own_registry() -> Iterator[RunningRegistry]:
    """A registry per walk: the demo's 0.1.0 published by one walk would block the next."""
    with run_registry() as registry:
        yield registry


@pytest.mark.parametrize("size", [(80, 24), (160, 50)], ids=["80x24", "160x50"])
def test_a_real_walk_reaches_summary_with_the_main_control_focused(
    tmp_path: Path, own_registry: RunningRegistry, podman_root: Path, size: tuple[int, int]
) -> None:
    """The whole wizard in a real terminal of each size, to a verified release. On Version the
    arrow keys work at once (the candidate list has the focus): down+enter picks the proposed
    prerelease, whose tag does not exist yet; up+enter goes back."""
    demo = create_demo(tmp_path / "demo", registry=own_registry.host)
    argv = [sys.executable, "-m", "tui.cli"]
    env = {**wizard_env(podman_root, tmp_path / "state"),
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    narrow = size[0] < 100
    with terminal(argv, cwd=demo.root, env=env, status_dir=tmp_path, width=size[0],
                  height=size[1]) as term:
        term.wait_for(" 1 Version ", "tag on HEAD", "✔ clean")
        term.keys("Down", "Enter")
        term.wait_for("✘ exists")
        term.keys("Up", "Enter")
        deadline = time.monotonic() + 30
        while "✘" in term.screen() or "✔ exists" not in term.screen():
            assert time.monotonic() < deadline, term.screen()
            time.sleep(0.1)
        for wide, bar in WALK:
            next_step(term, bar if narrow else wide)
            if bar == " 2 Images ":  # typing goes into the image list at once (selected
                # on focus, so a key replaces it: an upper-case name, refused, no network)
                term.wait_for(demo.image)
                term.keys("Z")
                wait_until(term, lambda shown: re.search(r"▊\s+Z\s+▎", shown) is not None)
                term.keys("C-e", "C-u")  # end, delete all to the left
                wait_until(term, lambda shown: re.search(r"▊\s+Z\s+▎", shown) is None)
                term.keys("-l", demo.image)
                term.wait_for("pushed (new)")
            elif bar == " 3 Platforms ":  # arrows and space work in the checklist at once
                ticked = ticks(term.wait_for("linux/arm64", "native"))  # the engine answered
                term.keys("Down", "Space")
                wait_until(term, lambda shown, was=ticked: ticks(shown) not in ({}, was))
                term.keys("Space")
                wait_until(term, lambda shown, was=ticked: ticks(shown) == was)
            elif bar == " 4 Mode ":  # the radio set has the focus: Tab takes it to Dockerfile
                term.wait_for("x86-64")  # the binary checks are in (arm64's is below at 80x24)
                focus_moves_on(term, "Dockerfile  ")
            elif bar == " 5 Credentials ":  # the logins table has it: Tab takes it to Back
                focus_moves_on(term, "◀ Back")
        press_until(term, "Enter", "Cancel build")  # Review: Build & push has the focus
        # the end of the run, in the log panel (at 80x24 the progress line above it can be
        # scrolled out of view by the steps table; both say the same)
        term.wait_for("release ok;", timeout=240)
        shown = term.wait_for("Continue")  # the button is enabled just after the last line
        assert len(max(shown.splitlines(), key=len)) <= size[0]
        next_step(term, "Release 0.1.0 verified")
        assert " 8 Summary" in term.screen()
        term.keys("q")
        assert term.exit_status(timeout=30) == 0
