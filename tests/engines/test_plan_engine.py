"""The plan's engine is chosen in one place (core.engines.selection.plan_engine): the dry
run's commands and the run's engine come from the same plan value, with the recorded buildx
stand-in and podman."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from core.engines.base import EngineOptions
from core.engines.selection import plan_engine
from core.errors import EngineError
from core.rendering import plan_steps
from tests.engines.conftest import build_plan
from tests.support.buildx import install_standin, write_buildx_state


def test_a_named_builder_runs_on_buildx_and_the_dry_run_shows_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    standin = install_standin(tmp_path, monkeypatch)
    write_buildx_state(standin.buildx_dir, ["dead", "real"], "dead")
    plan = dataclasses.replace(build_plan(tmp_path), engine="buildx", builder="real")
    engine = plan_engine(plan, EngineOptions(progress="plain"))
    assert (engine.name, engine.options.builder) == ("buildx", "real")
    steps = plan_steps(plan, options=EngineOptions(progress="plain"))
    assert steps[0][:3] == ["docker", "buildx", "build"]
    assert steps[0][steps[0].index("--builder") + 1] == "real"


def test_auto_falls_back_to_podman_with_a_note_and_buildx_named_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed")
    standin = install_standin(tmp_path, monkeypatch)
    write_buildx_state(standin.buildx_dir, ["dead"], "dead")  # the current builder is down
    plan = build_plan(tmp_path)
    engine = plan_engine(plan, EngineOptions())
    assert engine.name == "podman" and engine.note.startswith("using podman because")
    assert plan_steps(plan, options=EngineOptions())[0][0] == "podman"
    with pytest.raises(EngineError):
        plan_engine(dataclasses.replace(plan, engine="buildx"), EngineOptions())


def test_podman_named_is_podman(tmp_path: Path) -> None:
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed")
    plan = dataclasses.replace(build_plan(tmp_path), engine="podman")
    assert plan_engine(plan, EngineOptions()).name == "podman"
