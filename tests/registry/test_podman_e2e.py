"""A real multi-arch push with podman, then verification and inspect against what landed."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from core.reference import parse_image_name
from core.registry import RegistryClient
from core.verify import verify_release
from tests.support.registry import RunningRegistry
from tui.cli import main

pytestmark = pytest.mark.e2e
PLATFORMS = ("linux/amd64", "linux/arm64")


@dataclass(frozen=True)
class PodmanPush:
    image: str  # "127.0.0.1:PORT/dy/podman"
    tag: str


@pytest.fixture(scope="module")
def podman_push(registry: RunningRegistry, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[PodmanPush]:
    """Build a FROM scratch copy-mode image for two platforms (distinct files) and push it once."""
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (Debian package podman)")
    work = tmp_path_factory.mktemp("podman")
    context = work / "context"
    for arch in ("amd64", "arm64"):
        (context / "dist" / arch).mkdir(parents=True)
        (context / "dist" / arch / "app").write_text(f"app built for {arch}\n")
    (context / "Dockerfile").write_text(
        "FROM scratch\nARG TARGETARCH\nCOPY dist/${TARGETARCH}/app /app\n")
    # A private store, so parallel podman users on the machine never see this one.
    podman = ["podman", "--root", str(work / "root"), "--runroot", str(work / "run"),
              "--storage-driver", "vfs"]
    image = f"{registry.host}/dy/podman"
    steps = [
        [*podman, "build", "--isolation", "chroot", "--platform", ",".join(PLATFORMS),
         "--manifest", "dockyard-e2e", str(context)],
        [*podman, "manifest", "push", "--all", "--tls-verify=false", "dockyard-e2e",
         f"docker://{image}:1.0.0"],
    ]
    for argv in steps:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, done.stderr[-2000:]
    yield PodmanPush(image, "1.0.0")
    shutil.rmtree(work, ignore_errors=True)


def _skopeo_digest(reference: str) -> str:
    raw = subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--raw",
                          f"docker://{reference}"], capture_output=True, check=True,
                         timeout=60).stdout
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def test_podman_release_verifies_and_alias_moves_without_rebuild(
    podman_push: PodmanPush, make_client: Callable[..., RegistryClient]
) -> None:
    name = parse_image_name(podman_push.image)
    client = make_client(name.domain)
    report = verify_release(client, name, podman_push.tag, PLATFORMS)
    assert report.ok, report.problems
    assert [c.config for c in report.tags[0].platforms] == list(PLATFORMS)
    assert report.digest == _skopeo_digest(f"{podman_push.image}:{podman_push.tag}")
    # Phase 2 of a release, by hand: the alias gets the version tag's exact bytes.
    version = client.get_manifest(name.path, podman_push.tag)
    client.put_manifest(name.path, "latest", version.raw, version.media_type)
    with_alias = verify_release(client, name, podman_push.tag, PLATFORMS, ["latest"])
    assert with_alias.ok, with_alias.problems
    assert _skopeo_digest(f"{podman_push.image}:latest") == report.digest


def test_podman_release_missing_a_platform_fails(
    podman_push: PodmanPush, make_client: Callable[..., RegistryClient]
) -> None:
    name = parse_image_name(podman_push.image)
    report = verify_release(make_client(name.domain), name, podman_push.tag,
                            [*PLATFORMS, "linux/arm/v7"])
    assert not report.ok and report.missing == ("linux/arm/v7",)


def test_inspect_shows_the_podman_platforms(
    podman_push: PodmanPush, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inspect", f"{podman_push.image}:{podman_push.tag}", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    # podman lists the platforms in the order their builds finished
    assert sorted(p["platform"] for p in data["platforms"]) == sorted(PLATFORMS)
    assert data["attestations"] == []

