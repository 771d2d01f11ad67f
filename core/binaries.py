"""Copy-mode preflight: each platform's prebuilt binary exists and its ELF header fits.

Copy mode packs binaries that were cross-compiled elsewhere, so the one mistake that cannot be
seen in the build log is an amd64 binary inside the arm64 image. The ELF header (class, byte
order, ``e_machine``) and the program headers (``PT_INTERP``) are read here with ``struct``: no
dependency, and it works for machines no local toolchain targets.

Template placeholders: ``{os}``, ``{arch}`` (Docker's TARGETARCH), ``{variant}`` (TARGETVARIANT,
"" when the platform has none), ``{triple}`` (Rust's glibc target triple) and ``{musl_triple}``
(Rust's musl triple, the usual choice for ``FROM scratch`` images).
"""

from __future__ import annotations

import filecmp
import os
import string
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from core import paths
from core.dockerfile import require_platform_copy
from core.errors import BinaryError, PlatformError
from core.platforms import Platform

# e_machine values from the ELF specification / <elf.h>.
_MACHINES = {
    2: "sparc", 3: "i386", 8: "mips", 20: "ppc", 21: "ppc64", 22: "s390", 40: "arm",
    43: "sparcv9", 50: "ia64", 62: "x86-64", 183: "aarch64", 243: "riscv", 258: "loongarch",
}
_ET_EXEC, _ET_DYN = 2, 3
_PT_INTERP = 3
_MAX_INTERP = 4096  # PATH_MAX: the kernel refuses a longer interpreter path anyway


_PLACEHOLDERS: dict[str, Callable[[Platform], str]] = {
    "os": lambda platform: platform.os,
    "arch": lambda platform: platform.targetarch,
    "variant": lambda platform: platform.targetvariant,
    "triple": lambda platform: platform.rust_triple("gnu"),
    "musl_triple": lambda platform: platform.rust_triple("musl"),
}
_VALID_PLACEHOLDERS = "valid placeholders: " + ", ".join(f"{{{name}}}" for name in _PLACEHOLDERS)


@dataclass(frozen=True)
class ElfInfo:
    """What an ELF header says about where a binary runs and how it is linked."""

    machine: str
    bits: int
    endian: str
    static: bool
    interpreter: str | None


@dataclass(frozen=True)
class BinaryCheck:
    """The preflight result for one platform; ``fix`` says what to do when ``ok`` is False."""

    platform: Platform
    path: Path
    found: bool
    elf: ElfInfo | None
    ok: bool
    problem: str
    fix: str = ""


def read_elf(path: Path) -> ElfInfo:
    """Read the ELF identification, machine and program headers of ``path``.

    Every offset and count in the header is checked against the file's size before it is used,
    so a hostile header cannot make dockyard seek past the end or read gigabytes.
    """
    handle, size = paths.open_regular(path, str(path), BinaryError,
                                      missing="give the path of a built binary")
    with handle:
        try:
            return _read_elf(handle, path, size)
        except OSError as err:
            raise BinaryError(
                f"{path} cannot be read ({err.strerror})", "make the file readable"
            ) from None


def _read_elf(handle: BinaryIO, path: Path, size: int) -> ElfInfo:
    head = handle.read(64)
    if head[:4] != b"\x7fELF":
        raise BinaryError(
            f"{path} is {_file_kind(head)}, not an ELF binary",
            "copy mode packs Linux ELF executables; point the template at the compiled binaries",
        )
    if len(head) < 52 or head[4] not in (1, 2) or head[5] not in (1, 2):
        raise BinaryError(f"{path} has a damaged ELF header", "rebuild the binary")
    bits = 64 if head[4] == 2 else 32
    order = "<" if head[5] == 1 else ">"
    if bits == 64 and len(head) < 64:
        raise BinaryError(f"{path} has a truncated ELF header", "rebuild the binary")
    e_type, e_machine = struct.unpack_from(order + "HH", head, 16)
    if e_type not in (_ET_EXEC, _ET_DYN):
        kind = {1: "a relocatable object file", 4: "a core dump"}.get(e_type, "not an executable")
        raise BinaryError(f"{path} is {kind}", "give the linked executable")
    if bits == 64:
        (phoff,) = struct.unpack_from(order + "Q", head, 32)
        phentsize, phnum = struct.unpack_from(order + "HH", head, 54)
    else:
        (phoff,) = struct.unpack_from(order + "I", head, 28)
        phentsize, phnum = struct.unpack_from(order + "HH", head, 42)
    interpreter = _interpreter(handle, path, size, order, bits, (phoff, phentsize, phnum))
    return ElfInfo(
        machine=_MACHINES.get(e_machine, f"machine {e_machine}"),
        bits=bits,
        endian="little" if order == "<" else "big",
        static=interpreter is None,
        interpreter=interpreter,
    )


def _interpreter(
    handle: BinaryIO, path: Path, size: int, order: str, bits: int,
    table_at: tuple[int, int, int],
) -> str | None:
    """The PT_INTERP path, or None: without one the kernel runs the file as is (static or
    static-pie, even when a PT_DYNAMIC segment is present for self-relocation)."""
    phoff, phentsize, phnum = table_at
    entry_format = order + ("IIQQQQ" if bits == 64 else "IIIII")
    if not phnum:
        return None
    if phentsize < struct.calcsize(entry_format):
        raise BinaryError(f"{path} has damaged ELF program headers", "rebuild the binary")
    if phoff + phentsize * phnum > size:
        raise BinaryError(f"{path} has truncated ELF program headers", "rebuild the binary")
    handle.seek(phoff)
    table = handle.read(phentsize * phnum)
    if len(table) < phentsize * phnum:
        raise BinaryError(f"{path} has truncated ELF program headers", "rebuild the binary")
    for index in range(phnum):
        fields = struct.unpack_from(entry_format, table, index * phentsize)
        if fields[0] != _PT_INTERP:
            continue
        offset, length = (fields[2], fields[5]) if bits == 64 else (fields[1], fields[4])
        if length > _MAX_INTERP or offset + length > size:
            raise BinaryError(f"{path} has a damaged ELF interpreter entry", "rebuild the binary")
        handle.seek(offset)
        data = handle.read(length)
        return data.split(b"\0", 1)[0].decode("utf-8", "replace")
    return None


def _file_kind(head: bytes) -> str:
    if not head:
        return "an empty file"
    if head.startswith(b"#!"):
        return "a script"
    if head.startswith(b"MZ"):
        return "a Windows PE file"
    if head[:4] in (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe"):
        return "a Mach-O (macOS) file"
    if head.startswith(b"\x1f\x8b") or head.startswith(b"PK\x03\x04"):
        return "an archive"
    return "not an executable"


def binary_path(template: str, platform: Platform, root: Path) -> Path:
    """Expand the template for one platform, relative to ``root``."""
    if not template.strip():
        raise BinaryError("the binary template is empty", "e.g. dist/{arch}/app")
    try:
        pieces = list(string.Formatter().parse(template))
    except ValueError:
        raise BinaryError(
            f"template {template!r} has an unmatched brace", _VALID_PLACEHOLDERS
        ) from None
    out: list[str] = []
    for literal, name, spec, conversion in pieces:
        out.append(literal)
        if name is None:
            continue
        if name not in _PLACEHOLDERS or spec or conversion:
            shown = "{" + name + (f"!{conversion}" if conversion else "") + (
                f":{spec}" if spec else "") + "}"
            raise BinaryError(
                f"template {template!r} uses unknown placeholder {shown}", _VALID_PLACEHOLDERS
            )
        try:
            out.append(_PLACEHOLDERS[name](platform))
        except PlatformError:
            raise BinaryError(
                f"template {template!r} uses {{{name}}} but {platform} has no Rust target triple",
                "use {arch} and {variant} for that platform's path",
            ) from None
    return Path(os.path.normpath(root / "".join(out)))  # cleaned lexically, as COPY sources are


def check_binaries(root: Path, template: str, platforms: Sequence[Platform]) -> list[BinaryCheck]:
    """One check per platform; template errors raise, per-binary faults are reported.

    Paths are relative to ``root`` (the build context: the engine copies only from there) and
    may not lead out of it, by ``..``, an absolute path or a symlink.
    """
    found = [binary_path(template, platform, root) for platform in platforms]
    for index, (platform, path) in enumerate(zip(platforms, found, strict=True)):
        real = paths.inside(root, str(path), BinaryError, where="the build context",
                            label=f"template {template!r} for {platform}")
        if path != root and root not in path.parents:  # absolute, through a symlink to it
            found[index] = real
    _require_distinct(template, platforms, found, root)
    checks = [
        _check_one(root, template, platform, path)
        for platform, path in zip(platforms, found, strict=True)
    ]
    return _flag_identical(checks, root)


def require_binaries(
    root: Path, template: str, platforms: Sequence[Platform]
) -> list[BinaryCheck]:
    """Like ``check_binaries`` but raise BinaryError on the first failing platform."""
    checks = check_binaries(root, template, platforms)
    for check in checks:
        if not check.ok:
            raise BinaryError(check.problem, check.fix)
    return checks


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _require_distinct(
    template: str, platforms: Sequence[Platform], found: Sequence[Path], root: Path
) -> None:
    """Two platforms reading one file would ship the same binary to both."""
    owner: dict[Path, Platform] = {}
    for platform, path in zip(platforms, found, strict=True):
        first = owner.setdefault(path, platform)
        if first is platform:
            continue
        hint = (
            "add {variant} to tell them apart, e.g. dist/{arch}{variant}/app"
            if first.arch == platform.arch
            else "use {arch}, e.g. dist/{arch}/app"
        )
        raise BinaryError(
            f"template {template!r} gives {first} and {platform} the same file "
            f"{_shown(path, root)}",
            hint,
        )


def _check_one(root: Path, template: str, platform: Platform, path: Path) -> BinaryCheck:
    shown = _shown(path, root)

    try:
        exists = paths.status(path, shown, BinaryError) is not None
    except BinaryError as err:
        return BinaryCheck(platform, path, True, None, False, err.problem, err.valid)

    def failed(problem: str, fix: str, elf: ElfInfo | None = None) -> BinaryCheck:
        return BinaryCheck(platform, path, exists, elf, False, problem, fix)

    if not exists:
        return failed(
            f"{shown} does not exist (template {template!r} for {platform})",
            f"build the {platform} binary first, or point the template at where it is",
        )
    try:
        elf = read_elf(path)
    except BinaryError as err:
        return failed(err.problem.replace(str(path), shown), err.valid)
    target = platform.elf_target
    if target is None:
        return failed(
            f"{platform} does not run ELF binaries", "copy mode packs Linux binaries", elf
        )
    if elf.machine != target.machine:
        problem = f"{shown} is {_article(elf.machine)} {elf.machine} ELF but {platform} needs " + (
            target.machine
        )
    elif (elf.bits, elf.endian) != (target.bits, target.endian):
        found = f"{elf.bits}-bit {elf.endian}-endian {elf.machine}"
        problem = f"{shown} is a {found} ELF but {platform} needs {target}"
    else:
        return BinaryCheck(platform, path, True, elf, True, "")
    return failed(problem, _rebuild_hint(platform), elf)


def _article(word: str) -> str:
    return "an" if word[0] in "aeioux" or word.startswith("s390") else "a"


def _rebuild_hint(platform: Platform) -> str:
    try:
        return f"rebuild for {platform.rust_triple('gnu')}"
    except PlatformError:
        return f"rebuild for {platform}"


def _flag_identical(checks: list[BinaryCheck], root: Path) -> list[BinaryCheck]:
    """Byte-identical files for two platforms (e.g. arm/v6 and arm/v7) collapse into one
    manifest with some engines (podman keeps one platform), so each needs its own build."""
    result: list[BinaryCheck] = []
    for check in checks:
        twin = next(
            (
                earlier
                for earlier in result
                if check.ok
                and earlier.ok
                and earlier.elf == check.elf
                and filecmp.cmp(earlier.path, check.path, shallow=False)
            ),
            None,
        )
        if twin is not None:
            check = BinaryCheck(
                check.platform, check.path, True, check.elf, False,
                f"{_shown(check.path, root)} is byte-identical to {_shown(twin.path, root)} "
                f"({twin.platform}), so {check.platform} would not get its own image",
                f"build a separate binary for {check.platform}",
            )
        result.append(check)
    return result


# --- Dockerfile -------------------------------------------------------------------------------


def check_dockerfile_copy(dockerfile: Path) -> None:
    """Refuse a Dockerfile whose COPY/ADD would give every platform the same file (read by
    core.dockerfile, the one Dockerfile reader)."""

    require_platform_copy(dockerfile)
