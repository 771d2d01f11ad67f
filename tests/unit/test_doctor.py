"""``dockyard doctor`` on this real machine: whatever it finds, every finding is well formed and
every problem comes with a fix. Nothing here assumes docker, buildx or emulation exist."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.config import ProjectConfig, save_config
from core.doctor import (
    STATUSES,
    CheckResult,
    check_emulation,
    check_engine,
    check_keyring,
    check_registries,
    read_binfmt,
    run_doctor,
)
from tests.support.registry import RunningRegistry, free_port

CHECKS = ["docker", "buildx", "builders", "emulation", "podman", "engine", "keyring"]


def _well_formed(check: CheckResult) -> None:
    assert check.status in STATUSES
    assert check.summary.strip()
    assert "\n" not in check.summary
    if check.status != "ok":
        assert check.fix.strip(), f"{check.name} is {check.status} without a fix"


def test_every_check_runs_and_each_problem_has_a_fix(tmp_path: Path) -> None:
    report = run_doctor(tmp_path, timeout=20)
    names = [check.name for check in report.checks]
    assert names[: len(CHECKS)] == CHECKS
    assert names[len(CHECKS):] == ["registry"]  # no dockyard.toml: one "nothing to check" line
    for check in report.checks:
        _well_formed(check)
    assert report.ok == all(check.status != "fail" for check in report.checks)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] == report.ok
    assert [c["name"] for c in data["checks"]] == names


def test_no_engine_at_all_is_a_failure() -> None:
    missing = CheckResult("builders", "warn", "skipped", "install buildx")
    engine = check_engine(missing, CheckResult("podman", "warn", "podman not found", "install"))
    assert engine.status == "fail"
    assert "podman" in engine.fix
    assert check_engine(missing, CheckResult("podman", "ok", "podman works")).status == "ok"


def test_configured_registries_are_pinged(tmp_path: Path, registry: RunningRegistry) -> None:
    dead = f"127.0.0.1:{free_port()}"
    save_config(tmp_path, ProjectConfig(images=(f"{registry.host}/h7/doctor", f"{dead}/h7/x")))
    results = {r.name: r for r in check_registries(tmp_path, timeout=5)}
    assert set(results) == {f"registry {registry.host}", f"registry {dead}"}
    assert results[f"registry {registry.host}"].status == "ok"
    down = results[f"registry {dead}"]
    assert down.status == "fail"
    _well_formed(down)


def test_a_registry_asking_for_a_login_counts_as_reachable(tmp_path: Path) -> None:
    from tests.support.registry import run_registry

    with run_registry(username="h7", password="h7-pass") as locked:
        save_config(tmp_path, ProjectConfig(images=(f"{locked.host}/h7/private",)))
        [result] = check_registries(tmp_path, timeout=5)
    assert result.status == "ok"


def test_a_broken_dockyard_toml_is_a_failure_with_a_fix(tmp_path: Path) -> None:
    (tmp_path / "dockyard.toml").write_text("images = [\n")
    [result] = check_registries(tmp_path, timeout=5)
    assert result.status == "fail"
    assert result.summary.startswith("config: ")
    _well_formed(result)


def test_a_refused_keyring_backend_fails_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKYARD_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    result = check_keyring(timeout=10)
    assert result.status == "fail"
    assert "keyring" in result.fix.lower()


def test_binfmt_entries_are_read_as_the_kernel_writes_them(tmp_path: Path) -> None:
    assert read_binfmt(tmp_path) is None  # not mounted: no "status" file
    (tmp_path / "status").write_text("enabled\n")
    (tmp_path / "register").write_text("")
    (tmp_path / "qemu-aarch64").write_text(
        "enabled\ninterpreter /usr/bin/qemu-aarch64-static\nflags: OCF\noffset 0\n"
        "magic 7f454c460201010000000000000000000200b700\n"
        "mask ffffffffffffff00fffffffffffffffffeffffff\n")
    (tmp_path / "qemu-riscv64").write_text(
        "disabled\ninterpreter /usr/bin/qemu-riscv64-static\nflags: \noffset 0\n")
    (tmp_path / "python3.11").write_text("enabled\ninterpreter /usr/bin/python3.11\n")
    emulators = read_binfmt(tmp_path)
    assert emulators is not None
    assert [(e.name, e.enabled, e.interpreter, e.flags) for e in emulators] == [
        ("qemu-aarch64", True, "/usr/bin/qemu-aarch64-static", "OCF"),
        ("qemu-riscv64", False, "/usr/bin/qemu-riscv64-static", ""),
    ]
    result = check_emulation(tmp_path)
    assert result.status == "ok"
    assert result.summary == "QEMU emulation for aarch64"


def test_binfmt_without_qemu_is_a_warning_with_a_fix(tmp_path: Path) -> None:
    (tmp_path / "status").write_text("enabled\n")
    result = check_emulation(tmp_path)
    assert result.status == "warn"
    assert "qemu-user-static" in result.fix


def test_emulation_on_this_machine() -> None:
    result = check_emulation(Path("/proc/sys/fs/binfmt_misc"))
    _well_formed(result)
    assert result.status in ("ok", "warn")
