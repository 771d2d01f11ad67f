"""buildx engine: rendered commands, and streaming a replay of real recorded buildx output."""

from __future__ import annotations

import json
import shutil
import sys
import threading
from pathlib import Path

import pytest

from core.engines.base import EngineOptions, Output, parse_output, select_engine
from core.engines.buildx import BuilderInfo, BuildxEngine, buildx_available, platform_support
from core.engines.process import CommandFailed
from core.errors import EngineError, PlatformError
from core.events import DigestPushed, LogLine, StepFailed, StepFinished, StepStarted
from core.plan import BuildOptions
from core.platforms import parse_platform, parse_platforms
from tests.engines.conftest import PlanFactory, recorded_pow_lines

DIGEST = "sha256:b5cb6ab415dabb468720f5d30a58fa202c6ed7e9c00097880c7752a2e4c6715a"

# Stands in for the docker CLI by replaying what a real buildx printed (nothing is invented):
# the build replays REPLAY (a recorded log) on stderr and copies the recorded metadata.json to
# --metadata-file. Every call is logged with argv and
# DOCKER_CONFIG so tests can check what dockyard ran.
FAKE_DOCKER = r'''
import json, os, shutil, sys, time
fixtures, calls = os.environ["FAKE_FIXTURES"], os.environ["FAKE_CALLS"]
args = sys.argv[1:]
with open(calls, "a") as log:
    log.write(json.dumps({"argv": args, "DOCKER_CONFIG": os.environ.get("DOCKER_CONFIG")}) + "\n")
def replay(lines, code=0, gate=None):
    for line in lines:
        if gate and line.startswith("#7 [2/2]"):
            while not os.path.exists(gate):
                time.sleep(0.02)
        sys.stderr.write(line + "\n"); sys.stderr.flush()
    sys.exit(code)
if args[:2] == ["buildx", "build"]:
    replay_file = os.environ["FAKE_REPLAY"]
    if "--metadata-file" in args and os.environ.get("FAKE_CODE", "0") == "0":
        target = args[args.index("--metadata-file") + 1]
        shutil.copy(os.path.join(fixtures, "metadata.json"), target)
    replay(open(replay_file).read().splitlines(), int(os.environ.get("FAKE_CODE", "0")),
           os.environ.get("FAKE_GATE"))
sys.stderr.write("docker: unknown command: docker " + " ".join(args[:1]) + "\n")
sys.exit(1)
'''


@pytest.fixture
def fake_docker(tmp_path: Path, buildx_fixtures: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "bin" / "docker"
    script.parent.mkdir()
    script.write_text(f"#!{sys.executable}\n{FAKE_DOCKER}")
    script.chmod(0o755)
    monkeypatch.setenv("FAKE_FIXTURES", str(buildx_fixtures))
    monkeypatch.setenv("FAKE_CALLS", str(tmp_path / "calls.jsonl"))
    monkeypatch.setenv("FAKE_REPLAY", str(buildx_fixtures / "rawjson.log"))
    return script


def calls(tmp_path: Path) -> list[dict[str, object]]:
    lines = (tmp_path / "calls.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


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
    plan_factory: PlanFactory, fake_docker: Path, tmp_path: Path
) -> None:
    config = tmp_path / "docker-config"
    engine = BuildxEngine(EngineOptions(docker_config=config), docker=str(fake_docker))
    events = list(engine.build(plan_factory()))
    assert [e for e in events if isinstance(e, DigestPushed)] == [
        DigestPushed("127.0.0.1:5000/demo", DIGEST)  # by digest: the tag is written later
    ]
    started = [e for e in events if isinstance(e, StepStarted)]
    assert {e.platform for e in started} >= {"linux/amd64", "linux/arm64"}
    assert len([e for e in events if isinstance(e, StepFinished)]) == len(started)
    (call,) = calls(tmp_path)
    assert call["DOCKER_CONFIG"] == str(config)  # credentials by environment, never argv
    assert call["argv"][:2] == ["buildx", "build"]


def test_streams_plain_progress_too(
    plan_factory: PlanFactory, fake_docker: Path, buildx_fixtures: Path,
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    monkeypatch.setenv("FAKE_REPLAY", str(buildx_fixtures / "plain-run.log"))
    engine = BuildxEngine(EngineOptions(progress="plain"), docker=str(fake_docker))
    events = list(engine.build(plan_factory()))
    assert ("#7", "built-for-amd64") in [(e.step, e.text) for e in events if isinstance(e, LogLine)]
    assert "--progress=plain" in calls(tmp_path)[0]["argv"]


def test_a_failed_build_streams_the_failed_steps_then_raises(
    plan_factory: PlanFactory, fake_docker: Path, buildx_fixtures: Path,
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    replay = tmp_path / "fail.log"
    replay.write_text("\n".join(recorded_pow_lines(buildx_fixtures, "fail")) + "\n")
    monkeypatch.setenv("FAKE_REPLAY", str(replay))
    monkeypatch.setenv("FAKE_CODE", "1")
    engine = BuildxEngine(EngineOptions(progress="plain"), docker=str(fake_docker))
    seen = []
    with pytest.raises(CommandFailed) as caught:
        for event in engine.build(plan_factory()):
            seen.append(event)
    assert [e.step for e in seen if isinstance(e, StepFailed)] == ["#7", "#8"]
    assert not [e for e in seen if isinstance(e, DigestPushed)]
    assert "exit code: 3" in str(caught.value)


@pytest.mark.timeout(60)
def test_events_arrive_live_and_cancel_stops_the_build(
    plan_factory: PlanFactory, fake_docker: Path, buildx_fixtures: Path,
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    replay = tmp_path / "slow.log"
    replay.write_text("\n".join(recorded_pow_lines(buildx_fixtures, "slow")) + "\n")
    monkeypatch.setenv("FAKE_REPLAY", str(replay))
    monkeypatch.setenv("FAKE_GATE", str(tmp_path / "never"))  # blocks before the RUN step
    cancel = threading.Event()
    engine = BuildxEngine(EngineOptions(progress="plain"), docker=str(fake_docker))
    events = engine.build(plan_factory(), cancel=cancel)
    for event in events:  # the COPY steps arrive while the "build" is still running
        if isinstance(event, StepFinished) and event.platform == "linux/arm64":
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


def test_check_refuses_a_platform_no_node_offers(
    plan_factory: PlanFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = BuildxEngine()
    node = BuilderInfo("b", "docker-container", (("n", ["linux/amd64", "linux/arm64"]),))
    monkeypatch.setattr(engine, "builder", lambda: node)
    assert [s.how for s in engine.check(plan_factory())] == ["native", "emulated"]
    with pytest.raises(PlatformError, match="cannot build linux/s390x"):
        engine.check(plan_factory(platforms=("linux/amd64", "linux/s390x")))
    with pytest.raises(PlatformError):
        engine.check(plan_factory(), Output(kind="load", platform=parse_platform("linux/ppc64le")))


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


def test_builders_come_from_python_on_whales_or_say_what_to_install() -> None:
    engine = BuildxEngine()
    if buildx_available(EngineOptions()) is None:
        builders = engine.builders()
        assert builders and all(b.nodes for b in builders)
    else:
        with pytest.raises(EngineError, match="docker-buildx"):
            engine.builders()
        with pytest.raises(EngineError, match="cannot inspect the buildx builder"):
            engine.builder()
