"""Debian's busybox-static for foreign architectures: real static executables of each machine.

``apt-get download busybox-static:arm64`` needs the architecture in dpkg's list; instead apt
gets its own lists and cache directories with the extra architectures, so the machine's dpkg
and apt state are never changed for anybody else.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

# Debian architecture -> the ELF machine its busybox is built for.
MACHINES = {"amd64": "x86-64", "arm64": "aarch64", "armhf": "arm"}


def download_busybox(directory: Path, arches: tuple[str, ...] = tuple(MACHINES)) -> dict[str, Path]:
    """``{debian arch: path of /bin/busybox}``, downloaded from the Debian archive."""
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        pytest.skip("apt-get and dpkg-deb are needed to fetch busybox-static (Debian only)")
    state = directory / "apt"
    for sub in ("lists/partial", "cache/archives/partial"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    options = [f"-oDir::State::Lists={state / 'lists'}", f"-oDir::Cache={state / 'cache'}",
               "-oDebug::NoLocking=1", "-oAPT::Sandbox::User=root"]
    options += [f"-oAPT::Architectures::={arch}" for arch in arches]
    debs = directory / "debs"
    debs.mkdir(exist_ok=True)
    for argv, cwd in (
        (["apt-get", *options, "update", "-qq"], directory),
        (["apt-get", *options, "download", "-qq", *(f"busybox-static:{a}" for a in arches)], debs),
    ):
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300,
                              check=False)
        assert done.returncode == 0, f"{' '.join(argv[:1] + argv[-2:])}: {done.stderr[-1500:]}"
    found: dict[str, Path] = {}
    for arch in arches:
        (deb,) = debs.glob(f"busybox-static_*_{arch}.deb")
        out = directory / arch
        subprocess.run(["dpkg-deb", "-x", str(deb), str(out)], check=True, timeout=60)
        found[arch] = out / "bin" / "busybox"
    return found
