"""A release split by platform: two checkouts, each with podman storage of its own, build one
platform each as separate processes; a third process merges the parts into a real registry.
The result must be indistinguishable from a one-machine release."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.image import summarize_index
from core.registry import RegistryClient
from tests.e2e.conftest import DOCKERFILE, digest, release_tag
from tests.support.elf import write_elf
from tests.support.gitrepo import git, make_repo
from tests.support.podman import podman_storage
from tests.support.registry import RunningRegistry

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
ALIASES = ("1.0", "1", "latest")


@pytest.fixture
def leg_env(tmp_path: Path) -> Iterator[Callable[[], dict[str, str]]]:
    """Each call: the environment of one machine (podman storage of its own)."""
    with podman_storage("dy-leg1-") as one, podman_storage("dy-leg2-") as two:
        roots = iter((one, two, one))

        def make() -> dict[str, str]:
            return {**os.environ, "PYTHONPATH": str(REPO),
                    "DOCKYARD_PODMAN_STORAGE_DRIVER": "vfs",
                    "DOCKYARD_PODMAN_ISOLATION": "chroot",
                    "DOCKYARD_PODMAN_ROOT": str(next(roots)),
                    "XDG_STATE_HOME": str(tmp_path / "state"),
                    "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}

        yield make


def dockyard(root: Path, image: str, env: dict[str, str], *args: str, cwd: Path | None = None,
             planned: bool = True) -> subprocess.Popen[str]:
    """``dockyard release`` as a process; both platforms are planned on the command line unless
    ``args`` (a leg) name its own with --platform, or ``planned`` is off (dockyard.toml's)."""
    both = planned and "--platform" not in args
    platforms = ("--platform", "linux/amd64,linux/arm64") if both else ()
    return subprocess.Popen(
        [sys.executable, "-c", "from tui.cli import main; raise SystemExit(main())", "release",
         "--repo", str(root), "--image", image, "--mode", "copy", "--binary", "dist/{arch}/app",
         "--engine", "podman", *platforms, *args],
        cwd=cwd or root, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    out = proc.communicate(timeout=300)[0]
    return proc.returncode, out


def skopeo_raw(registry: RunningRegistry, repo: str, tag: str) -> dict[str, object]:
    done = subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--raw",
                           f"docker://{registry.host}/{repo}:{tag}"],
                          capture_output=True, text=True, check=True)
    data: dict[str, object] = json.loads(done.stdout)
    return data


@pytest.fixture
def two_checkouts(project: Callable[..., Path], tmp_path: Path) -> tuple[Path, Path]:
    root = project()
    release_tag(root, "v1.0.0")
    other = tmp_path / "second-machine"
    subprocess.run(["git", "clone", "-q", str(root), str(other)], check=True)
    return root, other


def test_two_legs_and_a_merge_equal_a_one_machine_release(
    two_checkouts: tuple[Path, Path], registry: RunningRegistry,
    leg_env: Callable[[], dict[str, str]], tmp_path: Path,
) -> None:
    if subprocess.run(["which", "skopeo"], capture_output=True).returncode != 0:
        pytest.skip("skopeo is not installed (scripts/test installs it)")
    first, second = two_checkouts
    repo, image = "parts/app", f"{registry.host}/parts/app"
    part_a, part_b = tmp_path / "parts" / "a.json", tmp_path / "parts" / "b.json"
    legs = [dockyard(first, image, leg_env(), "--yes", "--part", "--platform", "linux/amd64",
                     "--part-file", str(part_a)),
            dockyard(second, image, leg_env(), "--yes", "--part", "--platform", "linux/arm64",
                     "--part-file", str(part_b))]
    for leg in legs:
        code, out = finish(leg)
        assert code == 0, out
        assert "part file written" in out
    assert digest(registry, repo, "1.0.0") is None  # a part moves no tag
    written = json.loads(part_b.read_text())
    assert written["platforms"] == ["linux/arm64"] and written["schema"] == 1
    assert written["revision"] == git(first, "rev-parse", "HEAD")

    env = leg_env()
    dry = dockyard(first, image, env, "--dry-run", "--merge", str(part_a), str(part_b))
    code, out = finish(dry)
    assert code == 0, out
    assert f"registry-merge-index '{image}@<digest>' {part_a} {part_b}" in out

    code, out = finish(dockyard(first, image, env, "--yes", "--merge", str(part_a), str(part_b)))
    assert code == 0, out
    merged = digest(registry, repo, "1.0.0")
    assert merged is not None
    for alias in ALIASES:
        assert digest(registry, repo, alias) == merged
    index = skopeo_raw(registry, repo, "1.0.0")
    assert [str(p) for p in summarize_index(index).platforms] == ["linux/amd64", "linux/arm64"]

    # one machine building both platforms: the same platform set, the same tags on one digest
    code, out = finish(dockyard(first, f"{registry.host}/parts/one-machine", env, "--yes"))
    assert code == 0, out
    single = skopeo_raw(registry, "parts/one-machine", "1.0.0")
    assert sorted(map(str, summarize_index(single).platforms)) == sorted(
        map(str, summarize_index(index).platforms))
    with RegistryClient(registry.host) as client:
        assert set(client.list_tags("parts/one-machine")) == set(client.list_tags(repo))

    again = dockyard(first, image, env, "--yes", "--merge", str(part_b), str(part_a))
    code, out = finish(again)
    assert code == 0, out
    assert "already published" in out
    assert digest(registry, repo, "1.0.0") == merged


def test_a_part_defaults_to_the_native_platform_and_names_its_file(
    two_checkouts: tuple[Path, Path], registry: RunningRegistry,
    leg_env: Callable[[], dict[str, str]], tmp_path: Path,
) -> None:
    first, _ = two_checkouts
    (first / "dockyard.toml").write_text('platforms = ["linux/amd64", "linux/arm64"]\n')
    git(first, "add", "dockyard.toml")
    git(first, "commit", "-q", "-m", "platforms")
    git(first, "tag", "-a", "v1.0.1", "-m", "v1.0.1")
    work = tmp_path / "ci-workspace"
    work.mkdir()
    image = f"{registry.host}/parts/native"
    dry = dockyard(first, image, leg_env(), "--dry-run", "--part", cwd=work, planned=False)
    code, out = finish(dry)
    assert code == 0, out
    expected = work / "dockyard-part-linux-amd64.json"
    assert f"write-part {expected}" in out
    assert "registry-put-manifest" not in out  # a part tags nothing
    if os.uname().machine not in ("x86_64", "amd64"):
        pytest.skip("the rest expects an amd64 host")
    code, out = finish(dockyard(first, image, leg_env(), "--yes", "--part", cwd=work,
                                planned=False))
    assert code == 0, out
    assert json.loads(expected.read_text())["platforms"] == ["linux/amd64"]


def test_a_leg_needs_only_its_own_binary_and_the_merge_none(
    registry: RunningRegistry, leg_env: Callable[[], dict[str, str]], tmp_path: Path,
) -> None:
    """As on CI runners: binaries are build output (ignored by git), each leg builds its own
    platform's, and the merge job checks the project out afresh with no binary at all."""
    origin = make_repo(tmp_path / "origin")
    (origin / "Dockerfile").write_text(DOCKERFILE)
    (origin / ".gitignore").write_text("dist/\n")
    (origin / "dockyard.toml").write_text('platforms = ["linux/amd64", "linux/arm64"]\n'
                                          'mode = "copy"\nbinary = "dist/{arch}/app"\n')
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "project")
    git(origin, "tag", "-a", "v1.0.0", "-m", "v1.0.0")
    machines = {}
    for name in ("amd64", "arm64", "merge"):
        machines[name] = tmp_path / name
        subprocess.run(["git", "clone", "-q", str(origin), str(machines[name])], check=True)
    write_elf(machines["amd64"] / "dist" / "amd64" / "app", "x86-64")
    write_elf(machines["arm64"] / "dist" / "arm64" / "app", "aarch64")
    image = f"{registry.host}/parts/own-binary"
    parts = [tmp_path / "amd64.json", tmp_path / "arm64.json"]
    native = "amd64" if os.uname().machine in ("x86_64", "amd64") else None
    for arch, part in zip(("amd64", "arm64"), parts, strict=True):
        # the native leg takes its platform from the machine, the other is named
        leg = () if arch == native else ("--platform", f"linux/{arch}")
        code, out = finish(dockyard(machines[arch], image, leg_env(), "--yes", "--part", *leg,
                                    "--part-file", str(part), planned=False))
        assert code == 0, out
    merger = leg_env()
    code, out = finish(dockyard(machines["merge"], image, merger, "--yes", "--merge",
                                *map(str, parts), planned=False))
    assert code == 0, out
    merged = digest(registry, "parts/own-binary", "1.0.0")
    assert merged is not None and digest(registry, "parts/own-binary", "latest") == merged
    # a leg still refuses when its own binary is missing, in one line, before any build
    code, out = finish(dockyard(machines["merge"], image, merger, "--yes", "--part",
                                "--platform", "linux/arm64", planned=False))
    assert code == 2 and out.startswith("error: binary: dist/arm64/app does not exist"), out


def test_parts_that_do_not_belong_together_are_refused_before_anything_is_pushed(
    two_checkouts: tuple[Path, Path], registry: RunningRegistry,
    leg_env: Callable[[], dict[str, str]], tmp_path: Path,
) -> None:
    first, second = two_checkouts
    repo, image = "parts/refused", f"{registry.host}/parts/refused"
    amd, arm = tmp_path / "amd.json", tmp_path / "arm.json"
    for root, platform, path in ((first, "linux/amd64", amd), (second, "linux/arm64", arm)):
        code, out = finish(dockyard(root, image, leg_env(), "--yes", "--part", "--platform",
                                    platform, "--part-file", str(path)))
        assert code == 0, out
    env = leg_env()

    def refused(*parts: Path) -> str:
        code, out = finish(dockyard(first, image, env, "--yes", "--merge", *map(str, parts)))
        assert code == 2, out
        assert len(out.splitlines()) == 1, out
        return out

    assert "error: part: no part builds linux/arm64" in refused(amd)
    assert f"linux/amd64 is in {amd} and in {amd}" in refused(amd, amd, arm)
    moved = tmp_path / "other-commit.json"
    data = json.loads(arm.read_text())
    moved.write_text(json.dumps({**data, "revision": "f" * 40}))
    assert f"{moved} was built from ffffffffffff" in refused(amd, moved)
    assert "is not a dockyard part file" in refused(amd, _write(tmp_path, "{}"))

    # what only the registry can tell fails the merge phase, still in one line, pushing nothing
    absent = tmp_path / "absent.json"
    absent.write_text(json.dumps({**data, "images": [{**data["images"][0],
                                                       "digest": "sha256:" + "0" * 64}]}))
    code, out = finish(dockyard(first, image, env, "--yes", "--merge", str(amd), str(absent)))
    assert code == 1
    assert f"release FAILED in phase merge: part: {absent}: " in out
    assert "is not in the registry" in out
    liar = tmp_path / "liar.json"  # says arm64, but its digest is the amd64 image
    liar.write_text(json.dumps({**json.loads(amd.read_text()), "platforms": ["linux/arm64"]}))
    code, out = finish(dockyard(first, image, env, "--yes", "--merge", str(amd), str(liar)))
    assert code == 1
    assert f"part: {liar}: {image}@" in out
    assert "holds linux/amd64, the part claims linux/arm64" in out
    assert digest(registry, repo, "1.0.0") is None
    for alias in ALIASES:
        assert digest(registry, repo, alias) is None


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "not-a-part.json"
    path.write_text(text)
    return path
