"""``dockyard release --dry-run`` end to end on real git repos: the plan, and every refusal."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.elf import write_elf
from tests.support.gitrepo import add_bare_remote, git, make_repo
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
    code = main(list(argv))
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


def _untracked_ok(setup: Callable[[Path], None]) -> Callable[[Path], None]:
    """Files the case adds are committed, so the only fault is the one under test."""
    def apply(p: Path) -> None:
        setup(p)
        git(p, "add", "-A")
        git(p, "commit", "-q", "-m", "case setup")
        git(p, "tag", "-f", "-a", "v1.2.3", "-m", "moved")
    return apply


LONG_PATH = "ghcr.io/" + "/".join(["abcdefghij"] * 24)  # 263 characters of path
DIGEST = "sha256:" + "a" * 64

# (id, setup, extra argv, expected field)
BAD: list[tuple[str, Callable[[Path], None] | None, tuple[str, ...], str]] = [
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
]


@pytest.mark.parametrize(("setup", "argv", "field"), [case[1:] for case in BAD],
                         ids=[case[0] for case in BAD])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
    setup: Callable[[Path], None] | None, argv: tuple[str, ...], field: str,
) -> None:
    project = make_project(tmp_path / "app", "v1.2.3")
    if setup is not None:
        setup(project)
    before = snapshot(tmp_path)
    code, out, err = run_cli(capsys, "release", "--dry-run", "--json", "--repo", str(project),
                             *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith(f"error: {field}: "), err
    if field == "config":
        assert err.startswith("error: config: dockyard.toml:"), err  # file and line
    assert "Traceback" not in err
    assert snapshot(tmp_path) == before


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
