"""buildx as on a maintainer's machine (the recorded one: remote builder `real` current, no Docker
daemon, `default` broken), through the stand-in docker replaying that machine's recordings."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.engines.base import EngineOptions
from core.engines.buildx import BuildxEngine
from core.engines.selection import select_engine
from core.errors import EngineError
from tests.engines.conftest import build_plan
from tests.support.buildx import StandIn, install_standin, write_buildx_state
from tests.unit.test_release_cli import make_project, run_cli

RUN_DOCKERFILE = "FROM scratch\nCOPY busybox /bin/sh\nRUN echo hello\n"
CROSS_DOCKERFILE = ("FROM --platform=$BUILDPLATFORM scratch AS build\nCOPY busybox /bin/sh\n"
                    "RUN echo cross-compiling\nFROM scratch\nCOPY --from=build /bin/sh /app\n")


@pytest.fixture
def standin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StandIn:
    return install_standin(tmp_path, monkeypatch)


def no_podman(monkeypatch: pytest.MonkeyPatch, standin: StandIn) -> None:
    """PATH holds only the stand-in (it runs by its absolute interpreter): no podman here."""
    monkeypatch.setenv("PATH", str(standin.docker.parent))


# -- item 2: auto means a builder that answers ---------------------------------------------------


def test_the_recorded_setup_stays_on_buildx(standin: StandIn, tmp_path: Path) -> None:
    """`default` broken and no daemon do not matter: the current builder `real` answers."""
    write_buildx_state(standin.buildx_dir, ["real"], "real")
    engine = select_engine(None, EngineOptions())
    assert engine.name == "buildx" and engine.note == ""
    assert isinstance(engine, BuildxEngine) and engine.builder().name == "real"
    (tmp_path / "Dockerfile").write_text(RUN_DOCKERFILE)
    engine.check(build_plan(tmp_path))  # a run's preflight reuses the probe: no docker call
    assert [c["argv"] for c in standin.calls()] == [
        ["buildx", "version"], ["buildx", "inspect", "--bootstrap"]]


@pytest.mark.skipif(shutil.which("podman") is None, reason="podman is not installed")
def test_an_unreachable_current_builder_falls_back_to_podman_with_a_note(
    standin: StandIn,
) -> None:
    write_buildx_state(standin.buildx_dir, ["dead", "real"], "dead")
    engine = select_engine(None, EngineOptions())
    assert engine.name == "podman"
    assert engine.note == ("using podman because the current buildx builder does not answer: "
                           "context deadline exceeded")


@pytest.mark.parametrize(("engine", "builder"), [("buildx", None), (None, "dead"),
                                                 ("buildx", "nosuch")])
def test_a_named_engine_or_builder_has_no_fallback(
    standin: StandIn, engine: str | None, builder: str | None,
) -> None:
    write_buildx_state(standin.buildx_dir, ["dead", "real"], "dead")
    with pytest.raises(EngineError) as caught:
        select_engine(engine, EngineOptions(builder=builder))
    reason = 'no builder "nosuch" found' if builder == "nosuch" else "context deadline exceeded"
    assert caught.value.field == "builder"
    assert caught.value.problem.endswith(f"does not answer: {reason}")


def test_without_podman_both_reasons_are_given(
    standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_buildx_state(standin.buildx_dir, ["dead", "real"], "dead")
    no_podman(monkeypatch, standin)
    with pytest.raises(EngineError) as caught:
        select_engine(None, EngineOptions())
    assert "current buildx builder does not answer: context deadline exceeded" in str(caught.value)
    assert "podman is not usable" in str(caught.value)


# -- item 3: the dry run checks the builder ------------------------------------------------------


def dry_run(capsys: pytest.CaptureFixture[str], project: Path, *extra: str,
            output: str = "") -> tuple[int, str, str]:
    target = ("--output", f"oci-archive:{project.parent / 'out.tar'}") if not output else (
        "--load", output)
    return run_cli(capsys, "release", "--dry-run", "--repo", str(project),
                   "--image", "127.0.0.1:5000/dy/app", *target, *extra)


def test_dry_run_with_a_missing_builder_is_exit_2_quoting_docker(
    standin: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    write_buildx_state(standin.buildx_dir, ["real"], "real")
    project = make_project(tmp_path / "app", "v1.0.0")
    code, out, err = dry_run(capsys, project, "--platform", "linux/amd64", "--mode", "copy",
                             "--binary", "dist/{arch}/app", "--builder", "nosuch")
    assert (code, out) == (2, "")
    assert err == ("error: builder: the buildx builder 'nosuch' does not answer: no builder "
                   '"nosuch" found; check `docker buildx ls`; start or create a builder '
                   "(docker buildx create --use --bootstrap) or pass --builder NAME\n")


@pytest.mark.parametrize(("dockerfile", "mode", "code"), [
    (RUN_DOCKERFILE, "build", 2),  # a RUN would execute for s390x: refused
    (CROSS_DOCKERFILE, "build", 0),  # the RUN is on the build platform: cross-compiles
    (RUN_DOCKERFILE.replace("RUN echo hello\n", ""), "build", 0),  # COPY only
])
def test_dry_run_refuses_a_platform_only_when_a_run_executes_for_it(
    standin: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    dockerfile: str, mode: str, code: int,
) -> None:
    write_buildx_state(standin.buildx_dir, ["real"], "real")
    project = make_project(tmp_path / "app", "v1.0.0", dockerfile=dockerfile)
    got, out, err = dry_run(capsys, project, "--platform", "linux/amd64,linux/s390x",
                            "--mode", mode)
    assert got == code, err
    if code:
        assert err.startswith("error: platform: the buildx builder real cannot run RUN steps "
                              "for linux/s390x; it offers linux/386, linux/amd64")
        assert err.count("\n") == 1
    else:
        assert "docker buildx build" in out


# -- item 4: --load ------------------------------------------------------------------------------


def test_load_says_plainly_that_no_daemon_is_there(
    standin: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    write_buildx_state(standin.buildx_dir, ["real"], "real")
    project = make_project(tmp_path / "app", "v1.0.0", dockerfile=RUN_DOCKERFILE)
    code, out, err = dry_run(capsys, project, "--platform", "linux/amd64,linux/arm64",
                             "--mode", "build", output="linux/arm64")
    assert (code, out) == (2, "")
    assert err.startswith("error: load: --load needs a Docker daemon and none answers here "
                          "(failed to connect to the docker API at unix:///var/run/docker.sock")


def test_load_builds_one_platform_without_attestations(
    standin: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """The docker exporter refuses manifest lists (recorded: load-provenance-true), so a load
    turns provenance and SBOM off even when the release asks for them."""
    write_buildx_state(standin.buildx_dir, ["real"], "real")
    project = make_project(tmp_path / "app", "v1.0.0", dockerfile=RUN_DOCKERFILE)
    from core.engines.base import parse_output
    from core.plan import PlanRequest, make_plan

    plan = make_plan(PlanRequest(root=project, images=("127.0.0.1:5000/dy/app",),
                                 platforms=("linux/amd64", "linux/arm64"), mode="build"))
    (argv,) = BuildxEngine().commands(plan, parse_output(None, "linux/arm64"))
    assert argv[argv.index("--platform") + 1] == "linux/arm64"
    assert "--provenance=false" in argv and "--sbom=false" in argv and "--load" in argv



@pytest.mark.skipif(shutil.which("podman") is None, reason="podman is not installed")
@pytest.mark.parametrize(("current", "picked"), [
    ("real", "auto picks buildx (builder real)"),
    ("dead", "auto picks podman"),
])
def test_doctor_says_what_auto_picks(standin: StandIn, current: str, picked: str) -> None:
    from core.doctor import check_builders, check_buildx, check_engine, check_podman

    write_buildx_state(standin.buildx_dir, ["dead", "real", "second"], current)
    options = EngineOptions()
    builders = check_builders(check_buildx(options), options)
    assert builders.summary == "usable: real, second"  # `default` (no daemon) and `dead` not
    engine = check_engine(builders, check_podman(options), options)
    assert engine.summary == f"usable: buildx, podman; {picked}"
    if current == "dead":
        assert engine.details == ("using podman because the current buildx builder does not "
                                  "answer: context deadline exceeded",)


def test_a_load_that_fails_without_a_daemon_says_so(standin: StandIn, tmp_path: Path) -> None:
    """Past the preflight (e.g. the daemon went away), the recorded load failure — `io:
    read/write on closed pipe`, never "daemon" — becomes a plain sentence."""
    from core.engines.base import parse_output

    write_buildx_state(standin.buildx_dir, ["real"], "real")
    engine = BuildxEngine(EngineOptions(progress="plain"))
    with pytest.raises(EngineError) as caught:
        list(engine.build(build_plan(tmp_path), parse_output(None, "linux/arm64")))
    assert caught.value.field == "load"
    assert caught.value.problem.startswith("the build ran but no Docker daemon took the image "
                                           "(failed to connect to the docker API")
    (build,) = standin.builds()
    assert "--provenance=false" in build["argv"]  # so the recording is load-provenance-false


@pytest.mark.skipif(shutil.which("podman") is None, reason="podman is not installed")
def test_dry_run_auto_with_a_dead_builder_shows_podman_commands(
    standin: StandIn, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    write_buildx_state(standin.buildx_dir, ["dead", "real"], "dead")
    project = make_project(tmp_path / "app", "v1.0.0")
    code, out, err = dry_run(capsys, project, "--platform", "linux/amd64", "--mode", "copy",
                             "--binary", "dist/{arch}/app")
    assert code == 0, err
    assert "podman build" in out and "docker buildx" not in out
