"""Throw-away podman storage for tests, so real builds never touch the machine's own images."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def podman_storage(prefix: str = "dy-podman-") -> Iterator[Path]:
    """A storage root (vfs) of its own, reset and removed afterwards. The path stays short:
    podman refuses a runroot over 50 characters. Skips the test when podman is missing."""
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (Debian package podman; scripts/test installs it)")
    root = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield root
    finally:
        subprocess.run(["podman", "--storage-driver", "vfs", "--root", str(root / "root"),
                        "--runroot", str(root / "runroot"), "system", "reset", "--force"],
                       capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)
