"""A real terminal for a real ``dockyard`` process: a detached tmux session of a chosen size.

Tests that must see the process itself (how fast it exits, what it leaves running) drive it
here; screen content alone is checked with Textual's pilot instead.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest


class Terminal:
    """One tmux session running ``argv``; keys in, screen text and exit status out."""

    def __init__(self, name: str, status_file: Path) -> None:
        self.name = name
        self.status_file = status_file

    def screen(self) -> str:
        done = subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name],
                              capture_output=True, text=True, check=False)
        return done.stdout

    def styled(self) -> str:
        """The screen with its colours (escape sequences): what shows where the focus is."""
        done = subprocess.run(["tmux", "capture-pane", "-e", "-p", "-t", self.name],
                              capture_output=True, text=True, check=False)
        return done.stdout

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def wait_for(self, *texts: str, timeout: float = 30.0) -> str:
        """The screen once it shows every one of ``texts`` (bounded wait)."""
        deadline = time.monotonic() + timeout
        shown = ""
        while time.monotonic() < deadline:
            shown = self.screen()
            if all(text in shown for text in texts):
                return shown
            time.sleep(0.1)
        raise AssertionError(f"{texts!r} not on screen within {timeout} s; screen:\n{shown}")

    def exit_status(self, timeout: float) -> int | None:
        """The process's exit status once it has ended, or None if it still runs after
        ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.status_file.exists() and self.status_file.read_text().strip():
                return int(self.status_file.read_text())
            time.sleep(0.05)
        return None


@contextmanager
def terminal(argv: Sequence[str], *, cwd: Path, env: dict[str, str], status_dir: Path,
             width: int = 80, height: int = 24) -> Iterator[Terminal]:
    """Run ``argv`` in a ``width`` x ``height`` tmux session; the session is killed at the end."""
    if shutil.which("tmux") is None:
        pytest.skip("needs tmux (Debian package tmux; scripts/test installs it)")
    name = f"dockyard-test-{uuid.uuid4().hex[:8]}"
    status = status_dir / f"{name}.status"
    exports = " ".join(f"{key}={shlex.quote(value)}" for key, value in env.items())
    command = (f"env -u COLUMNS -u LINES {exports} {shlex.join(argv)}; "
               f"echo $? > {shlex.quote(str(status))}; sleep 600")
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", str(width), "-y",
                    str(height), "-c", str(cwd), command], check=True)
    subprocess.run(["tmux", "resize-window", "-t", name, "-x", str(width), "-y", str(height)],
                   check=False)
    try:
        yield Terminal(name, status)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True, check=False)
