"""``dockyard doctor``: what this machine can do for a release, each finding with its fix.

Every probe is bounded in time (subprocess timeouts, core.credentials' keyring deadline, registry
timeouts), so a hung daemon or a locked keyring shows up as a finding instead of a frozen command.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.config import load_config
from core.credentials import CredentialStore
from core.engines.base import EngineOptions
from core.engines.process import run_quiet
from core.errors import DockyardError
from core.reference import parse_image_name

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


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def check_docker(timeout: float) -> CheckResult:
    if shutil.which("docker") is None:
        return CheckResult(
            "docker", "warn", "docker CLI not found",
            "install Docker Engine and its CLI (https://docs.docker.com/engine/install/), "
            "or release with podman",
        )

    done = run_quiet(["docker", "version", "--format", "{{.Client.Version}}|{{.Server.Version}}"],
                     timeout=timeout)
    client, _, server = done.stdout.strip().partition("|")
    if done.returncode != 0 or not server:
        return CheckResult(
            "docker", "warn",
            f"docker CLI {client or '(unknown version)'}, but the daemon does not answer",
            "start the Docker daemon (systemctl start docker) or point DOCKER_HOST at one",
            details=(_first_line(done.stderr),) if done.stderr.strip() else (),
        )
    return CheckResult("docker", "ok", f"docker CLI {client}, daemon {server}")


def check_buildx(options: EngineOptions) -> CheckResult:
    # the engines and the registry client load httpx: only the checks that need them
    from core.engines.buildx import buildx_available

    if shutil.which("docker") is None:
        return CheckResult(
            "buildx", "warn", "skipped: no docker CLI",
            "install Docker with the buildx plugin to build with buildx",
        )
    problem = buildx_available(options)
    if problem is not None:
        return CheckResult(
            "buildx", "warn", "the docker buildx plugin does not work",
            "install the buildx plugin (Docker's apt repository: docker-buildx-plugin; "
            "Debian trixie: docker-buildx), or release with podman",
            details=(problem,),
        )
    return CheckResult("buildx", "ok", "docker buildx works")


def check_builders(buildx: CheckResult, options: EngineOptions) -> CheckResult:
    """A builder is usable when its nodes report platforms (an inactive one reports none)."""
    # the engines and the registry client load httpx: only the checks that need them
    from core.engines.buildx import BuildxEngine

    if buildx.status != "ok":
        return CheckResult("builders", "warn", "skipped: buildx is not available",
                           "install buildx first (see the buildx check)")
    try:
        builders = BuildxEngine(options).builders()
    except DockyardError as err:
        return CheckResult("builders", "warn", err.problem, err.valid or "check docker buildx ls")
    details = tuple(
        f"{b.name} ({b.driver}): "
        + ("; ".join(f"{node} {', '.join(platforms) or 'no platforms (inactive?)'}"
                     for node, platforms in b.nodes) or "no nodes")
        for b in builders
    )
    usable = [b.name for b in builders if any(platforms for _, platforms in b.nodes)]
    if not usable:
        return CheckResult(
            "builders", "warn", "no buildx builder reports any platform",
            "start one: docker buildx create --use --bootstrap (multi-platform builds need the "
            "docker-container driver or the containerd image store)",
            details=details,
        )
    return CheckResult("builders", "ok", f"usable: {', '.join(usable)}", details=details)


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


def check_podman(options: EngineOptions) -> CheckResult:
    # the engines and the registry client load httpx: only the checks that need them
    from core.engines.podman import podman_available

    if shutil.which("podman") is None:
        return CheckResult(
            "podman", "warn", "podman not found",
            "install podman and buildah (Debian: apt-get install podman buildah) "
            "to release without Docker",
        )
    problem = podman_available(options)
    if problem is not None:
        return CheckResult(
            "podman", "warn", "podman does not run",
            "check `podman version`; inside a container set DOCKYARD_PODMAN_STORAGE_DRIVER=vfs",
            details=(problem,),
        )
    return CheckResult("podman", "ok", "podman works")


def check_engine(
    builders: CheckResult, podman: CheckResult, options: EngineOptions | None = None
) -> CheckResult:
    """At least one engine must work, or nothing can be released; with ``options``, also what
    ``--engine auto`` picks, by the same probe the wizard and ``release`` use."""
    usable = [name for name, check in (("buildx", builders), ("podman", podman))
              if check.status == "ok"]
    if not usable:
        return CheckResult(
            "engine", "fail", "no build engine: neither docker buildx nor podman works",
            "install podman (apt-get install podman buildah) or Docker with the buildx plugin",
        )
    summary = "usable: " + ", ".join(usable)
    if options is None:
        return CheckResult("engine", "ok", summary)
    # the engines and the registry client load httpx: only the checks that need them
    from core.engines.selection import select_engine

    try:
        picked = select_engine(None, options)
    except DockyardError as err:
        return CheckResult("engine", "fail", f"{summary}; auto picks none: {err.problem}",
                           err.valid)
    if picked.name == "buildx":
        # the engines load httpx: only when buildx is picked
        from core.engines.buildx import BuildxEngine

        assert isinstance(picked, BuildxEngine)
        return CheckResult("engine", "ok",
                           f"{summary}; auto picks buildx (builder {picked.builder().name})")
    return CheckResult("engine", "ok", f"{summary}; auto picks {picked.name}",
                       details=(picked.note,) if picked.note else ())


def check_keyring(timeout: float) -> CheckResult:
    """Resolve the keyring backend the way ``dockyard login`` will (bounded by ``timeout``)."""

    try:
        label = CredentialStore(timeout=timeout).backend_label
    except DockyardError as err:
        return CheckResult("keyring", "fail", err.problem, err.valid)
    return CheckResult("keyring", "ok", label)


def check_registries(root: Path, timeout: float) -> list[CheckResult]:
    """Ping the registry of each image in ``root``'s dockyard.toml (an auth challenge counts)."""
    if not (root / "dockyard.toml").is_file():
        return [CheckResult("registry", "ok", f"no dockyard.toml in {root}: nothing to check")]
    try:
        config = load_config(root)
    except DockyardError as err:
        return [CheckResult("registry", "fail", f"{err.field}: {err.problem}",
                            err.valid or "fix dockyard.toml")]
    if not config.images:
        return [CheckResult("registry", "ok", "dockyard.toml names no image: nothing to check")]
    # the engines and the registry client load httpx: only the checks that need them
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

    options = EngineOptions.from_env()
    docker = check_docker(timeout)
    buildx = check_buildx(options)
    builders = check_builders(buildx, options)
    podman = check_podman(options)
    checks = [
        docker, buildx, builders, check_emulation(binfmt_dir), podman,
        check_engine(builders, podman, options), check_keyring(timeout),
        *check_registries(root, timeout),
    ]
    return DoctorReport(tuple(checks))
