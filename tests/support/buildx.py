"""Buildx state on disk and the stand-in ``docker`` that answers from it (docker_standin.py)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.docker_standin import RECORDINGS

#: The endpoints of the recorded builders, as their `buildx inspect` printed them.
ENDPOINTS = {"real": "tcp://127.0.0.1:1234", "second": "tcp://127.0.0.1:1234",
             "dead": "tcp://127.0.0.1:1"}


def need_recordings() -> Path:
    if not RECORDINGS.is_dir():
        pytest.skip(f"recorded buildx output not found at {RECORDINGS}")
    return RECORDINGS


def write_buildx_state(directory: Path, names: Iterable[str], current: str | None,
                       build: str | None = None) -> Path:
    """A buildx config dir as `docker buildx create --driver remote` leaves it: one
    ``instances/NAME`` file per builder and ``current``; ``build`` picks the build recording."""
    instances = directory / "instances"
    instances.mkdir(parents=True, exist_ok=True)
    for name in names:
        group = {"Name": name, "Driver": "remote", "Dynamic": False,
                 "Nodes": [{"Name": f"{name}0", "Endpoint": ENDPOINTS[name], "Platforms": None,
                            "DriverOpts": None, "Flags": None, "Files": None}]}
        (instances / name).write_text(json.dumps(group))
    if current is not None:
        (directory / "current").write_text(
            json.dumps({"Key": "unix:///var/run/docker.sock", "Name": current, "Global": False}))
    if build is not None:
        (directory / "standin-build").write_text(build)
    return directory


@dataclass(frozen=True)
class StandIn:
    """The stand-in's path, the buildx dir it reads, and where it logs each call."""

    docker: Path
    buildx_dir: Path
    log: Path

    def calls(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def builds(self) -> list[dict[str, Any]]:
        return [c for c in self.calls() if c["argv"][:2] == ["buildx", "build"]]


def install_standin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                    home: Path | None = None) -> StandIn:
    """``docker`` first on PATH is the stand-in; the user's buildx dir is ``~/.docker/buildx``
    of a throw-away HOME (the test fills it with write_buildx_state)."""
    need_recordings()
    bindir = tmp_path / "standin-bin"
    bindir.mkdir()
    docker = bindir / "docker"
    source = Path(__file__).with_name("docker_standin.py")
    docker.write_text(f"#!{sys.executable}\nimport runpy\n"
                      f"runpy.run_path({str(source)!r}, run_name='__main__')\n")
    docker.chmod(0o755)
    if home is None:
        home = tmp_path / "standin-home"
        home.mkdir(exist_ok=True)
    log = tmp_path / "docker-calls.jsonl"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    monkeypatch.setenv("DOCKER_STANDIN_CALLS", str(log))
    for name in ("DOCKER_CONFIG", "BUILDX_CONFIG", "DOCKYARD_BUILDX_BUILDER"):
        monkeypatch.delenv(name, raising=False)
    return StandIn(docker, home / ".docker" / "buildx", log)
