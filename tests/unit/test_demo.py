"""``dockyard demo``: the sample project passes core's copy-mode preflight and plan honestly, and
the local registry is started (and found again) on a loopback port."""

from __future__ import annotations

import os
import platform
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from core.binaries import check_dockerfile_copy, read_elf, require_binaries
from core.config import load_config
from core.demo import (
    BINARY_TEMPLATE,
    DEMO_PLATFORMS,
    DEMO_TAG,
    create_demo,
    demo_program,
    ensure_registry,
    registry_answers,
    stop_registry,
)
from core.errors import RegistryError, RepoError
from core.plan import PlanRequest, make_plan
from core.platforms import parse_platforms
from core.repo import ProjectRepo
from tests.support.registry import free_port


def test_demo_is_a_clean_git_repo_with_the_release_tag_on_head(tmp_path: Path) -> None:
    project = create_demo(tmp_path / "demo")
    repo = ProjectRepo.open(project.root)
    assert repo.tags_at_head() == [DEMO_TAG]
    assert repo.dirty_paths() == []
    assert [v.git_tag for v in repo.version_tags()] == ["v0.1.0"]
    for name in ("Dockerfile", "README.md", "dockyard.toml", "dist/amd64/app", "dist/arm64/app"):
        assert (project.root / name).is_file(), name
    assert os.access(project.root / "dist/amd64/app", os.X_OK)
    dockerfile = (project.root / "Dockerfile").read_text()
    assert "FROM scratch" in dockerfile
    assert "ARG TARGETARCH" in dockerfile
    assert "COPY dist/${TARGETARCH}/app /app" in dockerfile


def test_dockyard_toml_names_the_demo_image_platforms_and_copy_mode(tmp_path: Path) -> None:
    project = create_demo(tmp_path / "demo")
    config = load_config(project.root)
    assert config.images == ("127.0.0.1:5000/demo/app",)
    assert config.platforms == DEMO_PLATFORMS == ("linux/amd64", "linux/arm64")
    assert config.mode == "copy"
    assert config.binary == BINARY_TEMPLATE == "dist/{arch}/app"


def test_binaries_are_distinct_static_elf_files_of_the_right_machine(tmp_path: Path) -> None:
    root = create_demo(tmp_path / "demo").root
    amd64 = read_elf(root / "dist/amd64/app")
    arm64 = read_elf(root / "dist/arm64/app")
    assert (amd64.machine, amd64.bits, amd64.static, amd64.interpreter) == (
        "x86-64", 64, True, None)
    assert (arm64.machine, arm64.bits, arm64.static, arm64.interpreter) == (
        "aarch64", 64, True, None)
    assert demo_program("amd64") != demo_program("arm64")


def test_copy_mode_preflight_and_plan_accept_the_demo(tmp_path: Path) -> None:
    root = create_demo(tmp_path / "demo").root
    check_dockerfile_copy(root / "Dockerfile")
    checks = require_binaries(root, BINARY_TEMPLATE, parse_platforms(DEMO_PLATFORMS))
    assert all(check.ok for check in checks)
    plan = make_plan(PlanRequest(root=root))
    assert plan.mode == "copy"
    assert plan.version.git_tag == DEMO_TAG
    assert [str(p) for p in plan.platforms] == ["linux/amd64", "linux/arm64"]
    assert [str(image.name) for image in plan.images] == ["127.0.0.1:5000/demo/app"]
    assert plan.images[0].tags.version_tag == "0.1.0"
    assert [b.path.relative_to(root).as_posix() for b in plan.binaries] == [
        "dist/amd64/app", "dist/arm64/app"]


@pytest.mark.skipif(platform.machine() != "x86_64", reason="runs the amd64 program natively")
def test_the_amd64_program_runs_here() -> None:
    done = _run_program("amd64", [])
    assert done.returncode == 0
    assert done.stdout == "hello from the dockyard demo (linux/amd64)\n"


@pytest.mark.skipif(shutil.which("qemu-aarch64-static") is None,
                    reason="qemu-user-static is not installed")
def test_the_arm64_program_runs_under_qemu() -> None:
    done = _run_program("arm64", ["qemu-aarch64-static"])
    assert done.returncode == 0
    assert done.stdout == "hello from the dockyard demo (linux/arm64)\n"


def _run_program(arch: str, runner: list[str]) -> subprocess.CompletedProcess[str]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "app"
        path.write_bytes(demo_program(arch))
        path.chmod(0o755)
        return subprocess.run([*runner, str(path)], capture_output=True, text=True, check=False,
                              timeout=30)


def test_refuses_a_directory_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine\n")
    with pytest.raises(RepoError, match="is not empty"):
        create_demo(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_refuses_a_registry_that_is_not_loopback(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="loopback"):
        create_demo(tmp_path / "demo", registry="ghcr.io")
    with pytest.raises(RegistryError, match="loopback"):
        ensure_registry("10.1.2.3:5000")
    assert not (tmp_path / "demo").exists()


def test_starts_a_registry_then_finds_it_running(tmp_path: Path) -> None:
    host = f"127.0.0.1:{free_port()}"
    assert not registry_answers(host)
    started = ensure_registry(host, workdir=tmp_path / "registry")
    try:
        assert started.state == "started", started.problem
        assert started.pid is not None
        assert started.stop == f"kill {started.pid}"
        assert registry_answers(host)
        again = ensure_registry(host)
        assert (again.state, again.stop, again.pid) == ("running", "", None)
    finally:
        if started.pid is not None:
            os.kill(started.pid, signal.SIGTERM)
            os.waitpid(started.pid, 0)
    assert not registry_answers(host)


def test_stopping_the_registry_it_started_removes_the_data_it_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every demo used to leave a dockyard-demo-registry-* directory behind in /tmp."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    made = ensure_registry(f"127.0.0.1:{free_port()}")
    given = ensure_registry(f"127.0.0.1:{free_port()}", workdir=tmp_path / "given")
    try:
        assert (made.state, given.state) == ("started", "started"), (made.problem, given.problem)
        assert made.data is not None and made.data.parent == tmp_path
        assert (made.data / "storage").is_dir() and given.data is None
    finally:
        stop_registry(made)
        stop_registry(given)
    assert not registry_answers(made.host) and not registry_answers(given.host)
    assert not made.data.exists()
    assert (tmp_path / "given" / "storage").is_dir()  # the caller's directory is the caller's


def test_a_port_held_by_something_else_is_reported(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        host = f"127.0.0.1:{listener.getsockname()[1]}"
        result = ensure_registry(host, workdir=tmp_path / "registry", wait=2)
    assert result.state == "unavailable"
    assert "not a registry" in result.problem
    assert result.stop == "" and result.pid is None
