"""A project's release story end to end, through the ``dockyard`` CLI as separate processes:
real podman builds, a real registry, a real git repo with a bare remote. Releases, a backport
and a release candidate; then history, a comparison, a promotion and a rollback, each read back
from the registry, never from what the commands said."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import DOCKERFILE, digest
from tests.support.elf import write_elf
from tests.support.gitrepo import add_bare_remote, git, make_repo
from tests.support.podman import podman_storage
from tests.support.registry import RunningRegistry

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
NAME = "story/app"
# 1.1.0 changes the image in ways a comparison must show: an ENV, a LABEL, a new binary
DOCKERFILE_11 = DOCKERFILE.replace("ENTRYPOINT", 'ENV GREETING=hello\nLABEL tier=gold\n'
                                                 "ENTRYPOINT")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with podman_storage("dy-story-") as root:
        yield {**os.environ, "PYTHONPATH": str(REPO),
               "DOCKYARD_PODMAN_STORAGE_DRIVER": "vfs", "DOCKYARD_PODMAN_ISOLATION": "chroot",
               "DOCKYARD_PODMAN_ROOT": str(root),
               "XDG_STATE_HOME": str(tmp_path_factory.mktemp("state")),
               "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}


def dockyard(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-c", "from tui.cli import main; "
                           "raise SystemExit(main())", *args], cwd=cwd, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    return done.returncode, done.stdout


def commit(root: Path, message: str, *, dockerfile: str | None = None,
           binary: bytes = b"") -> str:
    if dockerfile is not None:
        (root / "Dockerfile").write_text(dockerfile)
    if binary:
        write_elf(root / "dist" / "amd64" / "app", "x86-64")
        with (root / "dist" / "amd64" / "app").open("ab") as out:
            out.write(binary)
    (root / "CHANGES").write_text(message + "\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD")


def release(env: dict[str, str], root: Path, image: str, tag: str) -> str:
    git(root, "tag", "-a", tag, "-m", f"release {tag}")
    git(root, "push", "-q", "origin", tag)
    code, out = dockyard(env, root, "release", "--yes", "--repo", str(root), "--image", image,
                         "--mode", "copy", "--binary", "dist/{arch}/app", "--engine", "podman",
                         "--platform", "linux/amd64,linux/arm64")
    assert code == 0, out
    return git(root, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def story(env: dict[str, str], registry: RunningRegistry,
          tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """1.0.0, 1.1.0 (a changed image), the backport 1.0.1 on a branch from v1.0.0, then
    1.2.0-rc.1 on main: every one a real release."""
    base = tmp_path_factory.mktemp("story")
    root = make_repo(base / "proj")
    (root / "Dockerfile").write_text(DOCKERFILE)
    write_elf(root / "dist" / "amd64" / "app", "x86-64")
    write_elf(root / "dist" / "arm64" / "app", "aarch64")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "project")
    add_bare_remote(root, base / "origin.git")
    image = f"{registry.host}/{NAME}"
    commits = {"1.0.0": release(env, root, image, "v1.0.0")}
    commit(root, "the 1.1 work", dockerfile=DOCKERFILE_11, binary=b"1.1")
    commits["1.1.0"] = release(env, root, image, "v1.1.0")
    git(root, "checkout", "-q", "-b", "release-1.0", "v1.0.0")
    commit(root, "backport a fix")
    commits["1.0.1"] = release(env, root, image, "v1.0.1")
    git(root, "checkout", "-q", "main")
    commit(root, "the 1.2 work", binary=b"1.2")
    commits["1.2.0-rc.1"] = release(env, root, image, "v1.2.0-rc.1")
    return {"root": root, "image": image, "commits": commits}


def history(env: dict[str, str], story: dict[str, Any]) -> dict[str, dict[str, Any]]:
    code, out = dockyard(env, story["root"], "history", story["image"], "--json")
    assert code == 0, out
    return {row["version"]: row for row in json.loads(out)["versions"]}


def test_history_lists_every_release_with_its_aliases_and_runs(
    env: dict[str, str], story: dict[str, Any], registry: RunningRegistry,
) -> None:
    rows = history(env, story)
    assert list(rows) == ["1.0.0", "1.0.1", "1.1.0", "1.2.0-rc.1"]
    assert rows["1.1.0"]["aliases"] == ["1", "1.1", "latest"]
    assert rows["1.0.1"]["aliases"] == ["1.0"]  # the backport took its series only
    assert rows["1.0.0"]["aliases"] == [] and rows["1.2.0-rc.1"]["aliases"] == []
    assert rows["1.2.0-rc.1"]["prerelease"] is True
    for version, row in rows.items():
        assert row["digest"] == digest(registry, NAME, version)
        assert row["revision"] == story["commits"][version]
        assert sorted(p["platform"] for p in row["platforms"]) == ["linux/amd64", "linux/arm64"]
        [run] = row["runs"]
        assert run["mode"] == "release" and run["ok"] is True
        assert run["checkout"] == str(story["root"])
    moved = {m["alias"]: m for m in rows["1.0.1"]["runs"][0]["moved"]}
    assert set(moved) == {"1.0"}
    assert moved["1.0"]["from"] == rows["1.0.0"]["digest"]


def test_compare_shows_what_the_1_1_work_changed(
    env: dict[str, str], story: dict[str, Any],
) -> None:
    """1.1.0 added an ENV and a LABEL and changed the amd64 binary; arm64's binary stayed."""
    code, out = dockyard(env, story["root"], "diff", f"{story['image']}:1.0.0", "1.1.0",
                         "--json")
    assert code == 0, out
    diff = json.loads(out)
    assert not diff["identical"] and diff["only_in_a"] == [] and diff["only_in_b"] == []
    pairs = {pair["platform"]: pair for pair in diff["platforms"]}
    assert set(pairs) == {"linux/amd64", "linux/arm64"}
    for pair in pairs.values():
        changes = {(c["field"], c["key"]): c for c in pair["config"]}
        assert changes[("env", "GREETING")]["change"] == "added"
        assert changes[("env", "GREETING")]["b"] == "hello"
        assert changes[("label", "tier")]["b"] == "gold"
        revision = changes[("label", "org.opencontainers.image.revision")]
        assert (revision["a"], revision["b"]) == (story["commits"]["1.0.0"],
                                                  story["commits"]["1.1.0"])
    amd64, arm64 = pairs["linux/amd64"], pairs["linux/arm64"]
    assert len(amd64["layers"]["added"]) == 1 and len(amd64["layers"]["removed"]) == 1
    assert amd64["size_delta"] != 0
    assert arm64["layers"]["added"] == [] and arm64["layers"]["removed"] == []  # same binary


def test_rollback_moves_the_targets_aliases_only_and_history_tells(
    env: dict[str, str], story: dict[str, Any], registry: RunningRegistry,
) -> None:
    """Back to the 1.0 series: 1 and latest move to 1.0.1, 1.1 stays on 1.1.0, nothing is
    deleted; then forward again."""
    before = history(env, story)
    code, out = dockyard(env, story["root"], "rollback", story["image"], "--to", "1.0.1")
    assert code == 2 and "add --yes" in out  # shown, not done
    assert history(env, story) == before
    code, out = dockyard(env, story["root"], "rollback", story["image"], "--to", "1.0.1",
                         "--yes")
    assert code == 0, out
    rows = history(env, story)
    assert rows["1.0.1"]["aliases"] == ["1", "1.0", "latest"]
    assert rows["1.1.0"]["aliases"] == ["1.1"]
    assert [v for v in rows] == list(before)  # every version still published
    [run] = [r for r in rows["1.0.1"]["runs"] if r["mode"] == "rollback"]
    assert {m["alias"] for m in run["moved"]} == {"1", "latest"}
    assert all(m["from"] == before["1.1.0"]["digest"] for m in run["moved"])
    code, out = dockyard(env, story["root"], "rollback", story["image"], "--to", "1.1.0",
                         "--yes")
    assert code == 0, out
    assert digest(registry, NAME, "latest") == before["1.1.0"]["digest"]
    assert history(env, story)["1.1.0"]["aliases"] == ["1", "1.1", "latest"]


def test_promotion_publishes_the_candidates_bytes_once_its_git_tag_is_right(
    env: dict[str, str], story: dict[str, Any], registry: RunningRegistry,
) -> None:
    """v1.2.0 first lands on the wrong commit: refused, nothing created. On the candidate's
    commit, 1.2.0 is created on the candidate's exact digest and takes 1, 1.2 and latest."""
    root, image = story["root"], story["image"]
    candidate = digest(registry, NAME, "1.2.0-rc.1")
    git(root, "tag", "-a", "v1.2.0", "-m", "v1.2.0", story["commits"]["1.1.0"])
    git(root, "push", "-q", "origin", "v1.2.0")
    before = history(env, story)
    code, out = dockyard(env, root, "promote", f"{image}:1.2.0-rc.1", "--as", "1.2.0",
                         "--repo", str(root), "--yes")
    assert code == 2, out
    assert out.startswith("error: revision: ") and story["commits"]["1.1.0"] in out, out
    assert history(env, story) == before and digest(registry, NAME, "1.2.0") is None
    git(root, "push", "-q", "origin", ":refs/tags/v1.2.0")
    git(root, "tag", "-d", "v1.2.0")
    git(root, "tag", "-a", "v1.2.0", "-m", "v1.2.0", story["commits"]["1.2.0-rc.1"])
    git(root, "push", "-q", "origin", "v1.2.0")
    code, out = dockyard(env, root, "promote", f"{image}:1.2.0-rc.1", "--as", "1.2.0",
                         "--repo", str(root), "--yes")
    assert code == 0, out
    rows = history(env, story)
    assert rows["1.2.0"]["digest"] == candidate == rows["1.2.0-rc.1"]["digest"]
    assert rows["1.2.0"]["aliases"] == ["1", "1.2", "latest"]
    assert rows["1.1.0"]["aliases"] == ["1.1"]
    assert [r["mode"] for r in rows["1.2.0"]["runs"]] == ["promote"]
