"""buildx engine: rendered commands, and streaming a replay of real recorded buildx output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from core.engines.base import EngineOptions, parse_output
from core.engines.buildx import BuilderInfo, BuildxEngine, buildx_available, platform_support
from core.engines.process import CommandFailed
from core.engines.selection import select_engine
from core.errors import EngineError, PlatformError
from core.events import DigestPushed, LogBatch, StepFailed, StepStarted
from core.plan import BuildOptions
from core.platforms import parse_platform, parse_platforms
from tests.engines.conftest import PlanFactory
from tests.support.buildx import StandIn, install_standin, write_buildx_state
from tests.support.docker_standin import RECORDINGS


@pytest.fixture
def standin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StandIn:
    """The recording-replaying docker, with the recorded builders: ``real`` current and running."""
    docker = install_standin(tmp_path, monkeypatch)
    write_buildx_state(docker.buildx_dir, ["real"], "real")
    return docker


def recorded_digest(stem: str) -> str:
    (meta,) = RECORDINGS.glob(f"{stem}.meta*.json")
    digest: str = json.loads(meta.read_text())["containerimage.digest"]
    return digest


def test_build_command_pushes_by_digest_and_tags_come_after(plan_factory: PlanFactory) -> None:
    plan = plan_factory(images=("127.0.0.1:5000/demo", "ghcr.io/acme/demo"))
    build, *after = BuildxEngine().commands(plan)
    assert build[:3] == ["docker", "buildx", "build"]
    assert build[build.index("--platform") + 1] == "linux/amd64,linux/arm64"
    # both names in one quoted CSV field, as buildx's --output parser reads it; no tag at all
    assert build[build.index("--output") + 1] == (
        'type=image,"name=127.0.0.1:5000/demo,ghcr.io/acme/demo",push-by-digest=true,'
        "name-canonical=true,push=true")
    assert "--tag" not in build and "--push" not in build
    assert build[build.index("--metadata-file") + 1] == "<metadata.json>"
    assert "--progress=rawjson" in build
    assert f"org.opencontainers.image.revision={plan.commit}" in build
    assert build[-1] == str(plan.context)
    assert after == [
        ["registry-put-manifest", "127.0.0.1:5000/demo@<digest>", "127.0.0.1:5000/demo:1.2.3"],
        ["registry-put-manifest", "127.0.0.1:5000/demo@<digest>", "127.0.0.1:5000/demo:1.2",
         "127.0.0.1:5000/demo:1", "127.0.0.1:5000/demo:latest"],
        ["registry-put-manifest", "ghcr.io/acme/demo@<digest>", "ghcr.io/acme/demo:1.2.3"],
        ["registry-put-manifest", "ghcr.io/acme/demo@<digest>", "ghcr.io/acme/demo:1.2",
         "ghcr.io/acme/demo:1", "ghcr.io/acme/demo:latest"],
    ]


def test_one_image_needs_no_quoting(plan_factory: PlanFactory) -> None:
    (build, *_) = BuildxEngine().commands(plan_factory())
    assert build[build.index("--output") + 1] == (
        "type=image,name=127.0.0.1:5000/demo,push-by-digest=true,name-canonical=true,push=true")


def test_build_mode_options_are_passed(plan_factory: PlanFactory) -> None:
    options = BuildOptions(cache_from="ghcr.io/acme/cache:main", cache_to="ghcr.io/acme/cache:main",
                           build_args=(("GO_VERSION", "1.22"),), target="runtime",
                           provenance=False, sbom=True)
    (build, *_) = BuildxEngine(EngineOptions(builder="ci")).commands(plan_factory(build=options))
    joined = " ".join(build)
    assert "--builder ci" in joined
    assert "--cache-from type=registry,ref=ghcr.io/acme/cache:main" in joined
    assert "--cache-to type=registry,ref=ghcr.io/acme/cache:main,mode=max" in joined
    assert "--build-arg GO_VERSION=1.22" in joined
    assert "--target runtime" in joined
    assert "--provenance=false" in build and "--sbom=true" in build


def test_other_outputs(plan_factory: PlanFactory, tmp_path: Path) -> None:
    plan = plan_factory()
    archive = BuildxEngine().commands(plan, parse_output(f"oci-archive:{tmp_path}/app.tar"))
    assert len(archive) == 1  # no aliases without a push
    assert archive[0][archive[0].index("--output") + 1] == f"type=oci,dest={tmp_path}/app.tar"
    assert "--push" not in archive[0]
    (load,) = BuildxEngine().commands(plan, parse_output(None, "linux/arm64"))
    assert load[load.index("--platform") + 1] == "linux/arm64"
    assert "--load" in load and "--push" not in load
    with pytest.raises(EngineError):
        parse_output("tar:/x")
    with pytest.raises(EngineError):
        parse_output("oci-archive:/x", "linux/amd64")


def test_an_insecure_registry_the_user_named_is_told_to_buildkit(plan_factory: PlanFactory) -> None:
    plan = plan_factory(images=("registry.lan:5000/demo",))
    (build, *_) = BuildxEngine(EngineOptions(insecure_registries=("registry.lan:5000",))).commands(
        plan)
    assert build[build.index("--output") + 1].endswith(",push=true,registry.insecure=true")
    (build, *_) = BuildxEngine().commands(plan)
    assert "registry.insecure" not in build[build.index("--output") + 1]


def test_streams_recorded_rawjson_build_and_reports_the_digest(
    plan_factory: PlanFactory, standin: StandIn, tmp_path: Path
) -> None:
    """build-push-rawjson: three platforms, rawjson progress, the recorded metadata file."""
    plan = plan_factory(platforms=("linux/amd64", "linux/arm64", "linux/arm/v7"))
    events = list(BuildxEngine(EngineOptions(), docker=str(standin.docker)).build(plan))
    assert [e for e in events if isinstance(e, DigestPushed)] == [
        DigestPushed("127.0.0.1:5000/demo", recorded_digest("build-push-rawjson"))
    ]
    started = [e for e in events if isinstance(e, StepStarted)]
    assert {e.platform for e in started} >= {"linux/amd64", "linux/arm64", "linux/arm/v7"}
    (call,) = standin.builds()
    assert "--builder" not in call["argv"]  # only when asked: the current builder is used


def test_push_by_digest_of_one_platform_reports_the_index_digest(
    plan_factory: PlanFactory, standin: StandIn
) -> None:
    """pbd-build-arm64: the push-by-digest export of the real buildx; plain progress."""
    engine = BuildxEngine(EngineOptions(progress="plain", builder="real"),
                          docker=str(standin.docker))
    events = list(engine.build(plan_factory(platforms=("linux/arm64",))))
    assert [e.digest for e in events if isinstance(e, DigestPushed)] == [
        recorded_digest("pbd-build-arm64")]
    (call,) = standin.builds()
    assert call["argv"][call["argv"].index("--builder") + 1] == "real"


def test_with_a_stored_login_buildx_still_sees_the_users_builders(
    plan_factory: PlanFactory, standin: StandIn, tmp_path: Path
) -> None:
    """The throw-away DOCKER_CONFIG holds the auths; BUILDX_CONFIG keeps ~/.docker/buildx, so
    the current builder (`real`) answers and builds (without it buildx finds no builder)."""
    config = tmp_path / "throwaway"
    config.mkdir()
    engine = BuildxEngine(EngineOptions(docker_config=config, progress="plain"),
                          docker=str(standin.docker))
    assert engine.builder().name == "real"
    list(engine.build(plan_factory(platforms=("linux/arm64",))))
    for call in standin.calls():
        assert call["env"]["DOCKER_CONFIG"] == str(config)  # credentials by environment
        assert call["env"]["BUILDX_CONFIG"] == str(standin.buildx_dir)
    # what the issue saw before: the throw-away DOCKER_CONFIG alone hides the builders
    hidden = {**os.environ, "DOCKER_CONFIG": str(config)}
    hidden.pop("BUILDX_CONFIG", None)
    probe = subprocess.run([str(standin.docker), "buildx", "inspect", "--bootstrap", "real"],
                           env=hidden, capture_output=True, text=True, check=False)
    assert (probe.returncode, probe.stderr) == (1, 'ERROR: no builder "real" found\n')


def test_a_failing_run_names_the_platform_and_the_step(
    plan_factory: PlanFactory, standin: StandIn
) -> None:
    write_buildx_state(standin.buildx_dir, [], None, build="build-fail-plain")
    engine = BuildxEngine(EngineOptions(progress="plain"), docker=str(standin.docker))
    seen = []
    with pytest.raises(CommandFailed) as caught:
        for event in engine.build(plan_factory(
                platforms=("linux/amd64", "linux/arm64", "linux/arm/v7"))):
            seen.append(event)
    failed = [e for e in seen if isinstance(e, StepFailed)]
    assert any(e.platform == "linux/arm64" and "RUN" in e.name and "exit code: 3" in e.error
               for e in failed), failed
    assert not [e for e in seen if isinstance(e, DigestPushed)]
    assert "exit code: 3" in str(caught.value)


@pytest.mark.parametrize("stem", ["cancel-sigint-plain", "cancel-sigint-rawjson"])
@pytest.mark.timeout(60)
def test_a_cancel_stops_the_build_and_says_cancelled(
    plan_factory: PlanFactory, standin: StandIn, stem: str
) -> None:
    write_buildx_state(standin.buildx_dir, [], None, build=stem)
    cancel = threading.Event()
    progress = stem.rsplit("-", 1)[-1]
    engine = BuildxEngine(EngineOptions(progress=progress), docker=str(standin.docker))
    events = engine.build(plan_factory(platforms=("linux/amd64", "linux/arm64", "linux/arm/v7")),
                          cancel=cancel)
    for event in events:  # the tick loop is running when the recorded signal was sent
        if isinstance(event, LogBatch) and any("tick" in line for line in event.shown):
            break
    cancel.set()
    with pytest.raises(EngineError, match="cancelled"):
        list(events)


def test_builder_platform_support_native_and_emulated() -> None:
    offered = ["linux/amd64*", "linux/amd64/v2", "linux/386", "linux/arm64", "linux/arm/v7"]
    nodes = [("real0", offered)]
    support = {s.platform: s for s in platform_support(
        nodes, parse_platforms(["linux/amd64", "linux/arm64", "linux/386", "linux/riscv64"]))}
    assert support["linux/amd64"].how == "native"
    assert support["linux/386"].how == "native"
    assert support["linux/arm64"].how == "emulated" and support["linux/arm64"].supported
    assert not support["linux/riscv64"].supported
    arm_host = platform_support([("pi", ["linux/arm64", "linux/arm/v7"])],
                                [parse_platform("linux/arm64")])
    assert arm_host[0].how == "native"


CROSS = """FROM --platform=$BUILDPLATFORM golang AS build
RUN go build -o /app .
FROM scratch
COPY --from=build /app /app
"""
TARGET_RUN = "FROM busybox\nRUN \\\n  uname -m > /arch\n"


@pytest.mark.parametrize(("dockerfile", "mode", "refused"), [
    (TARGET_RUN, "build", True),  # a RUN executes for s390x: exec format error, as recorded
    (CROSS, "build", False),  # cross-compiles on the build platform: nothing runs for s390x
    ("FROM scratch\nCOPY app /app\n", "build", False),  # COPY-only: the recording succeeded
    (TARGET_RUN, "copy", False),  # copy mode only notes it
])
def test_check_refuses_a_platform_only_where_a_run_would_execute_for_it(
    plan_factory: PlanFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    dockerfile: str, mode: str, refused: bool,
) -> None:
    (tmp_path / "Dockerfile").write_text(dockerfile)
    engine = BuildxEngine()
    node = BuilderInfo("b", "remote", (("n", ["linux/amd64", "linux/arm64"]),))
    monkeypatch.setattr(engine, "builder", lambda: node)
    monkeypatch.setattr(engine, "daemon_problem", lambda: None)
    assert [s.how for s in engine.check(plan_factory(mode=mode))] == ["native", "emulated"]
    plan = plan_factory(platforms=("linux/amd64", "linux/s390x"), mode=mode)
    if refused:
        with pytest.raises(PlatformError, match="cannot run RUN steps for linux/s390x"):
            engine.check(plan)
    else:
        noted = engine.check(plan)[1]
        assert (noted.platform, noted.how) == ("linux/s390x", "unknown")
        assert "not offered" in noted.detail


def test_engine_selection_on_this_machine() -> None:
    """Real probes: without the buildx plugin, auto picks podman and --engine buildx says what
    to install; with neither binary on PATH the error names both."""
    if buildx_available(EngineOptions()) is None:
        assert select_engine(None).name == "buildx"
    else:
        with pytest.raises(EngineError, match="docker buildx plugin"):
            select_engine("buildx")
        if shutil.which("podman"):
            assert select_engine(None).name == "podman"
    with pytest.raises(EngineError, match="not an engine"):
        select_engine("kaniko")


def test_no_engine_at_all_names_what_to_install(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # neither docker nor podman can be found
    with pytest.raises(EngineError) as caught:
        select_engine(None)
    assert "docker-buildx" in str(caught.value) and "podman" in str(caught.value)


def test_builders_come_from_docker_or_say_what_to_install() -> None:
    engine = BuildxEngine()
    if buildx_available(EngineOptions()) is None:
        builders = engine.builders()
        assert builders and all(b.nodes for b in builders)
    else:
        with pytest.raises(EngineError, match="docker-buildx"):
            engine.builders()
        with pytest.raises(EngineError, match="current buildx builder does not answer"):
            engine.builder()


def test_a_part_on_buildx_pushes_one_platform_by_digest_as_recorded(
    plan_factory: PlanFactory, standin: StandIn
) -> None:
    """A part leg: one platform, no tag; with default provenance buildx's digest is an index
    (the image and its attestation), as the recorded push-by-digest build shows."""
    from core.parts import default_part_path, part_steps

    plan = plan_factory(platforms=("linux/arm64",))
    engine = BuildxEngine(docker=str(standin.docker))
    assert engine.native_platform() == parse_platform("linux/amd64")  # the recorded node's first
    steps = part_steps(engine.commands(plan), Path("/ci/part.json"))
    assert [step[0] for step in steps] == [str(standin.docker), "write-part"]  # tags nothing
    events = list(engine.build(plan))
    assert [e for e in events if isinstance(e, DigestPushed)] == [
        DigestPushed("127.0.0.1:5000/demo", recorded_digest("pbd-build-arm64"))]
    (call,) = standin.builds()
    argv = call["argv"]
    assert argv[argv.index("--platform") + 1] == "linux/arm64"
    assert "push-by-digest=true" in argv[argv.index("--output") + 1]
    assert default_part_path(plan.platforms, Path("/ci")) == Path(
        "/ci/dockyard-part-linux-arm64.json")
