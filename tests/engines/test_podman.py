"""podman engine: rendered commands, and real podman runs for parsing and the other outputs."""

from __future__ import annotations

import json
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.engines.base import EngineOptions, Output, parse_output
from core.engines.podman import PodmanEngine
from core.engines.process import CommandFailed
from core.errors import EngineError
from core.events import DigestPushed, LogLine, StepFailed, StepFinished, StepStarted
from core.plan import BuildOptions, Plan
from tests.engines.conftest import PlanFactory
from tests.support.elf import write_elf
from tests.support.podman import podman_storage

VFS = EngineOptions(storage_driver="vfs", isolation="chroot")


def test_build_and_publish_by_digest_commands(plan_factory: PlanFactory, tmp_path: Path) -> None:
    engine = PodmanEngine(EngineOptions(docker_config=tmp_path / "cfg"))
    plan = plan_factory(images=("127.0.0.1:5000/demo", "ghcr.io/acme/demo"))
    build, layout, rm, *rest = engine.commands(plan)
    name = engine.manifest_name(plan)
    assert name.endswith("-<run>")  # each run builds into a list of its own, removed after
    assert rm == ["podman", "manifest", "rm", name]
    assert build[:2] == ["podman", "build"]
    assert build[build.index("--platform") + 1] == "linux/amd64,linux/arm64"
    assert build[build.index("--manifest") + 1] == name
    assert build[build.index("--authfile") + 1] == str(tmp_path / "cfg" / "config.json")
    assert "--isolation" not in build and "--storage-driver" not in build  # only when configured
    # the list goes to an OCI layout on disk; dockyard uploads it by digest, then tags
    assert layout == ["podman", "manifest", "push", "--all", name, "oci:<oci-layout>"]
    assert rest == [
        ["registry-upload", "<oci-layout>", "127.0.0.1:5000/demo"],
        ["registry-put-manifest", "127.0.0.1:5000/demo@<digest>", "127.0.0.1:5000/demo:1.2.3"],
        ["registry-put-manifest", "127.0.0.1:5000/demo@<digest>", "127.0.0.1:5000/demo:1.2",
         "127.0.0.1:5000/demo:1", "127.0.0.1:5000/demo:latest"],
        ["registry-upload", "<oci-layout>", "ghcr.io/acme/demo"],
        ["registry-put-manifest", "ghcr.io/acme/demo@<digest>", "ghcr.io/acme/demo:1.2.3"],
        ["registry-put-manifest", "ghcr.io/acme/demo@<digest>", "ghcr.io/acme/demo:1.2",
         "ghcr.io/acme/demo:1", "ghcr.io/acme/demo:latest"],
    ]


def test_machine_options_and_build_options(plan_factory: PlanFactory) -> None:
    options = EngineOptions(storage_driver="vfs", isolation="chroot",
                            insecure_registries=("registry.lan:5000",))
    build_options = BuildOptions(cache_from="ghcr.io/acme/cache:main", target="runtime",
                                 build_args=(("A", "1"),))
    plan = plan_factory(images=("registry.lan:5000/demo",), build=build_options)
    build, layout, *_ = PodmanEngine(options).commands(plan)
    assert build[:4] == ["podman", "--storage-driver", "vfs", "build"]
    assert build[4:6] == ["--isolation", "chroot"]
    joined = " ".join(build)
    assert "--cache-from ghcr.io/acme/cache" in joined and "--target runtime" in joined
    assert "--build-arg A=1" in joined
    assert layout[:3] == ["podman", "--storage-driver", "vfs"]


def test_other_outputs_commands(plan_factory: PlanFactory, tmp_path: Path) -> None:
    plan = plan_factory()
    engine = PodmanEngine()
    *_, archive, _ = engine.commands(plan, parse_output(f"oci-archive:{tmp_path}/a.tar"))
    assert archive[-1] == f"oci-archive:{tmp_path}/a.tar"
    (load,) = engine.commands(plan, parse_output(None, "linux/arm64"))
    assert load[load.index("--platform") + 1] == "linux/arm64"
    assert "--manifest" not in load and load[load.index("--tag") + 1].endswith(":1.2.3")


def test_sbom_is_refused_before_anything_runs(plan_factory: PlanFactory) -> None:
    with pytest.raises(EngineError, match="SBOM"):
        PodmanEngine().check(plan_factory(build=BuildOptions(sbom=True)))
    support = {s.platform: s.how for s in PodmanEngine().check(plan_factory())}
    assert set(support) == {"linux/amd64", "linux/arm64"}
    assert sorted(support.values()) == ["emulated", "native"]


# -- real podman ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def podman_engine() -> Iterator[PodmanEngine]:
    with podman_storage() as root:
        yield PodmanEngine(EngineOptions(storage_driver="vfs", isolation="chroot",
                                         podman_root=root))


def copy_project(root: Path, dockerfile: str) -> None:
    write_elf(root / "dist" / "amd64" / "app", "x86-64")
    write_elf(root / "dist" / "arm64" / "app", "aarch64")
    (root / "Dockerfile").write_text(dockerfile)


DOCKERFILE = "FROM scratch\nARG TARGETARCH\nCOPY dist/${TARGETARCH}/app /app\n"


@pytest.mark.e2e
def test_real_podman_output_becomes_step_events(
    podman_engine: PodmanEngine, plan_factory: PlanFactory, tmp_path: Path
) -> None:
    copy_project(tmp_path, DOCKERFILE + "COPY missing.txt /missing\n")
    plan = plan_factory()
    events = []
    with pytest.raises(CommandFailed):
        for event in podman_engine.build(plan, Output(kind="load",
                                                      platform=plan.platforms[0])):
            events.append(event)
    started = [e for e in events if isinstance(e, StepStarted)]
    assert [e.name for e in started][:2] == ["FROM scratch", "ARG TARGETARCH"]
    assert {e.platform for e in started} == {"linux/amd64"}
    finished = {e.name for e in events if isinstance(e, StepFinished)}
    assert "COPY dist/${TARGETARCH}/app /app" in finished
    (failed,) = [e for e in events if isinstance(e, StepFailed)]
    assert failed.name == "COPY missing.txt /missing" and "missing.txt" in failed.error


@pytest.mark.e2e
def test_oci_archive_output_holds_both_platforms(
    podman_engine: PodmanEngine, plan_factory: PlanFactory, tmp_path: Path
) -> None:
    copy_project(tmp_path, DOCKERFILE)
    archive = tmp_path / "out" / "app.tar"
    archive.parent.mkdir()
    events = list(podman_engine.build(plan_factory(), parse_output(f"oci-archive:{archive}")))
    assert not [e for e in events if isinstance(e, DigestPushed)]
    with tarfile.open(archive) as tar:
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
        (entry,) = index["manifests"]  # the manifest list itself
        blob = tar.extractfile(f"blobs/sha256/{entry['digest'].split(':')[1]}")
        inner = json.load(blob)  # type: ignore[arg-type]
    archs = sorted(m["platform"]["architecture"] for m in inner["manifests"])
    assert archs == ["amd64", "arm64"]


@pytest.mark.e2e
def test_load_builds_one_platform_into_local_storage(
    podman_engine: PodmanEngine, plan_factory: PlanFactory, tmp_path: Path
) -> None:
    copy_project(tmp_path, DOCKERFILE)
    plan: Plan = plan_factory(images=("127.0.0.1:5000/loadtest",))
    events = list(podman_engine.build(plan, parse_output(None, "linux/arm64")))
    assert {e.platform for e in events if isinstance(e, StepStarted)} == {"linux/arm64"}
    base = podman_engine.base_argv()
    arch = subprocess.run([*base, "image", "inspect", "--format", "{{.Architecture}}",
                           "127.0.0.1:5000/loadtest:1.2.3"], capture_output=True, text=True)
    assert arch.returncode == 0, arch.stderr
    assert arch.stdout.strip() == "arm64"
    assert not [e for e in events if isinstance(e, LogLine) and "provenance" in e.text]
