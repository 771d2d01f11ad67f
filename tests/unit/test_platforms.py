"""Platform strings: containerd's conformance vectors plus dockyard's own stricter rules."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from core.errors import PlatformError
from core.platforms import (
    KNOWN_PLATFORMS,
    ElfTarget,
    Platform,
    can_run,
    is_attestation,
    normalize_platform,
    parse_platform,
    parse_platforms,
)

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "vectors" / "vectors-platforms.json"


def _group(name: str) -> list[Any]:
    """Vector cases as pytest params; one skipped param when ../shared is absent (see conftest)."""
    if not VECTORS.is_file():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{VECTORS} not found"))]
    cases = json.loads(VECTORS.read_text())[name]
    return [pytest.param(case, id=_case_id(case)) for case in cases]


def _case_id(case: dict[str, Any]) -> str:
    return str(case.get("input", case.get("host", f"{case.get('arch')}/{case.get('variant')}")))


# Where dockyard's canonical form deliberately differs from containerd's Format(Parse(x)).
DOCKYARD_FORMAT = {
    # buildx and registry indexes write arm64 without a variant; containerd's matcher already
    # treats arm64/v8 == arm64, so dockyard stores one spelling and compares plainly.
    "linux/arm64/v8": ("linux/arm64", "arm64/v8 is the same platform as arm64"),
    # containerd leaves the variant blank but every consumer assumes v7 (its own matcher does);
    # buildx passes TARGETVARIANT=v7 and indexes list arm/v7, so dockyard writes it out.
    "linux/arm": ("linux/arm/v7", "plain arm means ARMv7"),
}


@pytest.mark.parametrize("case", _group("parse"))
def test_parse_vectors(case: dict[str, Any]) -> None:
    expected = case["expected"]
    if case.get("runtime_dependent"):
        # containerd fills the missing part from the host; dockyard refuses, because a release
        # must not depend on the machine it is cut on. The hint must name the intended platform.
        with pytest.raises(PlatformError) as caught:
            parse_platform(case["input"])
        message = str(caught.value)
        if "{defaultOS}" in expected["os"]:
            assert "has no operating system" in message
            hint = re.search(r"write it as (\S+)$", message)
            assert hint is not None, message
            assert parse_platform(hint.group(1)) == normalize_platform(
                "linux", expected["architecture"], expected["variant"]
            )
        else:
            assert "has no architecture" in message
            assert f"write it as {expected['os']}/amd64" in message
        return
    platform = parse_platform(case["input"])
    formatted, _why = DOCKYARD_FORMAT.get(case["input"], (case["formatted"], ""))
    assert str(platform) == formatted
    assert platform.os == expected["os"]
    assert platform.arch == expected["architecture"]
    if case["input"] not in DOCKYARD_FORMAT:
        assert platform.variant == expected["variant"]
    for equivalent in case.get("matcher_equivalent", []):
        assert parse_platform(equivalent) == platform, equivalent


@pytest.mark.parametrize("case", _group("invalid"))
def test_invalid_vectors(case: dict[str, Any]) -> None:
    with pytest.raises(PlatformError) as caught:
        parse_platform(case["input"])
    message = str(caught.value)
    assert message.startswith("platform: ")
    assert "\n" not in message


@pytest.mark.parametrize("case", _group("normalize_arch"))
def test_normalize_arch_vectors(case: dict[str, Any]) -> None:
    platform = normalize_platform("linux", case["arch"], case["variant"])
    assert [platform.arch, platform.variant] == case["expected"]
    # What a user types normalises the same way as what a registry lists.
    typed = "/".join(part for part in ("linux", case["arch"], case["variant"]) if part)
    assert parse_platform(typed) == platform


@pytest.mark.parametrize("case", _group("only"))
def test_only_vectors(case: dict[str, Any]) -> None:
    host = parse_platform(case["host"])
    for target, expected in case["can_run"].items():
        assert can_run(host, parse_platform(target)) is expected, target


def test_bare_architecture_is_refused_with_a_hint() -> None:
    with pytest.raises(PlatformError) as caught:
        parse_platform("arm64")
    assert str(caught.value) == (
        "platform: 'arm64' has no operating system; write it as linux/arm64"
    )


def test_unknown_architecture_lists_known_ones() -> None:
    with pytest.raises(PlatformError) as caught:
        parse_platform("linux/x86")
    message = str(caught.value)
    assert message.startswith("platform: 'x86' is not a known architecture; use one of: ")
    for arch in ("amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64", "mips64le"):
        assert arch in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("linux/x86_64", "linux/amd64"),
        ("linux/x86-64", "linux/amd64"),
        ("linux/AMD64", "linux/amd64"),
        ("linux/amd64/v1", "linux/amd64"),
        ("linux/amd64/v2", "linux/amd64/v2"),
        ("linux/amd64/v4", "linux/amd64/v4"),
        ("linux/aarch64", "linux/arm64"),
        ("linux/arm64/v8", "linux/arm64"),
        ("linux/arm64/v9", "linux/arm64/v9"),
        ("linux/armhf", "linux/arm/v7"),
        ("linux/armel", "linux/arm/v6"),
        ("linux/arm", "linux/arm/v7"),
        ("linux/arm/5", "linux/arm/v5"),
        ("linux/i386", "linux/386"),
        ("linux/i686", "linux/386"),
        ("linux/ppc64le", "linux/ppc64le"),
        ("linux/s390x", "linux/s390x"),
        ("linux/riscv64", "linux/riscv64"),
        ("linux/mips64le", "linux/mips64le"),
        ("macos/arm64", "darwin/arm64"),
        ("Windows/AMD64", "windows/amd64"),
        ("  linux/arm64 ", "linux/arm64"),
    ],
)
def test_aliases_normalise(text: str, expected: str) -> None:
    assert str(parse_platform(text)) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("linux/arm/v9", "'v9' is not a variant of arm; variants of arm: v5, v6, v7, v8"),
        ("linux/386/v2", "'v2' is not a variant of 386; variants of 386: none"),
        ("linux/amd64/v5", "'v5' is not a variant of amd64"),
        ("plan10/amd64", "'plan10' is not a known operating system; use one of: linux, windows"),
        ("linux", "'linux' has no architecture; write it as linux/amd64 or linux/arm64"),
        ("armhf", "'armhf' has no operating system; write it as linux/arm/v7"),
        ("x86", "'x86' is not a platform; write os/arch, e.g. linux/amd64; known architectures"),
        ("windows(10.0)/amd64", "contains 'windows(10.0)'"),
        ("linux/arm/v7/x", "has too many parts"),
        ("linux//arm", "has an empty part"),
    ],
)
def test_bad_platforms_explain(text: str, problem: str) -> None:
    with pytest.raises(PlatformError) as caught:
        parse_platform(text)
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    ("text", "goarch", "goarm", "variant", "gnu", "musl"),
    [
        ("linux/amd64", "amd64", "", "", "x86_64-unknown-linux-gnu", "x86_64-unknown-linux-musl"),
        (
            "linux/amd64/v3",
            "amd64",
            "",
            "v3",
            "x86_64-unknown-linux-gnu",
            "x86_64-unknown-linux-musl",
        ),
        ("linux/arm64", "arm64", "", "", "aarch64-unknown-linux-gnu", "aarch64-unknown-linux-musl"),
        (
            "linux/arm/v7",
            "arm",
            "7",
            "v7",
            "armv7-unknown-linux-gnueabihf",
            "armv7-unknown-linux-musleabihf",
        ),
        # ARMv6 images in practice are hard-float (Alpine arm32v6, Go GOARM=6, Raspberry Pi 1).
        (
            "linux/arm/v6",
            "arm",
            "6",
            "v6",
            "arm-unknown-linux-gnueabihf",
            "arm-unknown-linux-musleabihf",
        ),
        (
            "linux/arm/v5",
            "arm",
            "5",
            "v5",
            "armv5te-unknown-linux-gnueabi",
            "armv5te-unknown-linux-musleabi",
        ),
        ("linux/386", "386", "", "", "i686-unknown-linux-gnu", "i686-unknown-linux-musl"),
        (
            "linux/ppc64le",
            "ppc64le",
            "",
            "",
            "powerpc64le-unknown-linux-gnu",
            "powerpc64le-unknown-linux-musl",
        ),
        ("linux/s390x", "s390x", "", "", "s390x-unknown-linux-gnu", "s390x-unknown-linux-musl"),
        (
            "linux/riscv64",
            "riscv64",
            "",
            "",
            "riscv64gc-unknown-linux-gnu",
            "riscv64gc-unknown-linux-musl",
        ),
        (
            "linux/mips64le",
            "mips64le",
            "",
            "",
            "mips64el-unknown-linux-gnuabi64",
            "mips64el-unknown-linux-muslabi64",
        ),
    ],
)
def test_toolchain_names(
    text: str, goarch: str, goarm: str, variant: str, gnu: str, musl: str
) -> None:
    platform = parse_platform(text)
    assert platform.targetarch == goarch
    assert platform.targetvariant == variant
    assert platform.goarch == goarch
    assert platform.goarm == goarm
    assert platform.rust_triple() == gnu
    assert platform.rust_triple("gnu") == gnu
    assert platform.rust_triple("musl") == musl


def test_goarm_for_armv8_in_32_bit_mode_is_7() -> None:
    assert parse_platform("linux/arm/v8").goarm == "7"


@pytest.mark.parametrize("text", ["linux/arm/v8", "darwin/arm64", "windows/amd64"])
def test_no_rust_triple_is_an_error(text: str) -> None:
    with pytest.raises(PlatformError) as caught:
        parse_platform(text).rust_triple()
    assert "has no Rust target triple" in str(caught.value)
    assert "linux/arm64" in str(caught.value)


def test_unknown_libc_is_refused() -> None:
    with pytest.raises(PlatformError, match="'glibc' is not a libc dockyard knows; use gnu or"):
        parse_platform("linux/amd64").rust_triple("glibc")


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("linux/amd64", ElfTarget("x86-64", 64, "little")),
        ("linux/arm64", ElfTarget("aarch64", 64, "little")),
        ("linux/arm/v6", ElfTarget("arm", 32, "little")),
        ("linux/386", ElfTarget("i386", 32, "little")),
        ("linux/ppc64le", ElfTarget("ppc64", 64, "little")),
        ("linux/s390x", ElfTarget("s390", 64, "big")),
        ("linux/riscv64", ElfTarget("riscv", 64, "little")),
        ("linux/mips64le", ElfTarget("mips", 64, "little")),
        ("freebsd/amd64", ElfTarget("x86-64", 64, "little")),
        ("windows/amd64", None),
        ("darwin/arm64", None),
    ],
)
def test_elf_target(text: str, target: ElfTarget | None) -> None:
    assert parse_platform(text).elf_target == target


def test_parse_platforms_splits_dedups_and_keeps_order() -> None:
    parsed = parse_platforms(
        ["linux/arm64, linux/amd64", "linux/aarch64", "linux/arm/v7,linux/arm"]
    )
    assert [str(p) for p in parsed] == ["linux/arm64", "linux/amd64", "linux/arm/v7"]


@pytest.mark.parametrize("items", [["linux/amd64,"], ["linux/amd64,,linux/arm64"], [""]])
def test_parse_platforms_refuses_empty_entries(items: list[str]) -> None:
    with pytest.raises(PlatformError, match="has an empty entry"):
        parse_platforms(items)


def test_parse_platforms_reports_the_bad_item() -> None:
    with pytest.raises(PlatformError, match="'arm64' has no operating system"):
        parse_platforms(["linux/amd64,arm64"])


def test_normalize_platform_keeps_what_a_registry_lists() -> None:
    assert normalize_platform("linux", "arm64", "v8") == Platform("linux", "arm64")
    assert normalize_platform("Linux", "ARM", "") == Platform("linux", "arm", "v7")
    # Registry entries are facts: unknown names pass through rather than failing verification.
    assert normalize_platform("linux", "loong64") == Platform("linux", "loong64")
    assert normalize_platform("unknown", "unknown") == Platform("unknown", "unknown")


def test_attestation_entries() -> None:
    assert is_attestation("unknown", "unknown")
    assert not is_attestation("linux", "unknown")
    assert not is_attestation("unknown", "amd64")


def test_known_platforms_round_trip() -> None:
    assert len(set(KNOWN_PLATFORMS)) == len(KNOWN_PLATFORMS)
    for platform in KNOWN_PLATFORMS:
        assert parse_platform(str(platform)) == platform
        assert platform.elf_target is not None
        assert platform.rust_triple("musl").endswith(("musl", "musleabihf", "muslabi64"))


def test_platforms_sort_and_print() -> None:
    platforms = sorted([Platform("linux", "arm", "v7"), Platform("linux", "amd64")])
    assert [str(p) for p in platforms] == ["linux/amd64", "linux/arm/v7"]
