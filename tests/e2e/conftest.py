"""What the end-to-end publish tests share: a podman of their own, copy-mode projects in real
git repos, and the tags and plans of a release."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.engines.base import EngineOptions
from core.engines.podman import PodmanEngine
from core.plan import Plan, PlanRequest, make_plan
from core.registry import RegistryClient
from tests.support.elf import write_elf
from tests.support.gitrepo import git, make_repo
from tests.support.podman import podman_storage
from tests.support.registry import RunningRegistry

DOCKERFILE = 'FROM scratch\nARG TARGETARCH\nCOPY dist/${TARGETARCH}/app /app\nENTRYPOINT ["/app"]\n'
PLATFORMS = ("linux/amd64", "linux/arm64")


@pytest.fixture(scope="module")
def podman_root() -> Iterator[Path]:
    with podman_storage() as root:
        yield root


@pytest.fixture
def podman(podman_root: Path) -> PodmanEngine:
    """vfs storage and chroot isolation: what podman needs in this container (ENVIRONMENT.md)."""
    return PodmanEngine(EngineOptions(storage_driver="vfs", isolation="chroot",
                                      podman_root=podman_root))


@pytest.fixture
def project(tmp_path: Path) -> Callable[..., Path]:
    """A git repo holding a copy-mode project: Dockerfile and one ELF binary per platform."""

    def make(name: str = "proj", dockerfile: str = DOCKERFILE, salt: str = "") -> Path:
        root = make_repo(tmp_path / name)
        (root / "Dockerfile").write_text(dockerfile)
        write_elf(root / "dist" / "amd64" / "app", "x86-64")
        write_elf(root / "dist" / "arm64" / "app", "aarch64")
        (root / "dist" / "amd64" / "app.conf").write_text("conf\n")
        (root / "README").write_text(f"project {salt}\n")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "project")
        return root

    return make


def release_tag(root: Path, tag: str, change: str | None = None) -> None:
    if change is not None:
        (root / "CHANGES").write_text(change)
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", change)
    git(root, "tag", "-a", tag, "-m", f"release {tag}")


def plan_for(root: Path, image: str, tag: str | None = None) -> Plan:
    return make_plan(PlanRequest(root=root, tag=tag, images=(image,), platforms=PLATFORMS,
                                 mode="copy", binary="dist/{arch}/app"))


def digest(registry: RunningRegistry, repo: str, tag: str) -> str | None:
    with RegistryClient(registry.host) as client:
        head = client.head_manifest(repo, tag)
    return head.digest if head else None


