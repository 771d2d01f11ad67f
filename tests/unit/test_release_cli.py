"""``dockyard release --dry-run`` end to end on real git repos: the plan, and every refusal."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.elf import write_elf
from tests.support.gitrepo import add_bare_remote, git, make_repo
from tests.unit.test_binaries import hostile_elf
from tui.cli import main

COPY_DOCKERFILE = "FROM scratch\nARG TARGETARCH\nCOPY dist/${TARGETARCH}/app /app\n"
BUSYBOX = Path("/bin/busybox")


def make_project(path: Path, *tags: str, dockerfile: str = COPY_DOCKERFILE,
                 toml: str | None = None) -> Path:
    """A committed project: Dockerfile, x86-64 and aarch64 binaries, optional dockyard.toml."""
    make_repo(path)
    (path / "Dockerfile").write_text(dockerfile)
    write_elf(path / "dist/amd64/app", "x86-64")
    write_elf(path / "dist/arm64/app", "aarch64")
    if toml is not None:
        (path / "dockyard.toml").write_text(toml)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "project")
    for tag in tags:
        git(path, "tag", "-a", tag, "-m", tag)
    return path


def snapshot(path: Path) -> dict[str, str]:
    """Every file (including .git) with its content hash: proves a refusal wrote nothing."""
    return {
        str(item.relative_to(path)): hashlib.sha256(item.read_bytes()).hexdigest()
        for item in sorted(path.rglob("*"))
        if item.is_file()
    }


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """The CLI in-process. Dry runs read no registry (the images here are ghcr.io names and
    tests never leave this machine); tests of the registry reads call ``main`` themselves."""
    args = list(argv)
    if "--dry-run" in args and "--no-registry" not in args:
        args.append("--no-registry")
    try:
        code = main(args)
    except SystemExit as usage:  # argparse's one-line usage error
        code = int(usage.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "app", "v1.2.3")


def test_done_when_example(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(
        capsys, "release", "--dry-run", "--json", "--repo", str(project),
        "--image", "ghcr.io/acme/app", "--platform", "linux/amd64,linux/arm64",
    )
    assert (code, err) == (0, "")
    plan = json.loads(out)
    assert plan["version"] == "1.2.3"
    assert plan["git_tag"] == "v1.2.3"
    assert plan["prerelease"] is False
    assert plan["commit"] == git(project, "rev-parse", "HEAD")
    assert plan["images"][0]["name"] == "ghcr.io/acme/app"
    assert plan["images"][0]["tags"] == ["1.2.3", "1.2", "1", "latest"]
    assert plan["platforms"] == ["linux/amd64", "linux/arm64"]
    assert plan["mode"] == "build"
    assert plan["steps"], "the dry run lists the commands it would run"


def test_copy_mode_plan_reports_binaries(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(
        capsys, "release", "--dry-run", "--json", "--repo", str(project), "--image", "alpine",
        "--platform", "linux/x86_64", "--platform", "linux/aarch64", "--mode", "copy",
        "--binary", "dist/{arch}/app",
    )
    assert (code, err) == (0, "")
    plan = json.loads(out)
    assert plan["images"][0]["name"] == "docker.io/library/alpine"
    assert plan["platforms"] == ["linux/amd64", "linux/arm64"]
    assert [b["machine"] for b in plan["binaries"]] == ["x86-64", "aarch64"]
    assert [b["path"] for b in plan["binaries"]] == ["dist/amd64/app", "dist/arm64/app"]
    assert all(b["static"] for b in plan["binaries"])


def test_config_supplies_choices_and_flags_override(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    toml = (
        'images = ["127.0.0.1:5000/demo/app"]\nplatforms = ["linux/amd64", "linux/arm64"]\n'
        'mode = "copy"\nbinary = "dist/{arch}/app"\n\n[tags]\nsha = true\ngit_tag = true\n'
    )
    project = make_project(tmp_path / "app", "v2.0.0", toml=toml)
    code, out, _ = run_cli(capsys, "release", "--dry-run", "--json", "--repo", str(project))
    assert code == 0
    plan = json.loads(out)
    short = git(project, "rev-parse", "--short=7", "HEAD")
    assert plan["images"][0]["name"] == "127.0.0.1:5000/demo/app"
    assert plan["mode"] == "copy"
    assert set(plan["images"][0]["tags"]) == {"2.0.0", "2.0", "2", "latest", "v2.0.0",
                                              f"sha-{short}"}
    code, out, _ = run_cli(capsys, "release", "--dry-run", "--json", "--repo", str(project),
                           "--platform", "linux/amd64", "--mode", "build")
    assert code == 0
    plan = json.loads(out)
    assert (plan["platforms"], plan["mode"], plan["binaries"]) == (["linux/amd64"], "build", [])


def test_never_backwards_in_the_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = make_repo(tmp_path / "app", tags=("v1.3.0", "v1.4.0"))
    (project / "Dockerfile").write_text("FROM scratch\n")
    git(project, "add", "Dockerfile")
    git(project, "commit", "-q", "-m", "fix")
    git(project, "tag", "-a", "v1.3.9", "-m", "backport")
    code, out, _ = run_cli(capsys, "release", "--dry-run", "--json", "--repo", str(project),
                           "--tag", "v1.3.9", "--image", "ghcr.io/acme/app",
                           "--platform", "linux/amd64")
    assert code == 0, out
    image = json.loads(out)["images"][0]
    assert image["tags"] == ["1.3.9", "1.3"]
    assert {w["tag"] for w in image["withheld"]} == {"1", "latest"}


def test_prerelease_gets_only_its_version(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project(tmp_path / "app", "v2.0.0-rc.1+build.5")
    code, out, _ = run_cli(capsys, "release", "--dry-run", "--json", "--repo", str(project),
                           "--image", "ghcr.io/acme/app", "--platform", "linux/amd64")
    assert code == 0
    plan = json.loads(out)
    assert plan["prerelease"] is True
    assert plan["images"][0]["tags"] == ["2.0.0-rc.1"]


def test_readable_plan_without_json(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "release", "--dry-run", "--repo", str(project),
                           "--image", "ghcr.io/acme/app", "--platform", "linux/amd64")
    assert code == 0
    assert "1.2.3" in out and "ghcr.io/acme/app:latest" in out and "linux/amd64" in out
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)


def test_help_and_version_work() -> None:
    for argv in (["--help"], ["release", "--help"], ["tag", "--help"], ["--version"]):
        done = subprocess.run([sys.executable, "-m", "tui.cli", *argv],
                              capture_output=True, text=True)
        assert done.returncode == 0, (argv, done.stderr)
        assert "dockyard" in done.stdout or "usage" in done.stdout


# ---------------------------------------------------------------- refusals

IMG = ("--image", "ghcr.io/acme/app")
PLAT = ("--platform", "linux/amd64")
COPY = ("--mode", "copy", "--binary", "dist/{arch}/app")
BOTH = ("--platform", "linux/amd64,linux/arm64")


def _dirty_modified(p: Path) -> None:
    (p / "Dockerfile").write_text(COPY_DOCKERFILE + "# edit\n")


def _dirty_untracked(p: Path) -> None:
    (p / "notes.txt").write_text("wip\n")


def _older_than_last(p: Path) -> None:
    git(p, "tag", "-d", "v1.2.3")
    git(p, "tag", "-a", "v1.2.5", "HEAD~1", "-m", "newer, on an older commit")
    git(p, "tag", "-a", "v1.2.3", "-m", "now older than 1.2.5 of the same series")


def _same_version_other_spelling(p: Path) -> None:
    git(p, "tag", "-a", "1.2.3", "HEAD~1", "-m", "same version without v")


def _tag_not_on_head(p: Path) -> None:
    (p / "README").write_text("later\n")
    git(p, "commit", "-q", "-am", "after the tag")


def _no_tag_on_head(p: Path) -> None:
    git(p, "tag", "-d", "v1.2.3")


def _tag_not_pushed(p: Path) -> None:
    add_bare_remote(p, p.parent / "origin.git", push_tags=False)


def _arm64_binary_is_x86(p: Path) -> None:
    shutil.copy(BUSYBOX, p / "dist/arm64/app") if BUSYBOX.exists() else write_elf(
        p / "dist/arm64/app", "x86-64")


def _arm64_binary_missing(p: Path) -> None:
    (p / "dist/arm64/app").unlink()


def _arm64_binary_not_elf(p: Path) -> None:
    (p / "dist/arm64/app").write_text("#!/bin/sh\necho hi\n")


def _dockerfile_without_targetarch(p: Path) -> None:
    (p / "Dockerfile.plain").write_text("FROM scratch\nCOPY dist/amd64/app /app\n")


def _toml(text: str) -> Callable[[Path], None]:
    def write(p: Path) -> None:
        (p / "dockyard.toml").write_text(text)
    return write


def _untracked_ok(setup: Callable[[Path], object]) -> Callable[[Path], None]:
    """Files the case adds are committed, so the only fault is the one under test."""
    def apply(p: Path) -> None:
        setup(p)
        git(p, "add", "-A")
        git(p, "commit", "-q", "-m", "case setup")
        git(p, "tag", "-f", "-a", "v1.2.3", "-m", "moved")
    return apply


def _fifo(name: str, *, outside: bool = False) -> Callable[[Path], None]:
    """A FIFO in the project (git does not see one) or beside it: opening it would block."""
    def make(p: Path) -> None:
        target = (p.parent if outside else p) / name
        if target.is_file():
            target.unlink()
        os.mkfifo(target)
    return make


def _link(name: str, target: str) -> Callable[[Path], None]:
    """``name`` -> ``target``; ``{outside}`` is a folder beside the project with a Dockerfile,
    a dockyard.toml and an aarch64 binary (so an escape is the only fault)."""
    def make(p: Path) -> None:
        outside = p.parent / "outside"
        outside.mkdir(exist_ok=True)
        (outside / "Dockerfile").write_text(COPY_DOCKERFILE)
        (outside / "dockyard.toml").write_text('mode = "build"\n')
        write_elf(outside / "arm64/app", "aarch64")
        link = p / name
        if link.is_file():
            link.unlink()
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target.replace("{outside}", str(outside)))
    return make


def _fifo_binary(p: Path) -> None:
    """dist/arm64/app replaced by a FIFO; the removal is committed, the FIFO git cannot see."""
    _untracked_ok(lambda q: (q / "dist/arm64/app").unlink())(p)
    os.mkfifo(p / "dist/arm64/app")


def _loop_beside(p: Path) -> None:
    (p.parent / "loop").symlink_to("loop")


def _no_git_on_path(p: Path) -> dict[str, str]:
    return {"PATH": str(p / "no-such-bin")}


def _needs_podman(setup: Callable[[Path], object] | None = None) -> Callable[[Path], object]:
    def apply(p: Path) -> object:
        if shutil.which("podman") is None:
            pytest.skip("podman is not installed (scripts/test installs it)")
        return setup(p) if setup else None
    return apply


def _hostile(**fields: int) -> Callable[[Path], None]:
    return _untracked_ok(lambda p: hostile_elf(p / "dist/arm64/app", **fields))


LONG_PATH = "ghcr.io/" + "/".join(["abcdefghij"] * 24)  # 263 characters of path
DIGEST = "sha256:" + "a" * 64
LONG_NAME = "x" * 300  # longer than a file name may be (255 bytes)
ARM64 = ("--platform", "linux/arm64")
LOCAL_IMG = ("--image", "127.0.0.1:9/acme/app")  # for --yes cases: nothing listens on port 9
USAGE = "dockyard release"  # argparse errors name the command

# (id, setup, extra argv, expected field). ``{project}`` and ``{tmp}`` in argv are replaced;
# a setup may return environment variables for the run. Cases without --yes run --dry-run.
BAD: list[tuple[str, Callable[[Path], object] | None, tuple[str, ...], str]] = [
    ("tag-incomplete", None, ("--tag", "1.2", *IMG, *PLAT), "tag"),
    ("tag-leading-zero", None, ("--tag", "v01.2.3", *IMG, *PLAT), "tag"),
    ("tag-capital-v", None, ("--tag", "V1.2.3", *IMG, *PLAT), "tag"),
    ("tag-four-parts", None, ("--tag", "1.2.3.4", *IMG, *PLAT), "tag"),
    ("tag-prerelease-leading-zero", None, ("--tag", "v1.2.3-01", *IMG, *PLAT), "tag"),
    ("tag-empty", None, ("--tag", "", *IMG, *PLAT), "tag"),
    ("tag-trailing-dash", None, ("--tag", "v1.2.3-", *IMG, *PLAT), "tag"),
    ("tag-space", None, ("--tag", "v1.2.3 ", *IMG, *PLAT), "tag"),
    ("tag-missing-in-repo", None, ("--tag", "v9.9.9", *IMG, *PLAT), "tag"),
    ("tag-not-on-head", _tag_not_on_head, ("--tag", "v1.2.3", *IMG, *PLAT), "tag"),
    ("no-tag-on-head", _no_tag_on_head, (*IMG, *PLAT), "tag"),
    ("tag-older-than-last", _older_than_last, ("--tag", "v1.2.3", *IMG, *PLAT), "tag"),
    ("tag-same-as-last", _same_version_other_spelling, ("--tag", "v1.2.3", *IMG, *PLAT), "tag"),
    ("tree-modified", _dirty_modified, (*IMG, *PLAT), "repo"),
    ("tree-untracked", _dirty_untracked, (*IMG, *PLAT), "repo"),
    ("tag-not-pushed", _tag_not_pushed, (*IMG, *PLAT), "tag"),
    ("image-none", None, PLAT, "image"),
    ("image-with-tag", None, ("--image", "ghcr.io/acme/app:1.0", *PLAT), "image"),
    ("image-with-digest", None, ("--image", f"ghcr.io/acme/app@{DIGEST}", *PLAT), "image"),
    ("image-uppercase", None, ("--image", "ghcr.io/Acme/app", *PLAT), "image"),
    ("image-empty", None, ("--image", "", *PLAT), "image"),
    ("image-double-slash", None, ("--image", "ghcr.io//app", *PLAT), "image"),
    ("image-path-too-long", None, ("--image", LONG_PATH, *PLAT), "image"),
    ("image-trailing-separator", None, ("--image", "ghcr.io/acme/app-", *PLAT), "image"),
    ("image-twice", None, (*IMG, *IMG, *PLAT), "image"),
    ("image-leading-dash", None, ("--image=-acme/app", *PLAT), "image"),
    ("platform-none", None, IMG, "platform"),
    ("platform-bare-arch", None, (*IMG, "--platform", "arm64"), "platform"),
    ("platform-unknown-arch", None, (*IMG, "--platform", "linux/sparc"), "platform"),
    ("platform-unknown-os", None, (*IMG, "--platform", "beos/amd64"), "platform"),
    ("platform-empty-arch", None, (*IMG, "--platform", "linux/"), "platform"),
    ("platform-too-many-parts", None, (*IMG, "--platform", "linux/arm/v7/x"), "platform"),
    ("platform-empty-item", None, (*IMG, "--platform", "linux/amd64,,linux/arm64"), "platform"),
    ("mode-unknown", None, (*IMG, *PLAT, "--mode", "docker"), "mode"),
    ("copy-without-binary", None, (*IMG, *PLAT, "--mode", "copy"), "binary"),
    ("copy-binary-missing", _untracked_ok(_arm64_binary_missing), (*IMG, *BOTH, *COPY), "binary"),
    ("copy-binary-wrong-machine", _untracked_ok(_arm64_binary_is_x86), (*IMG, *BOTH, *COPY),
     "binary"),
    ("copy-binary-not-elf", _untracked_ok(_arm64_binary_not_elf), (*IMG, *BOTH, *COPY),
     "binary"),
    ("copy-unknown-placeholder", None, (*IMG, *PLAT, "--mode", "copy", "--binary",
                                        "dist/{cpu}/app"), "binary"),
    ("copy-dockerfile-no-targetarch", _untracked_ok(_dockerfile_without_targetarch),
     (*IMG, *PLAT, *COPY, "--dockerfile", "Dockerfile.plain"), "dockerfile"),
    ("dockerfile-missing", None, (*IMG, *PLAT, "--dockerfile", "nope/Dockerfile"), "dockerfile"),
    ("dockerfile-outside", None, (*IMG, *PLAT, "--dockerfile", "../Dockerfile"), "dockerfile"),
    ("context-missing", None, (*IMG, *PLAT, "--context", "nope"), "context"),
    ("build-arg-no-equals", None, (*IMG, *PLAT, "--build-arg", "VERSION"), "build-arg"),
    ("build-arg-bad-name", None, (*IMG, *PLAT, "--build-arg", "1X=2"), "build-arg"),
    ("builder-leading-dash", None, (*IMG, *PLAT, "--builder=-x"), "builder"),
    ("builder-space", None, (*IMG, *PLAT, "--builder", "my builder"), "builder"),
    ("builder-with-podman", None, (*IMG, *PLAT, "--builder", "ci", "--engine", "podman"),
     "builder"),
    ("cache-from-uppercase", None, (*IMG, *PLAT, "--cache-from", "ghcr.io/Acme/cache"),
     "cache-from"),
    ("config-syntax", _untracked_ok(_toml("images = [\n")), (*IMG, *PLAT), "config"),
    ("config-unknown-key", _untracked_ok(_toml('platfroms = ["linux/amd64"]\n')), (*IMG, *PLAT),
     "config"),
    ("config-wrong-type", _untracked_ok(_toml('platforms = "linux/amd64"\n')), IMG, "config"),
    ("config-bad-mode", _untracked_ok(_toml('mode = "docker"\n')), (*IMG, *PLAT), "config"),
    ("config-bad-platform", _untracked_ok(_toml('mode = "build"\nplatforms = ["linux/sparc"]\n')),
     IMG, "config"),
    ("config-bad-image", _untracked_ok(_toml('images = ["ghcr.io/acme/app:1.0"]\n')), PLAT,
     "config"),
    ("config-bad-extra-tag", _untracked_ok(_toml('[tags]\nextra = ["bad tag"]\n')), (*IMG, *PLAT),
     "config"),
    # -- every release flag is refused at least once (issue 9) --
    ("yes-and-dry-run", None, ("--yes", "--dry-run", *IMG, *PLAT), USAGE),
    ("json-with-value", None, (*IMG, *PLAT, "--json=yes"), USAGE),
    ("engine-unknown", None, (*IMG, *PLAT, "--engine", "kaniko"), USAGE),
    ("provenance-with-value", None, (*IMG, *PLAT, "--provenance=no"), USAGE),
    ("repo-empty", None, (*IMG, *PLAT, "--repo", ""), "repo"),
    ("repo-missing", None, (*IMG, *PLAT, "--repo", "{tmp}/nope"), "repo"),
    ("repo-is-a-file", None, (*IMG, *PLAT, "--repo", "{project}/Dockerfile"), "repo"),
    ("mode-empty", None, (*IMG, *PLAT, "--mode", ""), "mode"),
    ("builder-empty", None, (*IMG, *PLAT, "--builder", ""), "builder"),
    ("cache-from-empty", None, (*IMG, *PLAT, "--cache-from", ""), "cache-from"),
    ("cache-to-bad-ref", None, (*IMG, *PLAT, "--cache-to", "ghcr.io/acme/Cache"), "cache-to"),
    ("target-not-a-stage", None, (*IMG, *PLAT, "--target", "nosuch"), "target"),
    ("target-empty", None, (*IMG, *PLAT, "--target", ""), "target"),
    ("dockerfile-empty", None, (*IMG, *PLAT, "--dockerfile", ""), "dockerfile"),
    ("dockerfile-is-a-directory", None, (*IMG, *PLAT, "--dockerfile", "dist"), "dockerfile"),
    ("context-empty", None, (*IMG, *PLAT, "--context", ""), "context"),
    ("context-is-a-file", None, (*IMG, *PLAT, "--context", "Dockerfile"), "context"),
    ("context-outside", None, (*IMG, *PLAT, "--context", ".."), "context"),
    ("insecure-registry-underscore", None,
     (*IMG, *PLAT, "--insecure-registry", "my_registry.local"), "insecure-registry"),
    ("insecure-registry-port-range", None,
     (*IMG, *PLAT, "--insecure-registry", "localhost:99999"), "insecure-registry"),
    ("insecure-registry-url", None,
     (*IMG, *PLAT, "--insecure-registry", "http://registry.local"), "insecure-registry"),
    ("output-unknown-kind", None, (*IMG, *PLAT, "--output", "tar:app.tar"), "output"),
    ("output-dir-missing", None, (*IMG, *PLAT, "--output", "oci-archive:{tmp}/nope/app.tar"),
     "output"),
    ("output-is-a-directory", None, (*IMG, *PLAT, "--output", "oci-archive:{tmp}"), "output"),
    ("output-and-load", None, (*IMG, *PLAT, "--output", "oci-archive:{tmp}/a.tar", "--load",
                               "linux/amd64"), "load"),
    ("load-bad-platform", None, (*IMG, *PLAT, "--load", "linux/sparc"), "load"),
    ("stall-timeout-zero", None, (*IMG, *PLAT, "--stall-timeout", "0"), "stall-timeout"),
    ("build-timeout-words", None, (*IMG, *PLAT, "--build-timeout", "soon"), "build-timeout"),
    ("no-registry-with-yes", None, ("--yes", "--no-registry", *IMG, *PLAT), "no-registry"),
    ("ca-file-missing", None, (*IMG, *PLAT, "--ca-file", "{tmp}/nope.pem"), "ca-file"),
    ("ca-file-not-pem", None, (*IMG, *PLAT, "--ca-file", "{project}/Dockerfile"), "ca-file"),
    ("config-ca-file-missing", _untracked_ok(_toml('ca_file = "certs/ca.pem"\n')),
     (*IMG, *PLAT), "ca-file"),
    ("part-file-without-part", None, (*IMG, *PLAT, "--part-file", "{tmp}/p.json"), "part"),
    ("part-with-output", None,
     (*IMG, *PLAT, "--part", "--output", "oci-archive:{tmp}/a.tar"), "part"),
    ("merge-not-a-part-file", None, (*IMG, *PLAT, "--merge", "{project}/Dockerfile"), "part"),
    ("merge-missing-file", None, (*IMG, *PLAT, "--merge", "{tmp}/nope.json"), "part"),
    # -- absolute --binary and templates or symlinks that leave the build context --
    ("binary-absolute-outside", _link("unused", "{outside}"),
     (*IMG, *ARM64, "--binary", "{tmp}/outside/{arch}/app"), "binary"),
    ("binary-dotdot", _link("unused", "{outside}"),
     (*IMG, *ARM64, "--binary", "../outside/{arch}/app"), "binary"),
    ("binary-symlink-escapes", _untracked_ok(_link("dist/arm64/app", "{outside}/arm64/app")),
     (*IMG, *ARM64, "--binary", "dist/{arch}/app"), "binary"),
    ("binary-dir-symlink-escapes", _untracked_ok(_link("out", "{outside}")),
     (*IMG, *ARM64, "--binary", "out/{arch}/app"), "binary"),
    ("dockerfile-absolute-outside", _link("unused", "{outside}"),
     (*IMG, *PLAT, "--dockerfile", "{tmp}/outside/Dockerfile"), "dockerfile"),
    ("dockerfile-symlink-escapes", _untracked_ok(_link("Dockerfile.link", "{outside}/Dockerfile")),
     (*IMG, *PLAT, "--dockerfile", "Dockerfile.link"), "dockerfile"),
    ("context-symlink-escapes", _untracked_ok(_link("ctx", "{outside}")),
     (*IMG, *PLAT, "--context", "ctx"), "context"),
    # -- symlink loops --
    ("binary-loop", _untracked_ok(_link("dist/arm64/app", "app")), (*IMG, *ARM64, *COPY),
     "binary"),
    ("dockerfile-loop", _untracked_ok(_link("Dockerfile.loop", "Dockerfile.loop")),
     (*IMG, *PLAT, "--dockerfile", "Dockerfile.loop"), "dockerfile"),
    ("context-loop", _untracked_ok(_link("ctx", "ctx")), (*IMG, *PLAT, "--context", "ctx"),
     "context"),
    ("config-loop", _untracked_ok(_link("dockyard.toml", "dockyard.toml")), (*IMG, *PLAT),
     "config"),
    ("repo-loop", _loop_beside, (*IMG, *PLAT, "--repo", "{tmp}/loop"), "repo"),
    ("output-loop", _loop_beside, (*IMG, *PLAT, "--output", "oci-archive:{tmp}/loop/app.tar"),
     "output"),
    # -- names longer than the file system allows --
    ("binary-long-name", None, (*IMG, *ARM64, "--binary", LONG_NAME + "{arch}"), "binary"),
    ("dockerfile-long-name", None, (*IMG, *PLAT, "--dockerfile", LONG_NAME), "dockerfile"),
    ("context-long-name", None, (*IMG, *PLAT, "--context", LONG_NAME), "context"),
    ("repo-long-name", None, (*IMG, *PLAT, "--repo", "{tmp}/" + LONG_NAME), "repo"),
    ("output-long-name", None, (*IMG, *PLAT, "--output", "oci-archive:{tmp}/" + LONG_NAME),
     "output"),
    ("tag-long", None, ("--tag", "v1.2.3-" + LONG_NAME, *IMG, *PLAT), "tag"),
    # -- dockyard.toml that must not be read, or not whole --
    ("config-deeply-nested", _untracked_ok(_toml("images = " + "[" * 5000 + "]" * 5000 + "\n")),
     (*IMG, *PLAT), "config"),
    ("config-dev-zero", _untracked_ok(_link("dockyard.toml", "/dev/zero")), (*IMG, *PLAT),
     "config"),
    ("config-symlink-escapes", _untracked_ok(_link("dockyard.toml", "{outside}/dockyard.toml")),
     (*IMG, *PLAT), "config"),
    ("config-too-large", _untracked_ok(_toml("# padding\n" * 30000)), (*IMG, *PLAT), "config"),
    ("config-not-utf8", _untracked_ok(lambda p: (p / "dockyard.toml").write_bytes(b"\xff\n")),
     (*IMG, *PLAT), "config"),
    # -- FIFOs: never opened --
    ("binary-fifo", _fifo("fifo"), (*IMG, *ARM64, "--binary", "fifo"), "binary"),
    ("binary-fifo-in-template", _fifo_binary, (*IMG, *ARM64, *COPY), "binary"),
    ("dockerfile-fifo", _fifo("Dockerfile.fifo"), (*IMG, *PLAT, "--dockerfile", "Dockerfile.fifo"),
     "dockerfile"),
    ("config-fifo", _fifo("dockyard.toml"), (*IMG, *PLAT), "config"),
    ("output-fifo", _fifo("out.fifo", outside=True),
     (*IMG, *PLAT, "--output", "oci-archive:{tmp}/out.fifo"), "output"),
    ("repo-fifo", _fifo("repo.fifo", outside=True), (*IMG, *PLAT, "--repo", "{tmp}/repo.fifo"),
     "repo"),
    # -- hostile ELF headers --
    ("elf-phoff-max", _hostile(phoff=2**64 - 1), (*IMG, *ARM64, *COPY), "binary"),
    ("elf-phoff-past-end", _hostile(phoff=2**40), (*IMG, *ARM64, *COPY), "binary"),
    ("elf-phnum-bogus", _hostile(phnum=0xFFFF, phentsize=0xFFFF), (*IMG, *ARM64, *COPY), "binary"),
    ("elf-phentsize-small", _hostile(phentsize=8), (*IMG, *ARM64, *COPY), "binary"),
    ("elf-interp-size-huge", _hostile(interp_size=2**62), (*IMG, *ARM64, *COPY), "binary"),
    ("elf-interp-offset-max", _hostile(interp_offset=2**64 - 1), (*IMG, *ARM64, *COPY), "binary"),
    ("elf-truncated", _untracked_ok(lambda p: (p / "dist/arm64/app").write_bytes(b"\x7fELF\x02")),
     (*IMG, *ARM64, *COPY), "binary"),
    # -- git missing --
    ("git-not-on-path", _no_git_on_path, (*IMG, *PLAT), "repo"),
    # -- registry hosts and ports --
    ("image-port-too-big", None, ("--image", "localhost:99999/acme/app", *PLAT), "image"),
    ("image-port-zero", None, ("--image", "localhost:0/acme/app", *PLAT), "image"),
    ("image-host-underscore", None, ("--image", "my_registry.example.com/acme/app", *PLAT),
     "image"),
    ("cache-from-port-zero", None, (*IMG, *PLAT, "--cache-from", "localhost:0/cache"),
     "cache-from"),
    ("cache-to-host-underscore", None, (*IMG, *PLAT, "--cache-to", "my_cache.example.com/c"),
     "cache-to"),
    ("config-image-port", _untracked_ok(_toml('images = ["localhost:99999/acme/app"]\n')), PLAT,
     "config"),
    ("config-image-underscore", _untracked_ok(_toml('images = ["my_reg.example.com/a/b"]\n')),
     PLAT, "config"),
    # -- --binary '' never means build mode --
    ("binary-empty", None, (*IMG, *PLAT, "--binary", ""), "binary"),
    ("binary-blank", None, (*IMG, *PLAT, "--binary", "  "), "binary"),
    ("binary-empty-copy-mode", None, (*IMG, *PLAT, "--mode", "copy", "--binary", ""), "binary"),
    # -- --load of a platform the plan does not build --
    ("load-not-planned", None, (*IMG, *PLAT, "--load", "linux/arm64"), "load"),
    ("yes-load-not-planned", None, ("--yes", *LOCAL_IMG, *PLAT, "--load", "linux/arm64"), "load"),
    # -- --sbom with podman: the dry run refuses it as the run does --
    ("sbom-podman-flag", _needs_podman(), (*IMG, *PLAT, "--sbom", "--engine", "podman"), "sbom"),
    ("sbom-podman-config", _needs_podman(_untracked_ok(_toml('engine = "podman"\n'))),
     (*IMG, *PLAT, "--sbom"), "sbom"),
    ("yes-sbom-podman", _needs_podman(), ("--yes", *LOCAL_IMG, *PLAT, "--sbom", "--engine",
                                          "podman"), "sbom"),
    # -- build args the engine sets per platform --
    ("build-arg-targetarch-copy", None, (*IMG, *BOTH, *COPY, "--build-arg", "TARGETARCH=arm64"),
     "build-arg"),
    ("build-arg-targetplatform", None,
     (*IMG, *PLAT, "--build-arg", "TARGETPLATFORM=linux/arm64"), "build-arg"),
    ("build-arg-targetos", None, (*IMG, *PLAT, "--build-arg", "TARGETOS=windows"), "build-arg"),
    ("build-arg-targetvariant", None, (*IMG, *PLAT, "--build-arg", "TARGETVARIANT=v7"),
     "build-arg"),
    ("build-arg-buildplatform", None, (*IMG, *PLAT, "--build-arg", "BUILDPLATFORM=linux/amd64"),
     "build-arg"),
    ("build-arg-buildarch-lowercase", None, (*IMG, *PLAT, "--build-arg", "buildarch=arm64"),
     "build-arg"),
    ("yes-build-arg-targetarch", None,
     ("--yes", *LOCAL_IMG, *BOTH, *COPY, "--build-arg", "TARGETARCH=arm64"), "build-arg"),
    # -- --login HOST=USER --password-stdin: a run's own login, refused before stdin is read --
    ("password-stdin-without-login", None, (*IMG, *PLAT, "--password-stdin"), "password-stdin"),
    ("login-without-password-stdin", None, (*IMG, *PLAT, "--login", "ghcr.io=ci-bot"), "login"),
    ("login-not-host-user", None, (*IMG, *PLAT, "--login", "ghcr.io", "--password-stdin"),
     "login"),
    ("login-empty-user", None, (*IMG, *PLAT, "--login", "ghcr.io=", "--password-stdin"), "login"),
    ("login-user-with-colon", None, (*IMG, *PLAT, "--login", "ghcr.io=a:b", "--password-stdin"),
     "login"),
    ("login-bad-host", None, (*IMG, *PLAT, "--login", "bad host=ci", "--password-stdin"),
     "login"),
    ("login-twice", None, (*IMG, *PLAT, "--login", "ghcr.io=a", "--login", "ghcr.io=b",
                           "--password-stdin"), "login"),
    ("login-not-pushed-to", None, (*IMG, *PLAT, "--login", "quay.io=ci-bot",
                                   "--password-stdin"), "login"),
    ("yes-login-not-pushed-to", None, ("--yes", *LOCAL_IMG, *PLAT, "--login", "ghcr.io=ci-bot",
                                       "--password-stdin"), "login"),
    # -- every dockyard.toml key is refused at least once --
    ("config-binary-dotdot", _untracked_ok(_toml('mode = "copy"\nbinary = "../dist/{arch}/app"\n')),
     (*IMG, *PLAT), "config"),
    ("config-binary-absolute", _untracked_ok(_toml('binary = "/opt/{arch}/app"\n')),
     (*IMG, *PLAT), "config"),
    ("config-binary-empty", _untracked_ok(_toml('binary = ""\n')), (*IMG, *PLAT), "config"),
    ("config-dockerfile-outside", _untracked_ok(_toml('dockerfile = "../Dockerfile"\n')),
     (*IMG, *PLAT), "config"),
    ("config-context-outside", _untracked_ok(_toml('context = "/etc"\n')), (*IMG, *PLAT),
     "config"),
    ("config-engine-unknown", _untracked_ok(_toml('engine = "kaniko"\n')), (*IMG, *PLAT),
     "config"),
    ("config-platforms-empty-string", _untracked_ok(_toml('platforms = [""]\n')), IMG, "config"),
    ("config-images-not-list", _untracked_ok(_toml('images = "ghcr.io/acme/app"\n')), PLAT,
     "config"),
    ("config-tags-not-table", _untracked_ok(_toml("tags = 1\n")), (*IMG, *PLAT), "config"),
    ("config-tags-version-off", _untracked_ok(_toml("[tags]\nversion = false\n")), (*IMG, *PLAT),
     "config"),
    ("config-tags-minor", _untracked_ok(_toml('[tags]\nminor = "yes"\n')), (*IMG, *PLAT),
     "config"),
    ("config-tags-major", _untracked_ok(_toml("[tags]\nmajor = 1\n")), (*IMG, *PLAT), "config"),
    ("config-tags-latest", _untracked_ok(_toml('[tags]\nlatest = "true"\n')), (*IMG, *PLAT),
     "config"),
    ("config-tags-git-tag", _untracked_ok(_toml("[tags]\ngit_tag = []\n")), (*IMG, *PLAT),
     "config"),
    ("config-tags-sha", _untracked_ok(_toml("[tags]\nsha = 0\n")), (*IMG, *PLAT), "config"),
    ("config-ci-not-a-table", _untracked_ok(_toml('ci = "github"\n')), (*IMG, *PLAT),
     "config"),
    ("config-tags-unknown", _untracked_ok(_toml("[tags]\nfloating = true\n")), (*IMG, *PLAT),
     "config"),
]


@pytest.mark.parametrize(("setup", "argv", "field"), [case[1:] for case in BAD],
                         ids=[case[0] for case in BAD])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    setup: Callable[[Path], object] | None, argv: tuple[str, ...], field: str,
) -> None:
    project = make_project(tmp_path / "app", "v1.2.3")
    env = setup(project) if setup is not None else None
    for name, value in (env if isinstance(env, dict) else {}).items():
        monkeypatch.setenv(name, value)
    args = [a.replace("{project}", str(project)).replace("{tmp}", str(tmp_path)) for a in argv]
    what = [] if "--yes" in args else ["--dry-run"]
    before = snapshot(tmp_path)
    code, out, err = run_cli(capsys, "release", *what, "--json", "--repo", str(project), *args)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith(f"error: {field}: "), err
    if field == "config":
        assert err.startswith("error: config: dockyard.toml:"), err  # file and line
    assert "Traceback" not in err
    assert snapshot(tmp_path) == before


def test_the_refusal_table_covers_every_flag_and_config_key() -> None:
    """Issue 9: each release flag and each dockyard.toml key has at least one refusal case."""
    from core.config import KEYS, TAG_KEYS
    from tui.cli import build_parser

    release = next(
        action.choices["release"] for action in build_parser()._actions
        if getattr(action, "choices", None) and "release" in action.choices
    )
    flags = {option for action in release._actions for option in action.option_strings
             if option.startswith("--") and option not in ("--help",)}
    used = " ".join(" ".join(case[2]) for case in BAD)
    assert {f for f in flags if not f.startswith("--no-") and f not in used} == set()
    ids = " ".join(case[0] for case in BAD)
    keys = [k.replace("_", "-") for k in (*KEYS, *TAG_KEYS)]
    assert [k for k in keys if f"-{k}" not in ids and f"config-{k}" not in ids] == []


def test_no_git_in_a_real_process(project: Path) -> None:
    """Without git GitPython fails at import time; the user still gets one line."""
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli", "release", "--dry-run", "--repo", str(project), *IMG,
         *PLAT], capture_output=True, text=True, env={**os.environ, "PATH": "/nonexistent"},
        cwd=Path(__file__).resolve().parents[2],
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("error: repo: git is not installed"), done.stderr
    assert done.stderr.count("\n") == 1


def test_an_internal_error_is_one_line_without_its_message(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last line of defence: a bug still gives one line, and not the exception's text."""
    import core.plan

    def broken(request: object, **_: object) -> object:
        raise RuntimeError("secret-token-123")

    monkeypatch.setattr(core.plan, "make_plan", broken)
    code, out, err = run_cli(capsys, "release", "--dry-run", "--repo", str(project), *IMG, *PLAT)
    assert (code, out) == (70, "")
    assert err.startswith("error: dockyard: internal error (RuntimeError at ")
    assert err.count("\n") == 1 and "secret-token" not in err


def test_not_a_git_repo_and_missing_dir(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "plain").mkdir()
    for repo in (tmp_path / "plain", tmp_path / "missing"):
        code, out, err = run_cli(capsys, "release", "--dry-run", "--repo", str(repo), *IMG, *PLAT)
        assert (code, out) == (2, "")
        assert err.startswith("error: repo: ") and err.count("\n") == 1, err


def test_usage_errors_are_one_line_in_a_real_process(tmp_path: Path) -> None:
    """Through the installed entry point: argparse faults follow the same one-line rule."""
    for argv in (["release"], ["release", "--dry-run", "--engine", "kaniko"], ["nosuch"]):
        done = subprocess.run([sys.executable, "-m", "tui.cli", *argv], capture_output=True,
                              text=True, cwd=tmp_path)
        assert done.returncode == 2
        assert done.stdout == ""
        assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr


def test_engine_from_config_and_flag_picks_the_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (scripts/test installs it)")
    cases = (('engine = "podman"\n', ()), ('engine = "buildx"\n', ("--engine", "podman")))
    for toml, flag in cases:
        project = make_project(tmp_path / f"app{len(flag)}", "v1.0.0", toml=toml)
        code, out, err = run_cli(capsys, "release", "--dry-run", "--json", "--repo",
                                 str(project), *IMG, *PLAT, *flag)
        assert (code, err) == (0, "")
        plan = json.loads(out)
        assert plan["engine"] == "podman"
        assert all(step[0] in ("podman", "registry-upload", "registry-put-manifest")
                   for step in plan["steps"])
        assert any("build" in step for step in plan["steps"])


def test_an_unusable_engine_asked_for_by_name_is_refused(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if subprocess.run(["docker", "buildx", "version"], capture_output=True).returncode == 0:
        pytest.skip("docker buildx works on this machine")
    code, out, err = run_cli(capsys, "release", "--dry-run", "--repo", str(project), *IMG, *PLAT,
                             "--engine", "buildx")
    assert (code, out) == (2, "")
    assert err.startswith("error: engine: docker buildx is not usable") and err.count("\n") == 1


def test_a_builder_means_buildx(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--builder picks buildx even when the engine is left to auto; where buildx is missing
    the dry run says so instead of showing podman commands that would ignore the builder."""
    buildx = subprocess.run(["docker", "buildx", "version"], capture_output=True).returncode == 0
    code, out, err = run_cli(capsys, "release", "--dry-run", "--json", "--repo", str(project),
                             *IMG, *PLAT, "--builder", "ci-arm")
    if buildx:
        plan = json.loads(out)
        assert (plan["engine"], plan["builder"]) == ("buildx", "ci-arm")
        buildx_steps = [step for step in plan["steps"] if step[:2] == ["docker", "buildx"]]
        assert buildx_steps and all("--builder" in step for step in buildx_steps)
    else:
        assert (code, out) == (2, "")
        assert err.startswith("error: engine: docker buildx is not usable") and err.count("\n") == 1


def test_the_plan_carries_the_builder_and_says_so(project: Path) -> None:
    from core.plan import PlanRequest, make_plan
    from core.rendering import plan_text

    plan = make_plan(PlanRequest(root=project, images=("ghcr.io/acme/app",),
                                 platforms=("linux/amd64",), builder="ci-arm"))
    assert (plan.engine, plan.builder) == ("buildx", "ci-arm")
    assert plan.to_dict()["builder"] == "ci-arm"
    assert "Builder: ci-arm (docker buildx)\n" in plan_text(plan, [])
    unset = make_plan(PlanRequest(root=project, images=("ghcr.io/acme/app",),
                                  platforms=("linux/amd64",)))
    assert unset.builder is None and "Builder" not in plan_text(unset, [])


def test_requests_built_without_the_cli_are_checked_too(project: Path) -> None:
    """The assistant builds PlanRequests itself: reserved build args and empty values are
    refused by make_plan, not only by the CLI's parsing."""
    from core.errors import DockyardError
    from core.plan import BuildOptions, PlanRequest, make_plan

    base = PlanRequest(root=project, images=("ghcr.io/acme/app",), platforms=("linux/amd64",))
    for changed, field in (
        ({"build": BuildOptions(build_args=(("TARGETARCH", "arm64"),))}, "build-arg"),
        ({"build": BuildOptions(build_args=(("1X", "y"),))}, "build-arg"),
        ({"binary": ""}, "binary"),
        ({"context": " "}, "context"),
        ({"build": BuildOptions(target="nosuch")}, "target"),
    ):
        with pytest.raises(DockyardError) as caught:
            make_plan(dataclasses.replace(base, **changed))
        assert caught.value.field == field, caught.value


def test_target_names_a_stage_case_insensitively(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    dockerfile = ("FROM --platform=$BUILDPLATFORM golang:1.22 AS Build\nRUN true\n"
                  "FROM scratch AS final\nCOPY --from=build /x /x\n")
    project = make_project(tmp_path / "app", "v1.2.3", dockerfile=dockerfile)
    for target in ("build", "BUILD", "final"):
        code, _, err = run_cli(capsys, "release", "--dry-run", "--json", "--repo", str(project),
                               *IMG, *PLAT, "--target", target)
        assert (code, err) == (0, "")
    code, _, err = run_cli(capsys, "release", "--dry-run", "--repo", str(project), *IMG, *PLAT,
                           "--target", "test")
    assert code == 2 and err == "error: target: 'test' is not a stage of Dockerfile; stages: " \
        "build, final\n"


def test_binary_paths_inside_the_project_may_be_spelled_any_way(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Absolute, with ``..`` or through a symlink to the project: accepted, shown relative."""
    project = make_project(tmp_path / "app", "v1.2.3")
    (tmp_path / "alias").symlink_to(project)
    templates = (f"{project}/dist/{{arch}}/app", "dist/../dist/{arch}/app",
                 f"{tmp_path}/../{tmp_path.name}/app/dist/{{arch}}/app",
                 f"{tmp_path}/alias/dist/{{arch}}/app")
    for template in templates:
        code, out, err = run_cli(capsys, "release", "--dry-run", "--repo", str(project), *IMG,
                                 *PLAT, "--binary", template)
        assert (code, err) == (0, ""), template
        assert "  linux/amd64: dist/amd64/app (x86-64, static)\n" in out


def test_a_dry_run_says_in_one_line_when_the_registry_cannot_be_read(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing listens on 127.0.0.1:9: one attempt, then the plan with a note (exit 0)."""
    image = "127.0.0.1:9/acme/app"
    code = main(["release", "--dry-run", "--repo", str(project), "--image", image, *PLAT])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    notes = [line for line in out.splitlines() if line.startswith("note: ")]
    assert len(notes) == 1
    assert notes[0].startswith(f"note: {image}: registry not read, aliases judged by the "
                               "checkout's tags only (registry: 127.0.0.1:9")
    code = main(["release", "--dry-run", "--json", "--no-registry", "--repo", str(project),
                 "--image", image, *PLAT])
    plan = json.loads(capsys.readouterr().out)
    assert plan["notes"] == ["registry not read (--no-registry): aliases judged by the "
                             "checkout's tags alone"]
