"""``--stall-timeout`` / ``--build-timeout`` and their environment variables: validated up front,
and what reaches the engine options."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.engines.base import EngineOptions
from core.errors import EngineError
from tests.unit.test_release_cli import make_project, run_cli, snapshot


@pytest.mark.parametrize("value", ["0", "-5", "abc", "nan", "inf", ""])
@pytest.mark.parametrize("flag", ["--stall-timeout", "--build-timeout"])
def test_a_bad_limit_is_one_error_line_exit_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str,
) -> None:
    project = make_project(tmp_path / "app", "v1.2.3")
    before = snapshot(project)
    code, out, err = run_cli(capsys, "release", "--yes", "--repo", str(project),
                             "--image", "127.0.0.1:1/app", "--mode", "copy",
                             "--binary", "dist/{arch}/app", "--platform", "linux/amd64",
                             f"{flag}={value}")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"error: {flag[2:]}: {value!r} is not a number of seconds; ")
    assert snapshot(project) == before


def test_a_good_limit_passes_validation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path / "app", "v1.2.3")
    code, _out, err = run_cli(capsys, "release", "--dry-run", "--repo", str(project),
                              "--image", "127.0.0.1:1/app", "--mode", "copy",
                              "--binary", "dist/{arch}/app", "--platform", "linux/amd64",
                              "--stall-timeout", "2.5", "--build-timeout", "600")
    assert code == 0, err


def test_engine_options_default_and_environment() -> None:
    assert EngineOptions().stall_timeout == 120.0
    assert EngineOptions().build_timeout is None
    options = EngineOptions.from_env({"DOCKYARD_STALL_TIMEOUT": "30",
                                      "DOCKYARD_BUILD_TIMEOUT": "3600"})
    assert (options.stall_timeout, options.build_timeout) == (30.0, 3600.0)
    assert EngineOptions.from_env({"DOCKYARD_STALL_TIMEOUT": "30"},
                                  stall_timeout=5.0).stall_timeout == 5.0
    with pytest.raises(EngineError, match="DOCKYARD_STALL_TIMEOUT: '-1' is not a number"):
        EngineOptions.from_env({"DOCKYARD_STALL_TIMEOUT": "-1"})
