"""What every build engine offers and the options they share.

Picking an engine is ``core.engines.selection``'s: this base imports no engine, so the engines
can import it without a cycle.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from core.engines.process import positive_seconds
from core.envhosts import insecure_registries_from_env
from core.errors import EngineError
from core.events import Event
from core.platforms import Platform, parse_platform

if TYPE_CHECKING:
    import threading

    from core.plan import Plan
    from core.reference import ImageName
    from core.registry import RegistryClient

#: Image config labels both engines set; release.py reads them back to recognise a re-run.
REVISION_LABEL = "org.opencontainers.image.revision"
VERSION_LABEL = "org.opencontainers.image.version"

#: A logged-in registry client for an image's registry (one per run and host).
ClientFactory = Callable[["ImageName"], "RegistryClient"]


@dataclass(frozen=True)
class Output:
    """Where a build goes: the registry (default), an OCI archive file, or the local engine."""

    kind: str = "push"  # "push" | "oci-archive" | "load"
    path: Path | None = None  # oci-archive only
    platform: Platform | None = None  # load only: the one platform built

    @property
    def pushes(self) -> bool:
        return self.kind == "push"


PUSH = Output()


def parse_output(text: str | None, load: str | None = None) -> Output:
    """``--output oci-archive:PATH`` / ``--load PLATFORM`` (mutually exclusive) into an Output."""
    if text and load:
        raise EngineError(
            "--output and --load cannot be combined", "pick one: an OCI archive or a local load"
        )
    if load:
        return Output(kind="load", platform=parse_platform(load))
    if not text or text in ("registry", "push"):
        return PUSH
    kind, sep, path = text.partition(":")
    if kind != "oci-archive" or not sep or not path:
        raise EngineError(
            f"output {text!r} is not understood", "use --output oci-archive:PATH", field="output"
        )
    return Output(kind="oci-archive", path=Path(path).expanduser().resolve())


@dataclass(frozen=True)
class EngineOptions:
    """Knobs that are about this machine, not about the release."""

    docker_config: Path | None = None  # throw-away dir with config.json (credentials.py)
    cert_dir: Path | None = None  # dir holding ca.crt of --ca-file (podman --cert-dir)
    insecure_registries: tuple[str, ...] = ()  # hosts reached with TLS checks off / plain http
    storage_driver: str | None = None  # podman --storage-driver (e.g. vfs inside containers)
    isolation: str | None = None  # podman build --isolation (e.g. chroot inside containers)
    podman_root: Path | None = None  # podman --root/--runroot parent, to keep storage apart
    builder: str | None = None  # buildx --builder
    progress: str = "rawjson"  # buildx progress format: rawjson carries step inputs, plain not
    stall_timeout: float = 120.0  # a push moving no bytes this long is stopped (process.py)
    build_timeout: float | None = None  # wall-time limit of a build command; None: none

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: object
    ) -> EngineOptions:
        """Machine settings from ``DOCKYARD_PODMAN_STORAGE_DRIVER``, ``DOCKYARD_PODMAN_ISOLATION``,
        ``DOCKYARD_PODMAN_ROOT``, ``DOCKYARD_BUILDX_BUILDER``, ``DOCKYARD_STALL_TIMEOUT`` and
        ``DOCKYARD_BUILD_TIMEOUT`` (seconds), and ``DOCKYARD_INSECURE_REGISTRIES`` (hosts,
        comma-separated: how the wizard, which has no flags, gets what the CLI's
        ``--insecure-registry`` gives); explicit overrides win."""
        env = os.environ if environ is None else environ
        root = env.get("DOCKYARD_PODMAN_ROOT")
        values: dict[str, object] = {
            "insecure_registries": insecure_registries_from_env(env),
            "storage_driver": env.get("DOCKYARD_PODMAN_STORAGE_DRIVER") or None,
            "isolation": env.get("DOCKYARD_PODMAN_ISOLATION") or None,
            "podman_root": Path(root) if root else None,
            "builder": env.get("DOCKYARD_BUILDX_BUILDER") or None,
        }
        for name, key in (("DOCKYARD_STALL_TIMEOUT", "stall_timeout"),
                          ("DOCKYARD_BUILD_TIMEOUT", "build_timeout")):
            if env.get(name):
                values[key] = positive_seconds(env[name], name)
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    def with_builder(self, builder: str | None) -> EngineOptions:
        """These options on ``builder`` (buildx ``--builder``); None keeps the configured one."""
        return self if builder is None else dataclasses.replace(self, builder=builder)

    def is_insecure(self, host: str) -> bool:
        """Loopback registries and the ones the user named may be plain http."""
        from core.registry import is_loopback  # httpx: engines import base; keep it lazy

        return host in self.insecure_registries or is_loopback(host)


@dataclass(frozen=True)
class PlatformSupport:
    """Whether the engine can build a platform here, and how."""

    platform: str
    supported: bool
    how: str  # "native" | "emulated" | "unknown"
    detail: str = ""


@dataclass(frozen=True)
class BuilderSupport:
    """What the engine's builder offers: its nodes (buildx) and each asked platform's support."""

    nodes: tuple[tuple[str, tuple[str, ...]], ...]  # (node name, platforms); podman: ()
    platforms: tuple[PlatformSupport, ...]
    builder: str | None = None  # the builder asked (buildx); podman: None
    builders: tuple[str, ...] = ()  # every builder there is to choose from (buildx)


class Engine(Protocol):
    """A build backend. ``build`` streams events and honours ``cancel``."""

    name: str
    options: EngineOptions
    note: str  # why auto picked this engine over another, "" when there was no choice to explain

    def support(self, platforms: Sequence[Platform]) -> BuilderSupport:
        """How each platform would be built here (native, emulated, not at all); no plan
        needed, so the Platforms screen can ask before one exists."""
        ...

    def native_platform(self) -> Platform:
        """The platform this engine builds without emulation (a part's default)."""
        ...

    def check(self, plan: Plan, output: Output = PUSH) -> list[PlatformSupport]:
        """Raise before anything runs when a planned platform or option cannot be built."""
        ...

    def commands(self, plan: Plan, output: Output = PUSH) -> list[list[str]]:
        """The argv lists a run would execute, in order (pure: runs nothing)."""
        ...

    def build(
        self, plan: Plan, output: Output = PUSH, *, cancel: threading.Event | None = None,
        client_for: ClientFactory | None = None,
    ) -> Iterator[Event]:
        """Build every platform; with a push output, push each image by digest with no tag
        (``client_for`` gives registry clients to engines that upload through the API) and
        yield one ``DigestPushed(str(image.name), digest)`` per image. Tags are the release's."""
        ...
