"""Minimal ELF files for machines no toolchain here can target (headers only, per the ELF spec)."""

from __future__ import annotations

import struct
from pathlib import Path

from tests.support.gitrepo import git, make_repo

# e_machine values from the ELF specification / <elf.h>
MACHINES = {"x86-64": 62, "aarch64": 183, "arm": 40, "i386": 3, "s390": 22, "ppc64": 21,
            "riscv": 243}


def write_elf(path: Path, machine: str, *, bits: int = 64, big_endian: bool = False,
              interpreter: str | None = None) -> Path:
    """Write an ELF executable header (and a PT_INTERP segment when ``interpreter`` is given)."""
    order = ">" if big_endian else "<"
    ehsize, phentsize = (64, 56) if bits == 64 else (52, 32)
    phnum = 1 if interpreter else 0
    ident = b"\x7fELF" + bytes([2 if bits == 64 else 1, 2 if big_endian else 1, 1]) + b"\0" * 9
    phoff = ehsize if phnum else 0
    if bits == 64:
        header = ident + struct.pack(order + "HHIQQQIHHHHHH", 2, MACHINES[machine], 1, 0,
                                     phoff, 0, 0, ehsize, phentsize, phnum, 0, 0, 0)
    else:
        header = ident + struct.pack(order + "HHIIIIIHHHHHH", 2, MACHINES[machine], 1, 0,
                                     phoff, 0, 0, ehsize, phentsize, phnum, 0, 0, 0)
    body = b""
    if interpreter:
        data = interpreter.encode() + b"\0"
        offset = ehsize + phentsize
        if bits == 64:
            body = struct.pack(order + "IIQQQQQQ", 3, 4, offset, 0, 0, len(data), len(data), 1)
        else:
            body = struct.pack(order + "IIIIIIII", 3, offset, 0, 0, len(data), len(data), 4, 1)
        body += data
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + body + b"\0" * 64)
    path.chmod(0o755)
    return path


def copy_mode_project(root: Path) -> Path:
    """A git project released in copy mode: a FROM-scratch Dockerfile that COPYs one binary per
    TARGETARCH (amd64 and arm64 ELF files of the right machine), tagged v1.0.0 on HEAD."""
    make_repo(root)
    (root / "Dockerfile").write_text(
        "FROM scratch\nARG TARGETARCH\nCOPY dist/${TARGETARCH}/app /app\n")
    write_elf(root / "dist/amd64/app", "x86-64")
    write_elf(root / "dist/arm64/app", "aarch64")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "project")
    git(root, "tag", "-a", "v1.0.0", "-m", "v1.0.0")
    return root
