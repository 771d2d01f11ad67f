"""Copy mode with a Rust layout: ``target/<triple>/release/app`` on disk, a Dockerfile that
copies ``target/${TARGETARCH}${TARGETVARIANT}/app``, released with podman to a real registry.

The binaries are Debian's busybox-static for amd64, arm64 and armhf (real static executables),
and each pushed platform image is opened layer by layer to read the ELF machine of /app.
"""

from __future__ import annotations

import json
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.binaries import read_elf
from core.engines.podman import PodmanEngine
from core.events import Event, ReleaseFailed
from core.plan import PlanRequest, make_plan
from core.release import run_release
from tests.e2e.conftest import release_tag
from tests.support.busybox import download_busybox
from tests.support.gitrepo import git, make_repo
from tests.support.outcome import finished
from tests.support.registry import RunningRegistry

pytestmark = pytest.mark.e2e
PLATFORMS = ("linux/amd64", "linux/arm64", "linux/arm/v7")
TRIPLES = {"amd64": "x86_64-unknown-linux-gnu", "arm64": "aarch64-unknown-linux-gnu",
           "armhf": "armv7-unknown-linux-gnueabihf"}
MACHINE_OF = {"linux/amd64": "x86-64", "linux/arm64": "aarch64", "linux/arm/v7": "arm"}
DOCKERFILE = (
    "FROM scratch\n"
    "ARG TARGETARCH\n"
    "ARG TARGETVARIANT\n"
    "COPY target/${TARGETARCH}${TARGETVARIANT}/app /app\n"
    "COPY config.toml /etc/app.toml\n"
    'ENTRYPOINT ["/app"]\n'
)


@pytest.fixture(scope="module")
def busybox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    yield download_busybox(tmp_path_factory.mktemp("busybox"))


@pytest.fixture
def rust_project(tmp_path: Path, busybox: dict[str, Path]) -> Path:
    """A git repo laid out as cargo leaves it; .dockerignore excludes target/, as usual."""
    root = make_repo(tmp_path / "rusty")
    for arch, triple in TRIPLES.items():
        binary = root / "target" / triple / "release" / "app"
        binary.parent.mkdir(parents=True)
        binary.write_bytes(busybox[arch].read_bytes())
        binary.chmod(0o755)
    (root / "Dockerfile").write_text(DOCKERFILE)
    (root / ".dockerignore").write_text("target/\n.git\n")
    (root / "shared.toml").write_text("level = 1\n")
    (root / "config.toml").symlink_to("shared.toml")  # sent as the file, not as a link
    (root / ".gitignore").write_text("target/\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "project")
    return root


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.lstat().st_mode, p.lstat().st_mtime_ns)
            for p in root.rglob("*") if ".git" not in p.parts}


def _files_of(reference: str, into: Path) -> dict[str, bytes]:
    """The files of one platform image, copied out of the registry with skopeo."""
    subprocess.run(["skopeo", "copy", "--quiet", "--src-tls-verify=false",
                    f"docker://{reference}", f"dir:{into}"], check=True, capture_output=True,
                   timeout=120)
    manifest = json.loads((into / "manifest.json").read_text())
    files: dict[str, bytes] = {}
    for layer in manifest["layers"]:
        with tarfile.open(into / layer["digest"].split(":", 1)[1]) as archive:
            for member in archive.getmembers():
                handle = archive.extractfile(member)
                if handle is not None:
                    files[member.name.removeprefix("./")] = handle.read()
    return files


def test_rust_layout_release_stages_each_binary_where_the_dockerfile_copies(
    rust_project: Path, registry: RunningRegistry, podman: PodmanEngine, tmp_path: Path,
) -> None:
    root = rust_project
    release_tag(root, "v1.0.0")
    image = f"{registry.host}/e2e/staged-rust"
    plan = make_plan(PlanRequest(root=root, images=(image,), platforms=PLATFORMS, mode="copy",
                                 binary="target/{triple}/release/app"))
    assert [(str(p.platform), p.path, p.staged) for p in plan.layout] == [
        ("linux/amd64", "target/amd64/app", True),
        ("linux/arm64", "target/arm64/app", True),
        ("linux/arm/v7", "target/armv7/app", True),
    ]
    before = _tree(root)
    staged_before = set(Path(tempfile.gettempdir()).glob("dockyard-context-*"))
    events: list[Event] = list(run_release(plan, podman, report_dir=tmp_path / "reports"))
    assert finished(events).ok, [e.error for e in events if isinstance(e, ReleaseFailed)]
    assert _tree(root) == before  # the project's tree is never written
    assert set(Path(tempfile.gettempdir()).glob("dockyard-context-*")) <= staged_before

    raw = subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--raw",
                          f"docker://{image}:1.0.0"], capture_output=True, check=True,
                         timeout=60).stdout
    index = json.loads(raw)
    machines = {}
    for entry in index["manifests"]:
        found = entry["platform"]
        platform = "/".join(p for p in (found["os"], found["architecture"],
                                        found.get("variant", "")) if p)
        files = _files_of(f"{image}@{entry['digest']}", tmp_path / platform.replace("/", "-"))
        assert files["etc/app.toml"] == b"level = 1\n"
        app = tmp_path / f"app-{platform.replace('/', '-')}"
        app.write_bytes(files["app"])
        elf = read_elf(app)
        assert elf.static
        machines[platform] = elf.machine
    assert machines == MACHINE_OF
