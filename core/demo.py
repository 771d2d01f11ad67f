"""``dockyard demo``: a throw-away copy-mode project and a local registry, so a new user can try a
release without an account, a compiler or network access.

The demo binaries are two tiny static ELF programs assembled here, one real x86-64 and one real
aarch64 executable (each prints a line and exits 0). That way the copy-mode preflight checks honest
files: the ELF machine matches the platform, both are static, and the two files differ (identical
files make some engines collapse the platforms into one).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.config import ProjectConfig, save_config
from core.errors import DockyardError, RegistryError, RepoError

DEFAULT_REGISTRY = "127.0.0.1:5000"
DEMO_REPOSITORY = "demo/app"
DEMO_TAG = "v0.1.0"
DEMO_PLATFORMS = ("linux/amd64", "linux/arm64")
BINARY_TEMPLATE = "dist/{arch}/app"
PODMAN_CONTAINER = "dockyard-demo-registry"

DOCKERFILE = """\
# Copy mode: no compiler in the image, one prebuilt static binary per platform.
FROM scratch
ARG TARGETARCH
COPY dist/${TARGETARCH}/app /app
ENTRYPOINT ["/app"]
"""

README = """\
# dockyard demo

A throw-away project made by `dockyard demo`. `dist/amd64/app` and `dist/arm64/app` are tiny static
programs (x86-64 and aarch64) that print a greeting. Release tag {tag} is on HEAD; dockyard.toml
publishes {image} for {platforms} in copy mode.
"""

_BASE = 0x400000
_ELF_HEADER = struct.Struct("<16sHHIQQQIHHHHHH")
_PROGRAM_HEADER = struct.Struct("<IIQQQQQQ")
_CODE_OFFSET = _ELF_HEADER.size + _PROGRAM_HEADER.size
_MACHINES = {"amd64": 62, "arm64": 183}  # EM_X86_64, EM_AARCH64


def _x86_64_code(message: bytes) -> bytes:
    """write(1, message, len); exit(0) — the message follows the 33 bytes of code."""
    return (
        b"\xb8\x01\x00\x00\x00"  # mov eax, 1 (write)
        + b"\xbf\x01\x00\x00\x00"  # mov edi, 1 (stdout)
        + b"\x48\x8d\x35" + struct.pack("<i", 16)  # lea rsi, [rip+16] -> message
        + b"\xba" + struct.pack("<I", len(message))  # mov edx, len
        + b"\x0f\x05"  # syscall
        + b"\xb8\x3c\x00\x00\x00"  # mov eax, 60 (exit)
        + b"\x31\xff"  # xor edi, edi
        + b"\x0f\x05"  # syscall
    )


def _aarch64_code(message: bytes) -> bytes:
    """write(1, message, len); exit(0) — the message follows the 32 bytes of code."""

    def movz(register: int, value: int) -> int:
        return 0xD2800000 | (value << 5) | register

    adr_x1 = 0x10000000 | ((28 >> 2) << 5) | 1  # adr x1, .+28 (instruction at +4, message at +32)
    words = [
        movz(0, 1),
        adr_x1,
        movz(2, len(message)),
        movz(8, 64),  # write
        0xD4000001,  # svc #0
        movz(0, 0),
        movz(8, 93),  # exit
        0xD4000001,
    ]
    return struct.pack("<8I", *words)


def demo_program(arch: str) -> bytes:
    """A minimal static ELF executable for ``amd64`` or ``arm64`` that greets and exits 0."""
    if arch not in _MACHINES:
        raise ValueError(f"no demo program for {arch!r}")
    message = f"hello from the dockyard demo (linux/{arch})\n".encode()
    code = _x86_64_code(message) if arch == "amd64" else _aarch64_code(message)
    body = code + message
    size = _CODE_OFFSET + len(body)
    header = _ELF_HEADER.pack(
        b"\x7fELF\x02\x01\x01" + bytes(9),  # 64-bit, little endian, ELF v1, System V ABI
        2,  # ET_EXEC
        _MACHINES[arch],
        1,
        _BASE + _CODE_OFFSET,  # entry point
        _ELF_HEADER.size,  # program headers follow the ELF header
        0,
        0,
        _ELF_HEADER.size,
        _PROGRAM_HEADER.size,
        1,
        64,
        0,
        0,
    )
    load = _PROGRAM_HEADER.pack(1, 5, 0, _BASE, _BASE, size, size, 0x1000)  # PT_LOAD, R+X
    return header + load + body


@dataclass(frozen=True)
class DemoProject:
    root: Path
    image: str
    tag: str
    platforms: tuple[str, ...]
    binary_template: str


def create_demo(directory: Path, *, registry: str = DEFAULT_REGISTRY) -> DemoProject:
    """Write the sample project into ``directory`` (new or empty), commit it and tag it."""
    _loopback(registry)
    if directory.exists() and any(directory.iterdir()):
        raise RepoError(
            f"{directory} is not empty", "pass --dir with a new or empty directory", field="dir"
        )
    if shutil.which("git") is None:
        raise RepoError("git is not installed", "install git (Debian: apt-get install git)")
    directory.mkdir(parents=True, exist_ok=True)
    root = directory.resolve()
    image = f"{registry}/{DEMO_REPOSITORY}"
    (root / "Dockerfile").write_text(DOCKERFILE)
    (root / "README.md").write_text(
        README.format(tag=DEMO_TAG, image=image, platforms=", ".join(DEMO_PLATFORMS))
    )
    for arch in ("amd64", "arm64"):
        binary = root / "dist" / arch / "app"
        binary.parent.mkdir(parents=True)
        binary.write_bytes(demo_program(arch))
        binary.chmod(0o755)
    save_config(
        root,
        ProjectConfig(
            images=(image,), platforms=DEMO_PLATFORMS, mode="copy", binary=BINARY_TEMPLATE
        ),
    )
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "dockyard demo project")
    _git(root, "tag", "-a", DEMO_TAG, "-m", f"demo release {DEMO_TAG}")
    return DemoProject(
        root=root, image=image, tag=DEMO_TAG, platforms=DEMO_PLATFORMS,
        binary_template=BINARY_TEMPLATE,
    )


def _git(root: Path, *args: str) -> None:
    """Run git with a fixed identity for this one command, leaving the user's config alone."""
    identity = [
        "-c", "user.name=dockyard demo", "-c", "user.email=demo@dockyard.invalid",
        "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false",
    ]
    done = subprocess.run(
        ["git", "-C", str(root), *identity, *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RepoError(f"git {args[0]} failed: {done.stderr.strip()}", "check that git works")


@dataclass(frozen=True)
class LocalRegistry:
    """What ``ensure_registry`` found or did; ``stop`` is the command that undoes it."""

    host: str
    state: str  # "running" (already answered), "started" or "unavailable"
    how: str = ""
    stop: str = ""
    problem: str = ""
    pid: int | None = None
    data: Path | None = None  # a data directory made for it: removed when it is stopped


def registry_answers(host: str, *, timeout: float = 2.0) -> bool:
    """True when something speaking the Registry API v2 answers on ``host`` (a 401 counts)."""
    # httpx: loaded only to reach the demo registry
    from core.registry import RegistryClient

    client = RegistryClient(host, timeout=timeout, max_retries=0)
    try:
        client.ping()
    except DockyardError:
        return False
    finally:
        client.close()
    return True


def ensure_registry(
    host: str = DEFAULT_REGISTRY, *, workdir: Path | None = None, wait: float = 20.0
) -> LocalRegistry:
    """Use the registry on ``host`` or start one (``docker-registry``, else podman with a local
    registry image); say what to install when neither is possible."""
    address, port = _loopback(host)
    if registry_answers(host):
        return LocalRegistry(host=host, state="running", how="already running")
    if _port_taken(address, port):
        return LocalRegistry(
            host=host, state="unavailable",
            problem=f"{host} is in use by something that is not a registry; free the port",
        )
    binary = shutil.which("docker-registry")
    if binary is not None:
        return _start_distribution(binary, host, workdir, wait)
    podman_image = _local_registry_image()
    if podman_image is not None:
        return _start_podman(podman_image, host, wait)
    return LocalRegistry(
        host=host, state="unavailable",
        problem="no registry runs on " + host + " and none can be started here; install one "
        "(Debian: apt-get install docker-registry) or run any registry on that address",
    )


def _loopback(host: str) -> tuple[str, int]:
    """The demo registry speaks plain http, which dockyard allows only on loopback."""
    # httpx: loaded only to reach the demo registry
    from core.registry import is_loopback

    address, _, port = host.rpartition(":")
    if not port.isdigit() or not is_loopback(host) or address.startswith("["):
        raise RegistryError(
            f"{host!r} is not a loopback address with a port",
            "use 127.0.0.1:PORT, e.g. 127.0.0.1:5000",
        )
    return address, int(port)


def _port_taken(address: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((address, port)) == 0


def _start_distribution(binary: str, host: str, workdir: Path | None, wait: float) -> LocalRegistry:
    """Start ``docker-registry serve`` detached (own session) so it outlives this command."""
    made = workdir is None
    workdir = workdir or Path(tempfile.mkdtemp(prefix="dockyard-demo-registry-"))
    storage = workdir / "storage"
    storage.mkdir(parents=True, exist_ok=True)
    config = workdir / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {storage}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: {host}\n"
    )
    with (workdir / "registry.log").open("wb") as log:
        proc = subprocess.Popen(
            [binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
    if not _wait_for(host, wait, lambda: proc.poll() is None):
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        return LocalRegistry(
            host=host, state="unavailable",
            problem=f"docker-registry did not answer on {host}; see {workdir / 'registry.log'}",
        )
    return LocalRegistry(
        host=host, state="started", how=f"docker-registry (pid {proc.pid}, data in {workdir})",
        stop=f"kill {proc.pid}", pid=proc.pid, data=workdir if made else None,
    )


def _local_registry_image() -> str | None:
    """A registry image podman already has (nothing can be pulled here)."""
    if shutil.which("podman") is None:
        return None
    done = subprocess.run(
        ["podman", "images", "--format", "{{.Repository}}:{{.Tag}}"],
        capture_output=True, text=True, check=False, timeout=30,
    )
    for line in done.stdout.split():
        repository = line.rpartition(":")[0]
        if repository.rpartition("/")[2] in ("registry", "distribution"):
            return line
    return None


def _start_podman(image: str, host: str, wait: float) -> LocalRegistry:
    publish = f"{host}:5000"
    done = subprocess.run(
        ["podman", "run", "-d", "--rm", "--name", PODMAN_CONTAINER, "-p", publish, image],
        capture_output=True, text=True, check=False, timeout=60,
    )
    stop = f"podman stop {PODMAN_CONTAINER}"
    if done.returncode != 0 or not _wait_for(host, wait, lambda: True):
        return LocalRegistry(
            host=host, state="unavailable",
            problem=f"podman could not run {image}: {done.stderr.strip() or 'no answer'}",
            stop=stop if done.returncode == 0 else "",
        )
    return LocalRegistry(
        host=host, state="started", how=f"podman container {PODMAN_CONTAINER} ({image})",
        stop=stop,
    )


def stop_registry(registry: LocalRegistry, *, wait: float = 10.0) -> None:
    """Stop a registry ``ensure_registry`` started; one it only found running is never touched.
    The data directory made for it goes too: a demo's pushes are not worth keeping."""
    if registry.state != "started":
        return
    if registry.pid is None:
        subprocess.run(["podman", "stop", PODMAN_CONTAINER], capture_output=True, check=False,
                       timeout=60)
        return
    _end_process(registry.pid, wait)
    if registry.data is not None:
        shutil.rmtree(registry.data, ignore_errors=True)


def _end_process(pid: int, wait: float) -> None:
    """SIGTERM, then SIGKILL when it has not gone within ``wait`` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0]:
                return
        if not _alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_for(host: str, wait: float, alive: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if not alive():
            return False
        if registry_answers(host, timeout=1):
            return True
        time.sleep(0.1)
    return False
