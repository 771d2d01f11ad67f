"""OCI platform strings (``os/arch[/variant]``): parse, normalise, and map to toolchain names.

Normalisation follows containerd's ``normalizeArch`` so that what the user typed and what a
registry index lists compare equal (``aarch64`` == ``arm64`` == ``arm64/v8``, ``armhf`` ==
``arm`` == ``arm/v7``). dockyard differs from containerd on purpose in two places: a bare
architecture or a bare OS is refused instead of filled in from the host (a release must not depend
on the machine it runs on), and the canonical form is written out fully (``linux/arm`` is
``linux/arm/v7``; ``linux/arm64/v8`` is ``linux/arm64``), which is how buildx and registry
indexes spell them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from core.errors import PlatformError

KNOWN_OSES = (
    "linux", "windows", "darwin", "freebsd", "netbsd", "openbsd", "dragonfly", "illumos",
    "solaris", "aix", "android", "ios", "plan9", "js", "wasip1",
)
_OS_ALIASES = {"macos": "darwin"}

# Canonical architecture -> (allowed variants, default variant). "" means "no variant".
_VARIANTS: dict[str, tuple[tuple[str, ...], str]] = {
    "amd64": (("", "v2", "v3", "v4"), ""),
    "arm64": (("", "v9"), ""),
    "arm": (("v5", "v6", "v7", "v8"), "v7"),
    "386": (("",), ""),
    "ppc64le": (("",), ""),
    "s390x": (("",), ""),
    "riscv64": (("",), ""),
    "mips64le": (("",), ""),
}
KNOWN_ARCHES = tuple(_VARIANTS)

# Alias -> (canonical arch, forced variant or None to keep the given one).
_ARCH_ALIASES: dict[str, tuple[str, str | None]] = {
    "x86_64": ("amd64", None),
    "x86-64": ("amd64", None),
    "aarch64": ("arm64", None),
    "armhf": ("arm", "v7"),
    "armel": ("arm", "v6"),
    "i386": ("386", ""),
    "i686": ("386", ""),
}

# Variant spellings seen in the wild, per canonical arch.
_VARIANT_ALIASES: dict[str, dict[str, str]] = {
    "amd64": {"v1": ""},
    "arm64": {"8": "", "v8": "", "v8.0": "", "9": "v9", "9.0": "v9", "v9.0": "v9"},
    "arm": {"5": "v5", "6": "v6", "7": "v7", "8": "v8"},
}

_COMPONENT = re.compile(r"^[A-Za-z0-9_.-]+$")

# (arch, variant) -> (gnu triple, musl triple), Linux only. linux/arm/v6 maps to the hard-float
# ARMv6 targets: that is what linux/arm/v6 images are in practice (Alpine's arm32v6, Go's GOARM=6,
# Raspberry Pi 1/Zero); soft-float ARM userlands publish as linux/arm/v5.
_RUST_TRIPLES: dict[tuple[str, str], tuple[str, str]] = {
    ("amd64", ""): ("x86_64-unknown-linux-gnu", "x86_64-unknown-linux-musl"),
    ("arm64", ""): ("aarch64-unknown-linux-gnu", "aarch64-unknown-linux-musl"),
    ("arm", "v7"): ("armv7-unknown-linux-gnueabihf", "armv7-unknown-linux-musleabihf"),
    ("arm", "v6"): ("arm-unknown-linux-gnueabihf", "arm-unknown-linux-musleabihf"),
    ("arm", "v5"): ("armv5te-unknown-linux-gnueabi", "armv5te-unknown-linux-musleabi"),
    ("386", ""): ("i686-unknown-linux-gnu", "i686-unknown-linux-musl"),
    ("ppc64le", ""): ("powerpc64le-unknown-linux-gnu", "powerpc64le-unknown-linux-musl"),
    ("s390x", ""): ("s390x-unknown-linux-gnu", "s390x-unknown-linux-musl"),
    ("riscv64", ""): ("riscv64gc-unknown-linux-gnu", "riscv64gc-unknown-linux-musl"),
    ("mips64le", ""): ("mips64el-unknown-linux-gnuabi64", "mips64el-unknown-linux-muslabi64"),
}
# amd64 microarchitecture levels and ARMv9 are CPU features, not separate Rust targets.
_RUST_ARCH_ONLY = ("amd64", "arm64")


@dataclass(frozen=True)
class ElfTarget:
    """What an ELF header must say for a binary to run on a platform (names as in ElfInfo)."""

    machine: str
    bits: int
    endian: str

    def __str__(self) -> str:
        return f"{self.bits}-bit {self.endian}-endian {self.machine}"


_ELF_TARGETS = {
    "amd64": ElfTarget("x86-64", 64, "little"),
    "arm64": ElfTarget("aarch64", 64, "little"),
    "arm": ElfTarget("arm", 32, "little"),
    "386": ElfTarget("i386", 32, "little"),
    "ppc64le": ElfTarget("ppc64", 64, "little"),
    "s390x": ElfTarget("s390", 64, "big"),
    "riscv64": ElfTarget("riscv", 64, "little"),
    "mips64le": ElfTarget("mips", 64, "little"),
}
_NOT_ELF_OSES = ("windows", "darwin", "ios", "js", "wasip1", "plan9", "aix")


@dataclass(frozen=True, order=True)
class Platform:
    """One normalised target platform, as buildx and registry indexes write it."""

    os: str
    arch: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(part for part in (self.os, self.arch, self.variant) if part)

    @property
    def targetarch(self) -> str:
        """Docker's ``TARGETARCH`` build arg."""
        return self.arch

    @property
    def targetvariant(self) -> str:
        """Docker's ``TARGETVARIANT`` build arg ("" when the platform has none)."""
        return self.variant

    @property
    def goarch(self) -> str:
        """Go's GOARCH: Go and OCI share architecture names."""
        return self.arch

    @property
    def goarm(self) -> str:
        """Go's GOARM for 32-bit ARM (7 also for ARMv8 in 32-bit mode, Go's highest level)."""
        if self.arch != "arm" or not self.variant:
            return ""
        return str(min(int(self.variant[1:]), 7))

    @property
    def elf_target(self) -> ElfTarget | None:
        """The ELF machine, class and byte order this platform runs; None when it is not ELF."""
        if self.os in _NOT_ELF_OSES:
            return None
        return _ELF_TARGETS.get(self.arch)

    def rust_triple(self, libc: str = "gnu") -> str:
        """The Rust target triple for this platform with glibc (``gnu``) or ``musl``."""
        if libc not in ("gnu", "musl"):
            raise PlatformError(f"{libc!r} is not a libc dockyard knows", "use gnu or musl")
        variant = "" if self.arch in _RUST_ARCH_ONLY else self.variant
        triples = _RUST_TRIPLES.get((self.arch, variant)) if self.os == "linux" else None
        if triples is None:
            raise PlatformError(
                f"{self} has no Rust target triple dockyard knows",
                "triples are known for " + ", ".join(_rust_platforms()),
            )
        return triples[0] if libc == "gnu" else triples[1]


KNOWN_PLATFORMS: tuple[Platform, ...] = (
    Platform("linux", "amd64"),
    Platform("linux", "arm64"),
    Platform("linux", "arm", "v7"),
    Platform("linux", "arm", "v6"),
    Platform("linux", "386"),
    Platform("linux", "ppc64le"),
    Platform("linux", "s390x"),
    Platform("linux", "riscv64"),
    Platform("linux", "mips64le"),
)


def _rust_platforms() -> list[str]:
    return [str(Platform("linux", arch, variant)) for arch, variant in _RUST_TRIPLES]


def _normalize_arch(arch: str, variant: str) -> tuple[str, str]:
    """containerd's alias rules, without validation (unknown names pass through, lowercased)."""
    arch, variant = arch.lower(), variant.lower()
    forced: str | None = None
    if arch in _ARCH_ALIASES:
        arch, forced = _ARCH_ALIASES[arch]
    if forced is not None:
        return arch, forced
    variant = _VARIANT_ALIASES.get(arch, {}).get(variant, variant)
    if arch in _VARIANTS and not variant:
        variant = _VARIANTS[arch][1]
    return arch, variant


def _normalize_os(name: str) -> str:
    name = name.lower()
    return _OS_ALIASES.get(name, name)


def normalize_platform(os: str, arch: str, variant: str = "") -> Platform:
    """Normalise a platform as a registry lists it; never refuses (registries hold facts)."""
    arch, variant = _normalize_arch(arch, variant)
    return Platform(_normalize_os(os), arch, variant)


def is_attestation(os: str, arch: str) -> bool:
    """BuildKit stores provenance/SBOM attestations in the index as ``unknown/unknown``."""
    return os == "unknown" and arch == "unknown"


def _known_arch_list() -> str:
    return "use one of: " + ", ".join(KNOWN_ARCHES)


def _example_arches(os: str) -> str:
    return " or ".join(f"{os}/{arch}" for arch in ("amd64", "arm64"))


def parse_platform(text: str) -> Platform:
    """Parse ``os/arch[/variant]`` strictly: the OS is required and names must be known."""
    raw = text.strip()
    if not raw:
        raise PlatformError("platform is empty", "write os/arch, e.g. linux/amd64")
    if "*" in raw:
        raise PlatformError(f"{raw!r} uses a wildcard", "name each platform, e.g. linux/amd64")
    parts = raw.split("/")
    if len(parts) > 3:
        raise PlatformError(
            f"{raw!r} has too many parts", "write os/arch[/variant], e.g. linux/arm/v7"
        )
    if any(not part for part in parts):
        raise PlatformError(
            f"{raw!r} has an empty part", "write os/arch[/variant] without extra slashes"
        )
    bad = next((part for part in parts if not _COMPONENT.match(part)), None)
    if bad is not None:
        raise PlatformError(
            f"{raw!r} contains {bad!r}",
            "use only letters, digits, '.', '_' and '-' between slashes",
        )
    if len(parts) == 1:
        _refuse_single(parts[0])
    os = _normalize_os(parts[0])
    if os not in KNOWN_OSES:
        raise PlatformError(
            f"{parts[0]!r} is not a known operating system", "use one of: " + ", ".join(KNOWN_OSES)
        )
    given_variant = parts[2] if len(parts) == 3 else ""
    arch, variant = _normalize_arch(parts[1], given_variant)
    if arch not in _VARIANTS:
        raise PlatformError(f"{parts[1]!r} is not a known architecture", _known_arch_list())
    allowed = _VARIANTS[arch][0]
    if variant not in allowed:
        shown = [v for v in allowed if v] or ["none"]
        raise PlatformError(
            f"{given_variant!r} is not a variant of {arch}",
            f"variants of {arch}: " + ", ".join(shown),
        )
    return Platform(os, arch, variant)


def _refuse_single(word: str) -> None:
    """One word is either an OS without an arch or an arch without an OS: both are refused."""
    os = _normalize_os(word)
    if os in KNOWN_OSES:
        raise PlatformError(
            f"{word!r} has no architecture", f"write it as {_example_arches(os)}"
        )
    arch, variant = _normalize_arch(word, "")
    if arch in _VARIANTS:
        raise PlatformError(
            f"{word!r} has no operating system", f"write it as {Platform('linux', arch, variant)}"
        )
    raise PlatformError(
        f"{word!r} is not a platform",
        "write os/arch, e.g. linux/amd64; known architectures: " + ", ".join(KNOWN_ARCHES),
    )


def parse_platforms(items: Iterable[str]) -> tuple[Platform, ...]:
    """Parse a list of platforms where each item may hold several separated by commas."""
    found: list[Platform] = []
    for item in items:
        for piece in item.split(","):
            if not piece.strip():
                raise PlatformError(
                    f"{item!r} has an empty entry", "separate platforms with single commas"
                )
            platform = parse_platform(piece)
            if platform not in found:
                found.append(platform)
    return tuple(found)


def _level(platform: Platform) -> int:
    """Feature level within an architecture family: amd64 v1..v4, arm v5..v8, arm64 v8/v9."""
    if platform.arch == "arm64":
        return 9 if platform.variant == "v9" else 8
    if platform.variant:
        return int(platform.variant[1:])
    return 1


def can_run(host: Platform, target: Platform) -> bool:
    """Whether ``host`` runs ``target`` natively (containerd's ``Only`` matcher rules)."""
    if host.os != target.os:
        return False
    if host.arch == target.arch:
        if host.arch in ("amd64", "arm64", "arm"):
            return _level(target) <= _level(host)
        return host.variant == target.variant
    if host.arch == "amd64":
        return target.arch == "386"
    if host.arch == "arm64":
        return target.arch == "arm" and _level(target) <= 8
    return False
