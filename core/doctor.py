"""``dockyard doctor``: what this machine can do for a release, each finding with its fix.

Every probe is bounded in time (subprocess timeouts, the keyring in a thread with a deadline), so
a hung daemon or a locked keyring shows up as a finding instead of a frozen command.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import DockyardError

BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")
STATUSES = ("ok", "warn", "fail")


@dataclass(frozen=True)
class CheckResult:
    """One finding; ``fix`` says what to do and is set whenever ``status`` is not ok."""

    name: str
    status: str  # "ok" | "warn" | "fail"
    summary: str
    fix: str = ""
    details: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "summary": self.summary,
            "fix": self.fix,
            "details": list(self.details),
        }


@dataclass(frozen=True)
class DoctorReport:
    checks: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        """No check failed (warnings are allowed)."""
        return all(check.status != "fail" for check in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [check.to_dict() for check in self.checks]}


@dataclass(frozen=True)
class _Run:
    returncode: int
    stdout: str
    stderr: str


def _run(argv: Sequence[str], timeout: float) -> _Run:
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout, check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return _Run(124, "", f"{argv[0]} did not answer within {timeout:g} s")
    except OSError as err:
        return _Run(127, "", str(err))
    return _Run(done.returncode, done.stdout, done.stderr)


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def check_docker(timeout: float) -> CheckResult:
    if shutil.which("docker") is None:
        return CheckResult(
            "docker", "warn", "docker CLI not found",
            "install Docker Engine and its CLI (https://docs.docker.com/engine/install/), "
            "or release with podman",
        )
    done = _run(["docker", "version", "--format", "{{.Client.Version}}|{{.Server.Version}}"],
                timeout)
    client, _, server = done.stdout.strip().partition("|")
    if done.returncode != 0 or not server:
        return CheckResult(
            "docker", "warn",
            f"docker CLI {client or '(unknown version)'}, but the daemon does not answer",
            "start the Docker daemon (systemctl start docker) or point DOCKER_HOST at one",
            details=(_first_line(done.stderr),) if done.stderr.strip() else (),
        )
    return CheckResult("docker", "ok", f"docker CLI {client}, daemon {server}")


def check_buildx(timeout: float) -> CheckResult:
    if shutil.which("docker") is None:
        return CheckResult(
            "buildx", "warn", "skipped: no docker CLI",
            "install Docker with the buildx plugin to build with buildx",
        )
    done = _run(["docker", "buildx", "version"], timeout)
    if done.returncode != 0:
        return CheckResult(
            "buildx", "warn", "the docker buildx plugin is not installed",
            "install the buildx plugin (Docker's apt repository: docker-buildx-plugin; "
            "Debian trixie: docker-buildx), or release with podman",
            details=(_first_line(done.stderr),) if done.stderr.strip() else (),
        )
    return CheckResult("buildx", "ok", _first_line(done.stdout))


def parse_buildx_ls(text: str) -> list[tuple[str, str]]:
    """(builder, status) pairs from ``docker buildx ls`` text; a builder's status is its first
    node's. Node lines are indented (and start with ``\\_`` in newer versions)."""
    builders: list[tuple[str, str]] = []
    for line in text.splitlines()[1:]:
        if not line.strip():
            continue
        fields = line.split()
        if not line[0].isspace() and fields[0] != "\\_":
            builders.append((fields[0].rstrip("*"), ""))
            continue
        if builders and not builders[-1][1]:
            words = [word for word in fields if word != "\\_"]
            status = next((w for w in words if w in _NODE_STATES), "")
            builders[-1] = (builders[-1][0], status)
    return builders


_NODE_STATES = ("running", "inactive", "stopped", "error", "starting")


def check_builders(buildx: CheckResult, timeout: float) -> CheckResult:
    if buildx.status != "ok":
        return CheckResult(
            "builders", "warn", "skipped: buildx is not available", buildx.fix or "install buildx"
        )
    done = _run(["docker", "buildx", "ls"], timeout)
    builders = parse_buildx_ls(done.stdout) if done.returncode == 0 else []
    details = tuple(f"{name}: {status or 'unknown'}" for name, status in builders)
    if not any(status == "running" for _, status in builders):
        return CheckResult(
            "builders", "warn", "no running buildx builder",
            "create one: docker buildx create --use --bootstrap "
            "(multi-platform builds need the docker-container driver or containerd storage)",
            details=details or ((_first_line(done.stderr),) if done.stderr.strip() else ()),
        )
    running = sum(1 for _, status in builders if status == "running")
    return CheckResult("builders", "ok", f"{running} running builder(s)", details=details)


@dataclass(frozen=True)
class Emulator:
    name: str  # "qemu-aarch64"
    enabled: bool
    interpreter: str
    flags: str


def read_binfmt(directory: Path) -> list[Emulator] | None:
    """The qemu-* binfmt_misc entries, or None when binfmt_misc is not mounted there."""
    if not (directory / "status").exists():
        return None
    emulators: list[Emulator] = []
    for entry in sorted(directory.glob("qemu-*")):
        try:
            lines = entry.read_text().splitlines()
        except OSError:
            continue
        fields = dict(line.split(" ", 1) for line in lines[1:] if " " in line)
        emulators.append(
            Emulator(
                name=entry.name,
                enabled=bool(lines) and lines[0].strip() == "enabled",
                interpreter=fields.get("interpreter", ""),
                flags=fields.get("flags:", "").strip(),
            )
        )
    return emulators


def check_emulation(directory: Path) -> CheckResult:
    install = (
        "install qemu-user-static and binfmt-support (Debian) or run "
        "docker run --privileged --rm tonistiigi/binfmt --install all; "
        "copy mode needs no emulation"
    )
    emulators = read_binfmt(directory)
    if emulators is None:
        return CheckResult(
            "emulation", "warn", f"binfmt_misc is not mounted at {directory}",
            f"mount -t binfmt_misc binfmt_misc {directory}, then {install}",
        )
    enabled = [e for e in emulators if e.enabled]
    if not enabled:
        return CheckResult(
            "emulation", "warn",
            "no QEMU emulator registered: build mode can only build the host's platform",
            install,
        )
    details = tuple(
        f"{e.name}: {e.interpreter}"
        + ("" if "F" in e.flags else " (no F flag: containers may not find the interpreter)")
        for e in enabled
    )
    names = ", ".join(e.name.removeprefix("qemu-") for e in enabled)
    return CheckResult("emulation", "ok", f"QEMU emulation for {names}", details=details)


def check_podman(timeout: float) -> CheckResult:
    if shutil.which("podman") is None:
        return CheckResult(
            "podman", "warn", "podman not found",
            "install podman and buildah (Debian: apt-get install podman buildah) "
            "to release without Docker",
        )
    done = _run(["podman", "--version"], timeout)
    if done.returncode != 0:
        return CheckResult(
            "podman", "warn", "podman does not run", "reinstall podman",
            details=(_first_line(done.stderr),),
        )
    return CheckResult("podman", "ok", _first_line(done.stdout))


def check_engine(builders: CheckResult, podman: CheckResult) -> CheckResult:
    """At least one engine must work, or nothing can be released."""
    usable = [name for name, check in (("buildx", builders), ("podman", podman))
              if check.status == "ok"]
    if not usable:
        return CheckResult(
            "engine", "fail", "no build engine: neither docker buildx nor podman works",
            "install podman (apt-get install podman buildah) or Docker with the buildx plugin",
        )
    return CheckResult("engine", "ok", "usable: " + ", ".join(usable))


def check_keyring(timeout: float) -> CheckResult:
    """Resolve the keyring backend the way ``dockyard login`` will (bounded by ``timeout``)."""
    from core.credentials import CredentialStore

    try:
        label = CredentialStore(timeout=timeout).backend_label
    except DockyardError as err:
        return CheckResult("keyring", "fail", err.problem, err.valid)
    return CheckResult("keyring", "ok", label)


def check_registries(root: Path, timeout: float) -> list[CheckResult]:
    """Ping the registry of each image in ``root``'s dockyard.toml (an auth challenge counts)."""
    from core.config import load_config

    if not (root / "dockyard.toml").is_file():
        return [CheckResult("registry", "ok", f"no dockyard.toml in {root}: nothing to check")]
    try:
        config = load_config(root)
    except DockyardError as err:
        return [CheckResult("registry", "fail", str(err), err.valid or "fix dockyard.toml")]
    if not config.images:
        return [CheckResult("registry", "ok", "dockyard.toml names no image: nothing to check")]
    from core.reference import parse_image_name
    from core.registry import RegistryClient

    results: list[CheckResult] = []
    hosts: list[str] = []
    for text in config.images:
        try:
            host = parse_image_name(text).api_host
        except DockyardError as err:
            results.append(CheckResult("registry", "fail", str(err), err.valid or "fix the name"))
            continue
        if host not in hosts:
            hosts.append(host)
    for host in hosts:
        client = RegistryClient(host, timeout=timeout, max_retries=0)
        try:
            client.ping()  # a 401 challenge counts as an answer
        except DockyardError as err:
            results.append(CheckResult(
                f"registry {host}", "fail", err.problem,
                err.valid or f"check the address {host} and your network",
            ))
            continue
        finally:
            client.close()
        results.append(CheckResult(f"registry {host}", "ok", f"{client.base_url} answers"))
    return results


def run_doctor(
    root: Path, *, binfmt_dir: Path = BINFMT_DIR, timeout: float = 10.0
) -> DoctorReport:
    """All checks, in the order a user fixes them."""
    docker = check_docker(timeout)
    buildx = check_buildx(timeout)
    builders = check_builders(buildx, timeout)
    podman = check_podman(timeout)
    checks = [
        docker, buildx, builders, check_emulation(binfmt_dir), podman,
        check_engine(builders, podman), check_keyring(timeout),
        *check_registries(root, timeout),
    ]
    return DoctorReport(tuple(checks))
