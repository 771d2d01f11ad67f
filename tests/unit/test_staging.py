"""Copy mode's layout and staged context: the dry run shows and refuses, the staged directory
holds what the engine must see, and the project's tree is never written."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from core.binaries import require_binaries
from core.errors import DockerfileError
from core.platforms import parse_platforms
from core.staging import build_context, copy_layout, ignore_rules, is_ignored
from tests.support.elf import write_elf
from tests.support.gitrepo import git, make_repo
from tests.support.registry import RunningRegistry
from tui.cli import main

RUST_DOCKERFILE = (
    "FROM scratch\nARG TARGETARCH\nARG TARGETVARIANT\n"
    "COPY target/${TARGETARCH}${TARGETVARIANT}/app /app\n"
)
TRIPLES = {"x86-64": "x86_64-unknown-linux-gnu", "aarch64": "aarch64-unknown-linux-gnu",
           "arm": "armv7-unknown-linux-gnueabihf"}


def rust_project(path: Path, dockerfile: str = RUST_DOCKERFILE, *,
                 interpreter: str | None = None, v6: bool = False) -> Path:
    """A tagged git repo with binaries where cargo puts them (static unless ``interpreter``)."""
    make_repo(path)
    (path / "Dockerfile").write_text(dockerfile)
    for machine, triple in TRIPLES.items():
        write_elf(path / "target" / triple / "release" / "app", machine,
                  bits=32 if machine == "arm" else 64, interpreter=interpreter)
    if v6:
        elf = write_elf(path / "target/arm-unknown-linux-gnueabihf/release/app", "arm", bits=32)
        elf.write_bytes(elf.read_bytes() + b"v6")  # its own bytes, as a real v6 build has
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "project")
    git(path, "tag", "-a", "v1.0.0", "-m", "v1.0.0")
    return path


@pytest.fixture
def dry_run(registry: RunningRegistry, capsys: pytest.CaptureFixture[str]
            ) -> Callable[..., tuple[int, str, str]]:
    """``dockyard release --dry-run`` of a Rust-layout project; the dry run reads the real
    test registry (on loopback) the way a release would."""

    def run(root: Path, *extra: str, platforms: str = "linux/amd64,linux/arm64,linux/arm/v7"
            ) -> tuple[int, str, str]:
        return _dry_run(capsys, registry.host, root, *extra, platforms=platforms)

    return run


def _dry_run(capsys: pytest.CaptureFixture[str], host: str, root: Path, *extra: str,
             platforms: str) -> tuple[int, str, str]:
    code = main(["release", "--dry-run", "--repo", str(root), "--image",
                 f"{host}/acme/staged", "--platform", platforms, "--mode", "copy",
                 "--binary", "target/{triple}/release/app", "--engine", "podman", *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_dry_run_shows_binary_path_in_context_and_copy_line(
    tmp_path: Path, dry_run: Callable[..., tuple[int, str, str]]
) -> None:
    root = rust_project(tmp_path / "app")
    code, out, err = dry_run(root)
    assert code == 0, err
    line = "COPY target/${TARGETARCH}${TARGETVARIANT}/app /app"
    assert f"  linux/arm/v7: target/armv7-unknown-linux-gnueabihf/release/app → " \
        f"target/armv7/app → Dockerfile:4 {line}" in out
    assert "  linux/amd64: target/x86_64-unknown-linux-gnu/release/app → target/amd64/app" in out
    code, out, err = dry_run(root, "--json")
    assert code == 0, err
    layout = json.loads(out)["layout"]
    assert layout[1] == {"platform": "linux/arm64",
                         "binary": "target/aarch64-unknown-linux-gnu/release/app",
                         "path": "target/arm64/app", "copy": f"Dockerfile:4 {line}",
                         "staged": True}


@pytest.mark.parametrize(("dockerfile", "extra", "problem"), [
    (  # the report: arm/v6 and arm/v7 both expand to target/arm/app
        "FROM scratch\nARG TARGETARCH\nCOPY target/${TARGETARCH}/app /app\n", {"v6": True},
        "error: dockerfile: Dockerfile:3 COPY target/${TARGETARCH}/app /app: target/arm/app "
        "would need two different binaries, target/armv7-unknown-linux-gnueabihf/release/app "
        "for linux/arm/v7 and target/arm-unknown-linux-gnueabihf/release/app for linux/arm/v6; "
        "tell them apart with ${TARGETVARIANT}",
    ),
    (  # a second platform path nothing fills
        RUST_DOCKERFILE + "COPY conf/${TARGETARCH}.toml /etc/app.toml\n", {},
        "error: dockerfile: Dockerfile:5 COPY conf/${TARGETARCH}.toml /etc/app.toml: "
        "conf/amd64.toml for linux/amd64 is filled by no binary and no file of the context",
    ),
    (  # dynamically linked (Rust *-linux-gnu without crt-static) into FROM scratch
        RUST_DOCKERFILE, {"interpreter": "/lib/ld-linux-x86-64.so.2"},
        "error: binary: target/x86_64-unknown-linux-gnu/release/app is dynamically linked "
        "(interpreter /lib/ld-linux-x86-64.so.2) but Dockerfile:4 COPY "
        "target/${TARGETARCH}${TARGETVARIANT}/app /app copies it into a FROM scratch stage",
    ),
    (  # FROM scratch reached through a base stage
        "FROM scratch AS base\nFROM base\nARG TARGETARCH\nCOPY x/${TARGETARCH}/app /app\n",
        {"interpreter": "/lib/ld-linux-aarch64.so.1"}, "into a FROM scratch stage",
    ),
    (  # only an unused stage copies by platform
        "FROM scratch AS unused\nARG TARGETARCH\nCOPY x/${TARGETARCH}/app /app\n"
        "FROM scratch\nARG TARGETARCH\nCOPY Dockerfile /${TARGETARCH}\n", {},
        "no COPY or ADD source depends on the platform, so linux/amd64 would not get its own",
    ),
])
def test_dry_run_refusals(
    tmp_path: Path, dry_run: Callable[..., tuple[int, str, str]], dockerfile: str,
    extra: dict[str, object], problem: str,
) -> None:
    root = rust_project(tmp_path / "app", dockerfile, **extra)  # type: ignore[arg-type]
    platforms = "linux/amd64,linux/arm64,linux/arm/v7" + (",linux/arm/v6" if extra.get("v6")
                                                          else "")
    code, out, err = dry_run(root, platforms=platforms)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and problem in err and err.count("\n") == 1, err


def test_a_dynamic_binary_into_a_libc_base_is_fine(
    tmp_path: Path, dry_run: Callable[..., tuple[int, str, str]]
) -> None:
    root = rust_project(tmp_path / "app", RUST_DOCKERFILE.replace("scratch", "debian:12-slim"),
                        interpreter="/lib/ld-linux.so.2")
    assert dry_run(root)[0] == 0


def test_layout_prefers_the_binary_in_place_and_context_files(tmp_path: Path) -> None:
    """A source that is the binary's own path is not staged; another platform path that a file
    of the context fills is shown as such."""
    context = tmp_path
    write_elf(context / "dist/amd64/app", "x86-64")
    write_elf(context / "dist/arm64/app", "aarch64")
    for arch in ("amd64", "arm64"):
        (context / "conf" / f"{arch}.toml").parent.mkdir(exist_ok=True)
        (context / "conf" / f"{arch}.toml").write_text(arch)
    dockerfile = context / "Dockerfile"
    dockerfile.write_text("FROM scratch\nARG TARGETARCH\nCOPY conf/${TARGETARCH}.toml /etc/\n"
                          "COPY dist/${TARGETARCH}/* /bin/\n")
    platforms = parse_platforms(["linux/amd64", "linux/arm64"])
    checks = require_binaries(context, "dist/{arch}/app", platforms)
    layout = copy_layout(dockerfile, context, checks)
    assert [(str(p.platform), p.binary is not None, p.path, p.at, p.staged) for p in layout] == [
        ("linux/amd64", False, "conf/amd64.toml", "", False),
        ("linux/amd64", True, "dist/amd64/*", "dist/amd64/app", False),
        ("linux/arm64", False, "conf/arm64.toml", "", False),
        ("linux/arm64", True, "dist/arm64/*", "dist/arm64/app", False),
    ]


def test_an_ignored_binary_in_place_is_still_sent_but_an_ignored_file_fills_nothing(
    tmp_path: Path,
) -> None:
    context = tmp_path / "project"
    write_elf(context / "dist/amd64/app", "x86-64")
    write_elf(context / "dist/arm64/app", "aarch64")
    (context / "conf").mkdir()
    (context / "conf/amd64.toml").write_text("ignored")
    (context / ".dockerignore").write_text("dist\nconf\n")
    dockerfile = context / "Dockerfile"
    dockerfile.write_text("FROM scratch\nARG TARGETARCH\nCOPY dist/${TARGETARCH}/app /app\n")
    checks = require_binaries(context, "dist/{arch}/app",
                              parse_platforms(["linux/amd64", "linux/arm64"]))
    layout = copy_layout(dockerfile, context, checks)
    build_context(context, dockerfile, layout, tmp_path / "staged")
    assert sorted(str(p.relative_to(tmp_path / "staged"))
                  for p in (tmp_path / "staged").rglob("*") if p.is_file()) == [
        "Dockerfile", "dist/amd64/app", "dist/arm64/app"]
    dockerfile.write_text(dockerfile.read_text() + "COPY conf/${TARGETARCH}.toml /etc/\n")
    with pytest.raises(DockerfileError, match=r"conf/amd64.toml for linux/amd64 is filled by no"):
        copy_layout(dockerfile, context, checks)


@pytest.mark.parametrize(("pattern", "path", "ignored"), [
    ("target", "target/x/app", True),
    ("target/", "target/x/app", True),
    ("/target", "src/target", False),
    ("*.log", "a.log", True),
    ("*.log", "sub/a.log", False),
    ("**/*.log", "sub/deep/a.log", True),
    ("docs/**", "docs/a/b", True),
    ("?.txt", "a.txt", True),
    ("[a-c].txt", "d.txt", False),
])
def test_ignore_patterns(tmp_path: Path, pattern: str, path: str, ignored: bool) -> None:
    (tmp_path / ".dockerignore").write_text(f"# comment\n\n{pattern}\n")
    assert is_ignored(ignore_rules(tmp_path, tmp_path / "Dockerfile"), path) is ignored


def test_staged_context_honours_ignore_files_but_never_drops_a_staged_binary(
    tmp_path: Path,
) -> None:
    root = rust_project(tmp_path / "app")
    (root / ".dockerignore").write_text(".git\ntarget\n*.secret\n!keep.secret\n")
    (root / "a.secret").write_text("no")
    (root / "keep.secret").write_text("yes")
    (root / "data").mkdir()
    (root / "data/real.txt").write_text("real")
    (root / "link.txt").symlink_to("data/real.txt")
    (root / "linked-dir").symlink_to("data")
    (root / "dangling").symlink_to("nowhere")
    (root / "loop").symlink_to(".")
    before = {p: p.lstat().st_mtime_ns for p in root.rglob("*") if ".git" not in p.parts}
    platforms = parse_platforms(["linux/amd64", "linux/arm64", "linux/arm/v7"])
    checks = require_binaries(root, "target/{triple}/release/app", platforms)
    layout = copy_layout(root / "Dockerfile", root, checks)
    staged = tmp_path / "staged"
    build_context(root, root / "Dockerfile", layout, staged)
    files = sorted(str(p.relative_to(staged)) for p in staged.rglob("*") if p.is_file())
    assert files == [
        "Dockerfile", "README", "data/real.txt", "keep.secret", "link.txt",
        "linked-dir/real.txt", "target/amd64/app", "target/arm64/app", "target/armv7/app",
    ]
    assert not any(p.is_symlink() for p in staged.rglob("*"))
    assert (staged / "link.txt").read_text() == "real"
    arm = staged / "target/armv7/app"
    source = root / "target/armv7-unknown-linux-gnueabihf/release/app"
    assert arm.read_bytes() == source.read_bytes()
    if os.stat(staged).st_dev == os.stat(root).st_dev:
        assert arm.stat().st_ino == source.stat().st_ino  # a hard link, no bytes copied
    assert {p: p.lstat().st_mtime_ns for p in root.rglob("*") if ".git" not in p.parts} == before


def test_dockerfile_specific_ignore_file_wins(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("a\n")
    (tmp_path / "build.Dockerfile.dockerignore").write_text("b\n")
    rules = ignore_rules(tmp_path, tmp_path / "build.Dockerfile")
    assert is_ignored(rules, "b") and not is_ignored(rules, "a")
    (tmp_path / ".containerignore").write_text("c\n")
    rules = ignore_rules(tmp_path, tmp_path / "Dockerfile")
    assert is_ignored(rules, "c") and not is_ignored(rules, "a")
