"""Copy-mode preflight on real host binaries and on ELF files built here byte by byte.

No cross toolchain is installed, so binaries for other machines are written with ``struct``
following the ELF specification: identification bytes, the file header and program headers.
"""

from __future__ import annotations

import os
import platform as host
import shutil
import struct
from pathlib import Path

import pytest

from core.binaries import (
    BinaryCheck,
    ElfInfo,
    binary_path,
    check_binaries,
    check_dockerfile_copy,
    read_elf,
    require_binaries,
)
from core.errors import BinaryError, DockerfileError
from core.platforms import Platform, parse_platform

EM = {"x86-64": 62, "aarch64": 183, "arm": 40, "i386": 3, "s390": 22, "mips": 8, "ppc64": 21,
      "riscv": 243}
PT_DYNAMIC, PT_INTERP, PT_LOAD = 2, 3, 1
ET_REL, ET_EXEC, ET_DYN = 1, 2, 3

BUSYBOX = Path("/bin/busybox")
LS = Path("/bin/ls")
HOST = parse_platform(f"linux/{host.machine()}") if host.machine() else None


def make_elf(
    path: Path,
    machine: str | int,
    *,
    bits: int = 64,
    big: bool = False,
    interpreter: str | None = None,
    dynamic: bool = False,
    e_type: int = ET_EXEC,
    salt: bytes = b"",
) -> Path:
    """An ELF file with a PT_LOAD segment, plus PT_INTERP / PT_DYNAMIC when asked."""
    order = ">" if big else "<"
    code = EM[machine] if isinstance(machine, str) else machine
    header_size, entry_size = (64, 56) if bits == 64 else (52, 32)
    payload = (interpreter.encode() + b"\0") if interpreter else b""
    segments: list[tuple[int, int, int]] = [(PT_LOAD, 0, 0)]
    if interpreter:
        segments.append((PT_INTERP, 0, len(payload)))  # offset patched below
    if dynamic:
        segments.append((PT_DYNAMIC, 0, 0))
    table_end = header_size + entry_size * len(segments)
    segments = [(kind, table_end if kind == PT_INTERP else 0, size) for kind, _, size in segments]
    ident = b"\x7fELF" + bytes([2 if bits == 64 else 1, 2 if big else 1, 1]) + b"\0" * 9
    if bits == 64:
        header = struct.pack(order + "HHIQQQIHHHHHH", e_type, code, 1, 0, header_size, 0, 0,
                             header_size, entry_size, len(segments), 64, 0, 0)
        table = b"".join(struct.pack(order + "IIQQQQQQ", kind, 4, offset, 0, 0, size, size, 8)
                         for kind, offset, size in segments)
    else:
        header = struct.pack(order + "HHIIIIIHHHHHH", e_type, code, 1, 0, header_size, 0, 0,
                             header_size, entry_size, len(segments), 40, 0, 0)
        table = b"".join(struct.pack(order + "IIIIIIII", kind, offset, 0, 0, size, size, 4, 4)
                         for kind, offset, size in segments)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(ident + header + table + payload + salt + b"\0" * 32)
    return path


# --- read_elf ---------------------------------------------------------------------------------

needs_busybox = pytest.mark.skipif(not BUSYBOX.is_file(), reason="busybox-static not installed")


@needs_busybox
def test_busybox_static_is_static_for_the_host_machine() -> None:
    assert HOST is not None and HOST.elf_target is not None
    info = read_elf(BUSYBOX)
    assert info.static is True
    assert info.interpreter is None
    assert (info.machine, info.bits, info.endian) == (
        HOST.elf_target.machine, HOST.elf_target.bits, HOST.elf_target.endian
    )


def test_ls_is_dynamic_with_an_interpreter() -> None:
    info = read_elf(LS)
    assert info.static is False
    assert info.interpreter is not None and "/ld-" in info.interpreter


@pytest.mark.parametrize(
    ("machine", "bits", "big", "interpreter", "expected"),
    [
        ("aarch64", 64, False, None, ElfInfo("aarch64", 64, "little", True, None)),
        ("arm", 32, False, "/lib/ld-linux-armhf.so.3",
         ElfInfo("arm", 32, "little", False, "/lib/ld-linux-armhf.so.3")),
        ("i386", 32, False, "/lib/ld-linux.so.2",
         ElfInfo("i386", 32, "little", False, "/lib/ld-linux.so.2")),
        ("s390", 64, True, None, ElfInfo("s390", 64, "big", True, None)),
        ("s390", 64, True, "/lib/ld64.so.1", ElfInfo("s390", 64, "big", False, "/lib/ld64.so.1")),
        ("riscv", 64, False, None, ElfInfo("riscv", 64, "little", True, None)),
        (999, 64, False, None, ElfInfo("machine 999", 64, "little", True, None)),
    ],
)
def test_constructed_elf_headers(
    tmp_path: Path, machine: str | int, bits: int, big: bool, interpreter: str | None,
    expected: ElfInfo,
) -> None:
    path = make_elf(tmp_path / "app", machine, bits=bits, big=big, interpreter=interpreter)
    assert read_elf(path) == expected


@pytest.mark.parametrize("bits", [32, 64])
def test_static_pie_counts_as_static(tmp_path: Path, bits: int) -> None:
    """static-pie has PT_DYNAMIC (to relocate itself) but no PT_INTERP: it needs no loader."""
    path = make_elf(tmp_path / "app", "aarch64" if bits == 64 else "arm", bits=bits,
                    dynamic=True, e_type=ET_DYN)
    assert read_elf(path).static is True
    dynamic = make_elf(tmp_path / "dyn", "aarch64", dynamic=True, e_type=ET_DYN,
                       interpreter="/lib/ld-linux-aarch64.so.1")
    assert read_elf(dynamic).static is False


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b"", "an empty file"),
        (b"#!/bin/sh\necho hi\n", "a script"),
        (b"MZ\x90\x00" + b"\0" * 60, "a Windows PE file"),
        (b"\xcf\xfa\xed\xfe" + b"\0" * 60, "a Mach-O (macOS) file"),
        (b"\x1f\x8b\x08\x00" + b"\0" * 60, "an archive"),
        (b"hello world\n", "not an executable"),
    ],
)
def test_not_an_elf(tmp_path: Path, content: bytes, kind: str) -> None:
    path = tmp_path / "app"
    path.write_bytes(content)
    with pytest.raises(BinaryError) as caught:
        read_elf(path)
    assert str(caught.value).startswith(f"binary: {path} is {kind}, not an ELF binary; ")


def test_damaged_elf_files(tmp_path: Path) -> None:
    good = make_elf(tmp_path / "good", "aarch64", interpreter="/lib/ld.so").read_bytes()
    cases = {
        "bad class": (good[:4] + b"\x03" + good[5:], "has a damaged ELF header"),
        "short": (good[:40], "has a damaged ELF header"),
        "short 64": (good[:60], "has a truncated ELF header"),
        "no phdrs": (good[:64 + 20], "has truncated ELF program headers"),
    }
    for name, (content, problem) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(BinaryError, match=problem):
            read_elf(path)


# Byte offsets in a 64-bit little-endian file from make_elf(..., interpreter=...): the file
# header, then PT_LOAD at 64 and PT_INTERP at 120.
_ELF64_FIELDS = {"phoff": (32, "Q"), "phentsize": (54, "H"), "phnum": (56, "H"),
                 "interp_offset": (128, "Q"), "interp_size": (152, "Q")}


def hostile_elf(path: Path, **fields: int) -> Path:
    """An aarch64 binary with an interpreter whose header fields are then overwritten."""
    make_elf(path, "aarch64", interpreter="/lib/ld-linux-aarch64.so.1")
    data = bytearray(path.read_bytes())
    for name, value in fields.items():
        offset, kind = _ELF64_FIELDS[name]
        struct.pack_into("<" + kind, data, offset, value)
    path.write_bytes(bytes(data))
    return path


HOSTILE_ELF = [
    ("phoff-max", {"phoff": 2**64 - 1}, "has truncated ELF program headers"),
    ("phoff-past-end", {"phoff": 2**40}, "has truncated ELF program headers"),
    ("phnum-bogus", {"phnum": 0xFFFF, "phentsize": 0xFFFF}, "has truncated ELF program headers"),
    ("phentsize-small", {"phentsize": 8}, "has damaged ELF program headers"),
    ("interp-size-huge", {"interp_size": 2**62}, "has a damaged ELF interpreter entry"),
    ("interp-offset-max", {"interp_offset": 2**64 - 1}, "has a damaged ELF interpreter entry"),
]


@pytest.mark.parametrize(("fields", "problem"), [case[1:] for case in HOSTILE_ELF],
                         ids=[case[0] for case in HOSTILE_ELF])
def test_hostile_elf_headers_are_one_binary_error(
    tmp_path: Path, fields: dict[str, int], problem: str
) -> None:
    """Offsets and counts are checked against the file size before any seek or read."""
    path = hostile_elf(tmp_path / "app", **fields)
    with pytest.raises(BinaryError, match=problem):
        read_elf(path)


def test_hostile_elf_baseline_is_readable(tmp_path: Path) -> None:
    """The unpatched file reads, so each hostile case above fails for its own field."""
    assert read_elf(hostile_elf(tmp_path / "app")).interpreter == "/lib/ld-linux-aarch64.so.1"


def test_a_fifo_or_device_is_never_read_as_a_binary(tmp_path: Path) -> None:
    fifo = tmp_path / "app"
    os.mkfifo(fifo)
    with pytest.raises(BinaryError, match=r"is a FIFO \(named pipe\), not a file"):
        read_elf(fifo)
    with pytest.raises(BinaryError, match="is a character device, not a file"):
        read_elf(Path("/dev/zero"))


def test_binary_templates_stay_in_the_context(tmp_path: Path) -> None:
    """``..``, absolute paths and symlinks may not lead out of the build context; a symlink
    inside it is fine, and a loop is a failed check, not an exception."""
    context = tmp_path / "ctx"
    make_elf(context / "dist/real/app", "aarch64")
    (context / "dist/arm64").mkdir()
    (context / "dist/arm64/app").symlink_to(context / "dist/real/app")
    arm64 = [parse_platform("linux/arm64")]
    assert check_binaries(context, "dist/{arch}/app", arm64)[0].ok
    make_elf(tmp_path / "outside/arm64/app", "aarch64")
    (context / "out").symlink_to(tmp_path / "outside")
    for template in ("../outside/{arch}/app", f"{tmp_path}/outside/{{arch}}/app",
                     "out/{arch}/app"):
        with pytest.raises(BinaryError, match="leads outside the build context"):
            check_binaries(context, template, arm64)
    (context / "loop").symlink_to("loop")
    (check,) = check_binaries(context, "loop", arm64)
    assert not check.ok and "symlink loop" in check.problem


def test_object_files_are_not_executables(tmp_path: Path) -> None:
    path = make_elf(tmp_path / "app.o", "x86-64", e_type=ET_REL)
    with pytest.raises(BinaryError, match="is a relocatable object file; give the linked"):
        read_elf(path)


def test_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(BinaryError, match="does not exist"):
        read_elf(tmp_path / "nope")
    with pytest.raises(BinaryError, match="is a directory"):
        read_elf(tmp_path)


# --- templates --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "platform", "expected"),
    [
        ("dist/{arch}/app", "linux/arm64", "dist/arm64/app"),
        ("dist/{arch}/app", "linux/amd64", "dist/amd64/app"),
        ("dist/{os}_{arch}{variant}/app", "linux/arm/v7", "dist/linux_armv7/app"),
        ("dist/{os}_{arch}{variant}/app", "linux/386", "dist/linux_386/app"),
        ("target/{triple}/release/app", "linux/arm/v6",
         "target/arm-unknown-linux-gnueabihf/release/app"),
        ("target/{triple}/release/app", "linux/ppc64le",
         "target/powerpc64le-unknown-linux-gnu/release/app"),
        ("target/{musl_triple}/release/app", "linux/arm64",
         "target/aarch64-unknown-linux-musl/release/app"),
        ("target/{musl_triple}/release/app", "linux/riscv64",
         "target/riscv64gc-unknown-linux-musl/release/app"),
        ("out/{{literal}}/{arch}", "linux/s390x", "out/{literal}/s390x"),
    ],
)
def test_template_expansion(tmp_path: Path, template: str, platform: str, expected: str) -> None:
    assert binary_path(template, parse_platform(platform), tmp_path) == tmp_path / expected


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("dist/{goarch}/app", "uses unknown placeholder {goarch}"),
        ("dist/{}/app", "uses unknown placeholder {}"),
        ("dist/{arch:>8}/app", "uses unknown placeholder {arch:>8}"),
        ("dist/{arch!r}/app", "uses unknown placeholder {arch!r}"),
        ("dist/{arch/app", "has an unmatched brace"),
    ],
)
def test_bad_templates_name_the_valid_placeholders(
    tmp_path: Path, template: str, problem: str
) -> None:
    with pytest.raises(BinaryError) as caught:
        binary_path(template, parse_platform("linux/amd64"), tmp_path)
    assert str(caught.value) == (
        f"binary: template {template!r} {problem}; valid placeholders: {{os}}, {{arch}}, "
        "{variant}, {triple}, {musl_triple}"
    )


def test_empty_template(tmp_path: Path) -> None:
    with pytest.raises(BinaryError, match="the binary template is empty"):
        binary_path(" ", parse_platform("linux/amd64"), tmp_path)


def test_triple_for_a_platform_without_one(tmp_path: Path) -> None:
    with pytest.raises(BinaryError, match=r"uses \{triple\} but linux/arm/v8 has no Rust target"):
        binary_path("target/{triple}/app", parse_platform("linux/arm/v8"), tmp_path)


# --- check_binaries / require_binaries --------------------------------------------------------

AMD64, ARM64 = Platform("linux", "amd64"), Platform("linux", "arm64")


def test_all_binaries_match(tmp_path: Path) -> None:
    make_elf(tmp_path / "dist/amd64/app", "x86-64")
    make_elf(tmp_path / "dist/arm64/app", "aarch64", interpreter="/lib/ld-linux-aarch64.so.1")
    make_elf(tmp_path / "dist/arm/v7/app", "arm", bits=32)
    platforms = [AMD64, ARM64, Platform("linux", "arm", "v7")]
    checks = require_binaries(tmp_path, "dist/{arch}/{variant}/app", platforms)
    assert [check.ok for check in checks] == [True, True, True]
    assert [check.problem for check in checks] == ["", "", ""]
    assert [check.platform for check in checks] == platforms
    assert checks[0].path == tmp_path / "dist/amd64/app"
    # Static vs dynamic is reported, not refused: a base image may well carry the libc.
    assert [check.elf.static for check in checks if check.elf] == [True, False, True]


def _x86_64_binary(source: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if source == "busybox":
        if not BUSYBOX.is_file() or host.machine() != "x86_64":
            pytest.skip("needs busybox-static on an x86-64 host")
        shutil.copy(BUSYBOX, path)
        return path
    return make_elf(path, "x86-64")


@pytest.mark.parametrize("source", ["constructed", "busybox"])
def test_x86_64_binary_under_arm64_is_refused(tmp_path: Path, source: str) -> None:
    _x86_64_binary(source, tmp_path / "dist/amd64/app")
    _x86_64_binary(source, tmp_path / "dist/arm64/app")
    checks = check_binaries(tmp_path, "dist/{arch}/app", [AMD64, ARM64])
    assert checks[0].ok
    assert not checks[1].ok and checks[1].found
    assert checks[1].elf is not None and checks[1].elf.machine == "x86-64"
    with pytest.raises(BinaryError) as caught:
        require_binaries(tmp_path, "dist/{arch}/app", [AMD64, ARM64])
    assert str(caught.value) == (
        "binary: dist/arm64/app is an x86-64 ELF but linux/arm64 needs aarch64; "
        "rebuild for aarch64-unknown-linux-gnu"
    )


@pytest.mark.parametrize(
    ("platform", "machine", "bits", "big", "message"),
    [
        ("linux/s390x", "s390", 64, False, "is a 64-bit little-endian s390 ELF but linux/s390x "
         "needs 64-bit big-endian s390; rebuild for s390x-unknown-linux-gnu"),
        ("linux/mips64le", "mips", 64, True, "is a 64-bit big-endian mips ELF but linux/mips64le "
         "needs 64-bit little-endian mips; rebuild for mips64el-unknown-linux-gnuabi64"),
        ("linux/arm/v7", "aarch64", 64, False, "is an aarch64 ELF but linux/arm/v7 needs arm; "
         "rebuild for armv7-unknown-linux-gnueabihf"),
        ("linux/386", "x86-64", 64, False, "is an x86-64 ELF but linux/386 needs i386; "
         "rebuild for i686-unknown-linux-gnu"),
        ("linux/ppc64le", "riscv", 64, False, "is a riscv ELF but linux/ppc64le needs ppc64; "
         "rebuild for powerpc64le-unknown-linux-gnu"),
        ("linux/arm/v8", "x86-64", 64, False, "is an x86-64 ELF but linux/arm/v8 needs arm; "
         "rebuild for linux/arm/v8"),
    ],
)
def test_mismatches_name_both_sides(
    tmp_path: Path, platform: str, machine: str, bits: int, big: bool, message: str
) -> None:
    make_elf(tmp_path / "bin/app", machine, bits=bits, big=big)
    with pytest.raises(BinaryError) as caught:
        require_binaries(tmp_path, "bin/app", [parse_platform(platform)])
    assert str(caught.value) == f"binary: bin/app {message}"


def test_big_endian_s390x_is_accepted(tmp_path: Path) -> None:
    make_elf(tmp_path / "dist/s390x/app", "s390", big=True)
    (check,) = check_binaries(tmp_path, "dist/{arch}/app", [parse_platform("linux/s390x")])
    assert check.ok


def test_missing_binary_names_path_and_template(tmp_path: Path) -> None:
    make_elf(tmp_path / "dist/amd64/app", "x86-64")
    checks = check_binaries(tmp_path, "dist/{arch}/app", [AMD64, ARM64])
    assert checks[1] == BinaryCheck(
        ARM64, tmp_path / "dist/arm64/app", False, None, False,
        "dist/arm64/app does not exist (template 'dist/{arch}/app' for linux/arm64)",
        "build the linux/arm64 binary first, or point the template at where it is",
    )
    with pytest.raises(BinaryError, match=r"^binary: dist/arm64/app does not exist \(template"):
        require_binaries(tmp_path, "dist/{arch}/app", [AMD64, ARM64])


def test_a_non_elf_binary_is_a_failed_check(tmp_path: Path) -> None:
    script = tmp_path / "dist/amd64/app"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    (check,) = check_binaries(tmp_path, "dist/{arch}/app", [AMD64])
    assert check.found and not check.ok and check.elf is None
    assert check.problem == "dist/amd64/app is a script, not an ELF binary"


def test_windows_platform_has_no_elf(tmp_path: Path) -> None:
    make_elf(tmp_path / "dist/app", "x86-64")
    (check,) = check_binaries(tmp_path, "dist/app", [parse_platform("windows/amd64")])
    assert not check.ok
    assert check.problem == "windows/amd64 does not run ELF binaries"


def test_one_file_for_two_platforms_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BinaryError) as caught:
        check_binaries(tmp_path, "dist/app", [AMD64, ARM64])
    assert str(caught.value) == (
        "binary: template 'dist/app' gives linux/amd64 and linux/arm64 the same file dist/app; "
        "use {arch}, e.g. dist/{arch}/app"
    )
    with pytest.raises(BinaryError, match=r"add \{variant\} to tell them apart"):
        check_binaries(tmp_path, "dist/{arch}/app", [parse_platform("linux/arm/v6"),
                                                      parse_platform("linux/arm/v7")])


def test_byte_identical_binaries_are_flagged(tmp_path: Path) -> None:
    """Engines may fold identical files for two platforms into one (podman kept one platform)."""
    v6 = make_elf(tmp_path / "dist/armv6/app", "arm", bits=32)
    (tmp_path / "dist/armv7").mkdir()
    shutil.copy(v6, tmp_path / "dist/armv7/app")
    platforms = [parse_platform("linux/arm/v6"), parse_platform("linux/arm/v7")]
    checks = check_binaries(tmp_path, "dist/{arch}{variant}/app", platforms)
    assert checks[0].ok
    assert not checks[1].ok
    assert checks[1].problem == (
        "dist/armv7/app is byte-identical to dist/armv6/app (linux/arm/v6), "
        "so linux/arm/v7 would not get its own image"
    )
    make_elf(tmp_path / "dist/armv7/app", "arm", bits=32, salt=b"v7")
    assert all(c.ok for c in check_binaries(tmp_path, "dist/{arch}{variant}/app", platforms))


# --- Dockerfile -------------------------------------------------------------------------------

GOOD_DOCKERFILES = {
    "braces": "FROM scratch\nARG TARGETARCH\nCOPY dist/${TARGETARCH}/app /app\n",
    "plain": "FROM scratch\nARG TARGETARCH\nCOPY dist/$TARGETARCH/app /app\n",
    "default": "FROM scratch\nARG TARGETARCH\nCOPY dist/${TARGETARCH:-amd64}/app /app\n",
    "platform": "FROM scratch\nARG TARGETPLATFORM\nCOPY dist/${TARGETPLATFORM}/app /app\n",
    "with os and variant": (
        "FROM scratch\nARG TARGETOS TARGETARCH TARGETVARIANT\n"
        "COPY dist/${TARGETOS}/${TARGETARCH}${TARGETVARIANT}/app /app\n"
    ),
    "continuation": (
        "FROM scratch\nARG TARGETARCH=amd64\n"
        "COPY --chmod=755 \\\n  # a comment inside the instruction\n\n"
        "  dist/${TARGETARCH}/app \\\n  /app\n"
    ),
    "json": 'FROM scratch\nARG TARGETARCH\nCOPY ["dist/${TARGETARCH}/app", "/app"]\n',
    "add lowercase": "from scratch\narg TARGETARCH\nadd\tdist/${TARGETARCH}/app.tar /\n",
    "multi-stage": (
        "FROM alpine AS certs\nRUN apk add ca-certificates\n"
        "FROM scratch\nCOPY --from=certs /etc/ssl /etc/ssl\nARG TARGETARCH\n"
        "COPY --chown=1000:1000 dist/${TARGETARCH}/app /app\nENTRYPOINT [\"/app\"]\n"
    ),
    "trailing escape": (
        "FROM scratch\nARG TARGETARCH\nCOPY dist/${TARGETARCH}/app /app\n\\\n"
    ),
    "escape directive": (
        "# escape=`\nFROM scratch\nARG TARGETARCH\nCOPY dist/${TARGETARCH}/app `\n  /app\n"
    ),
}


@pytest.mark.parametrize("text", GOOD_DOCKERFILES.values(), ids=GOOD_DOCKERFILES.keys())
def test_good_dockerfiles(tmp_path: Path, text: str) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    check_dockerfile_copy(path)


NO_TARGETARCH = "no COPY or ADD uses $TARGETARCH, so every platform would get the same binary"
BAD_DOCKERFILES = {
    "fixed path": ("FROM scratch\nCOPY dist/amd64/app /app\n", NO_TARGETARCH),
    "only in destination": (
        "FROM scratch\nARG TARGETARCH\nCOPY dist/app /opt/${TARGETARCH}/app\n", NO_TARGETARCH
    ),
    "only in RUN": (
        "FROM alpine\nARG TARGETARCH\nRUN cp /src/${TARGETARCH}/app /app\n", NO_TARGETARCH
    ),
    "commented out": (
        "FROM scratch\nARG TARGETARCH\n# COPY dist/${TARGETARCH}/app /app\nCOPY app /app\n",
        NO_TARGETARCH,
    ),
    "escaped dollar": ("FROM scratch\nARG TARGETARCH\nCOPY dist/\\$TARGETARCH/app /app\n",
                       NO_TARGETARCH),
    "longer name": ("FROM scratch\nARG TARGETARCHX\nCOPY dist/$TARGETARCHX/app /app\n",
                    NO_TARGETARCH),
    "os only": ("FROM scratch\nARG TARGETOS\nCOPY dist/${TARGETOS}/app /app\n", NO_TARGETARCH),
    "global arg only": (
        "ARG TARGETARCH\nFROM scratch\nCOPY dist/${TARGETARCH}/app /app\n",
        ":3: COPY uses $TARGETARCH but its stage does not declare ARG TARGETARCH, so it expands "
        "to nothing; add `ARG TARGETARCH` after that stage's FROM",
    ),
    "declared in another stage": (
        "FROM alpine AS build\nARG TARGETARCH\nRUN true\nFROM scratch\n"
        "COPY \\\n  dist/${TARGETARCH}/app /app\n",
        ":5: COPY uses $TARGETARCH but its stage does not declare",
    ),
    "declared after use": (
        "FROM scratch\nADD dist/${TARGETPLATFORM}/app /app\nARG TARGETPLATFORM\n",
        ":2: ADD uses $TARGETPLATFORM but its stage does not declare ARG TARGETPLATFORM",
    ),
}


@pytest.mark.parametrize(("text", "problem"), BAD_DOCKERFILES.values(), ids=BAD_DOCKERFILES.keys())
def test_bad_dockerfiles(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    with pytest.raises(DockerfileError) as caught:
        check_dockerfile_copy(path)
    message = str(caught.value)
    assert message.startswith(f"dockerfile: {path}")
    assert problem in message
    assert "\n" not in message


def test_missing_dockerfile(tmp_path: Path) -> None:
    with pytest.raises(DockerfileError) as caught:
        check_dockerfile_copy(tmp_path / "Dockerfile")
    assert str(caught.value) == (
        f"dockerfile: {tmp_path / 'Dockerfile'} does not exist; create it or pass --dockerfile PATH"
    )
    with pytest.raises(DockerfileError, match="is a directory"):
        check_dockerfile_copy(tmp_path)
