"""The ``podman version`` probe answers once per process when podman works, and is asked again
when it did not (real podman in throw-away storage, counted by a wrapper on PATH)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from core.engines.base import EngineOptions
from core.engines.podman import podman_available
from tests.support.podman import podman_storage

pytestmark = pytest.mark.skipif(shutil.which("podman") is None, reason="podman not installed")


@pytest.fixture
def counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``podman`` first on PATH that notes each call, then runs the real one."""
    real = shutil.which("podman")
    calls = tmp_path / "calls"
    wrapper = tmp_path / "bin" / "podman"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrapper.parent}:{os.environ['PATH']}")
    return calls


def asked(calls: Path) -> int:
    return len(calls.read_text().splitlines()) if calls.exists() else 0


def test_a_working_podman_is_asked_once(counted: Path) -> None:
    with podman_storage() as root:
        options = EngineOptions(storage_driver="vfs", podman_root=root)
        assert podman_available(options) is None
        assert podman_available(options) is None
        assert asked(counted) == 1
        other = EngineOptions(storage_driver="vfs", podman_root=root / "other")
        assert podman_available(other) is None  # other storage: its own answer
        assert asked(counted) == 2


def test_a_failing_podman_is_asked_every_time(counted: Path) -> None:
    with podman_storage() as root:
        options = EngineOptions(storage_driver="nosuchdriver", podman_root=root)
        first = podman_available(options)
        assert first is not None and "nosuchdriver" in first
        assert podman_available(options) == first
        assert asked(counted) == 2
