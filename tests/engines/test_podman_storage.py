"""The tests' throw-away podman storage leaves the machine as it was found."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.podman import podman_storage

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(120)
def test_throwaway_storage_is_removed_without_touching_podmans_machine_wide_state() -> None:
    """The test storage goes; podman's shared tmp dir (/run/libpod for root) stays as found,
    which ``podman system reset`` on the test storage did not do."""
    shared = Path("/run/libpod")
    with podman_storage("dy-rm-") as root:
        made = subprocess.run(
            ["podman", "--storage-driver", "vfs", "--root", str(root / "root"),
             "--runroot", str(root / "runroot"), "images"],
            capture_output=True, text=True, timeout=60, check=False)
        assert made.returncode == 0, made.stderr
        assert (root / "root").is_dir()
        # other podman users may add or drop entries meanwhile; a reset removes the lot
        before = {p.name for p in shared.glob("alive*")} if shared.is_dir() else None
    assert not root.exists()
    assert ({p.name for p in shared.glob("alive*")} if shared.is_dir() else None) == before
