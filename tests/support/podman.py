"""Throw-away podman storage for tests, so real builds never touch the machine's own images."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def podman_storage(prefix: str = "dy-podman-") -> Iterator[Path]:
    """A storage root (vfs) of its own, removed afterwards. The path stays short: podman
    refuses a runroot over 50 characters. Skips the test when podman is missing."""
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (Debian package podman; scripts/test installs it)")
    root = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield root
    finally:
        remove_storage(root)


def remove_storage(root: Path) -> None:
    """Delete the storage's files and nothing else. ``podman system reset`` would also empty
    podman's machine-wide tmp dir (``/run/libpod`` for root), under every other podman user of
    this machine. Rootless storage holds files of sub-uids: those go inside ``podman unshare``."""
    if os.geteuid() != 0:
        subprocess.run(["podman", "unshare", "rm", "-rf", str(root)], capture_output=True,
                       check=False, timeout=120)
    shutil.rmtree(root, ignore_errors=True)


def podman_args(root: Path) -> list[str]:
    """``podman`` and the global options that keep a command inside ``root`` (storage, run
    state and libpod's tmp dir), as dockyard's engine runs it with ``DOCKYARD_PODMAN_ROOT``."""
    return ["podman", "--storage-driver", "vfs", "--root", str(root / "root"),
            "--runroot", str(root / "runroot"), "--tmpdir", str(root / "tmp")]
