"""podman, for machines without buildx: build into a local manifest list, then publish it by
digest through the registry API.

podman 4.3 cannot push a list without a tag, so the list is written as an OCI layout
(``podman manifest push --all LIST oci:DIR``) and dockyard uploads its blobs and manifests by
digest itself (core/publish.py). Tags are written later, by the release, from the verified bytes.
"""

from __future__ import annotations

import platform as host_platform
import secrets
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from core.engines.base import (
    PUSH,
    REVISION_LABEL,
    VERSION_LABEL,
    BuilderSupport,
    ClientFactory,
    EngineOptions,
    Output,
    PlatformSupport,
)
from core.engines.process import BuildCancelled, run_quiet, stream_batches
from core.engines.progress import PodmanParser
from core.errors import EngineError
from core.events import DigestPushed, Event, LogBatch, LogLine
from core.platforms import can_run, parse_platform
from core.publish import LAYOUT_PLACEHOLDER, alias_step, tag_step, upload_layout, upload_step

if TYPE_CHECKING:
    import threading

    from core.plan import Plan
    from core.platforms import Platform

RUN_PLACEHOLDER = "<run>"
_BINFMT = Path("/proc/sys/fs/binfmt_misc")
_QEMU_NAMES = {"amd64": "x86_64", "arm64": "aarch64", "arm": "arm", "386": "i386",
               "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}


#: The probes that answered, keyed by the binary's resolved path and the probe's arguments.
_ANSWERED: set[tuple[str, ...]] = set()


def podman_available(options: EngineOptions, podman: str = "podman") -> str | None:
    """None when ``podman version`` works, else why not (one line). A working answer is kept
    for the process (same binary, same storage options): the CLI's plan check and the run each
    ask, and each probe costs ~30 ms. Failures are asked again."""
    argv = [podman, *_global_args(options), "version", "--format", "{{.Client.Version}}"]
    resolved = shutil.which(podman)
    key = (resolved or "", *argv)
    if resolved is not None and key in _ANSWERED:
        return None
    probe = run_quiet(argv)
    if probe.returncode == 0:
        if resolved is not None:
            _ANSWERED.add(key)
        return None
    text = (probe.stderr or probe.stdout).strip()
    return text.splitlines()[0] if text else f"exit code {probe.returncode}"


def _global_args(options: EngineOptions) -> list[str]:
    args: list[str] = []
    if options.storage_driver:
        args += ["--storage-driver", options.storage_driver]
    if options.podman_root is not None:
        args += ["--root", str(options.podman_root / "root")]
        args += ["--runroot", str(options.podman_root / "runroot")]
        # libpod's state (its "alive" file, locks) too: by default it is /run/libpod, shared
        # with every other podman on the machine
        args += ["--tmpdir", str(options.podman_root / "tmp")]
    return args


def host_platform_arch() -> str:
    machine = host_platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(
        machine, machine
    )


class PodmanEngine:
    """``podman build --manifest`` then ``podman manifest push --all`` per image."""

    name = "podman"
    note = ""

    def __init__(self, options: EngineOptions | None = None, *, podman: str = "podman") -> None:
        self.options = options or EngineOptions()
        self.podman = podman

    def base_argv(self) -> list[str]:
        """``podman`` with the machine's global options (storage driver, root)."""
        return [self.podman, *_global_args(self.options)]

    def _auth(self) -> list[str]:
        """podman reads the throw-away docker config.json as an authfile; no secrets on argv."""
        if self.options.docker_config is None:
            return []
        return ["--authfile", str(self.options.docker_config / "config.json")]

    @staticmethod
    def manifest_name(plan: Plan, run: str = RUN_PLACEHOLDER) -> str:
        """The local list a run builds into: one per run (two runs of one release at once must
        not add to each other's list), removed when the run ends."""
        return f"localhost/dockyard-release:{plan.version.image_tag}-{plan.commit[:7]}-{run}"

    # -- what would run ------------------------------------------------------------------------

    def build_argv(self, plan: Plan, output: Output = PUSH, name: str | None = None) -> list[str]:
        argv = [*self.base_argv(), "build"]
        if self.options.isolation:
            argv += ["--isolation", self.options.isolation]
        platforms = [output.platform] if output.platform is not None else list(plan.platforms)
        argv += ["--platform", ",".join(str(p) for p in platforms)]
        argv += ["--file", str(plan.dockerfile)]
        options = plan.build
        if options.target:
            argv += ["--target", options.target]
        for key, value in options.build_args:
            argv += ["--build-arg", f"{key}={value}"]
        if options.cache_from:
            argv += ["--layers", "--cache-from", _cache_repo(options.cache_from)]
        if options.cache_to:
            argv += ["--layers", "--cache-to", _cache_repo(options.cache_to)]
        if not (options.cache_from or options.cache_to):
            # podman 4.3's layer cache ignores the platform variant: a step cached by the
            # linux/arm/v7 build was reused for linux/amd64, which came out as amd64/v7.
            argv.append("--layers=false")
        argv += ["--label", f"{REVISION_LABEL}={plan.commit}"]
        argv += ["--label", f"{VERSION_LABEL}={plan.version.text}"]
        argv += self._auth()
        if self.options.cert_dir is not None:  # pulls of FROM images trust --ca-file too
            argv += ["--cert-dir", str(self.options.cert_dir)]
        if output.kind == "load":
            for image in plan.images:
                argv += ["--tag", image.name.with_tag(image.tags.version_tag)]
        else:
            argv += ["--manifest", name or self.manifest_name(plan)]
        argv.append(str(plan.context))
        return argv

    def push_list_argv(self, name: str, destination: str) -> list[str]:
        """The built list out of local storage: ``oci:DIR`` for the upload by digest, or
        ``oci-archive:PATH``."""
        return [*self.base_argv(), "manifest", "push", "--all", name, destination]

    def remove_argv(self, name: str) -> list[str]:
        return [*self.base_argv(), "manifest", "rm", name]

    def commands(self, plan: Plan, output: Output = PUSH) -> list[list[str]]:
        if output.kind == "load":
            return [self.build_argv(plan, output)]
        name = self.manifest_name(plan)
        steps = [self.build_argv(plan, output)]
        if output.kind == "oci-archive" and output.path is not None:
            return [*steps, self.push_list_argv(name, f"oci-archive:{output.path}"),
                    self.remove_argv(name)]
        steps += [self.push_list_argv(name, f"oci:{LAYOUT_PLACEHOLDER}"), self.remove_argv(name)]
        for image in plan.images:
            steps += [upload_step(image), tag_step(image)]
            steps += [alias_step(image)] if image.tags.aliases else []
        return steps

    # -- checks --------------------------------------------------------------------------------

    def check(self, plan: Plan, output: Output = PUSH) -> list[PlatformSupport]:
        """podman builds any platform for COPY-only Dockerfiles; RUN steps of a foreign platform
        need a QEMU binfmt handler, so say which platforms would be emulated and whether one is
        registered."""
        if plan.build.sbom:
            raise EngineError(
                "podman cannot attach SBOM attestations",
                "turn SBOM off or use --engine buildx",
                field="sbom",
            )
        wanted = [output.platform] if output.platform is not None else list(plan.platforms)
        return list(self.support(wanted).platforms)

    def native_platform(self) -> Platform:
        return parse_platform(f"linux/{host_platform_arch()}")

    def support(self, platforms: Sequence[Platform]) -> BuilderSupport:
        return BuilderSupport(nodes=(), platforms=tuple(self._support(p) for p in platforms))

    def _support(self, platform: Platform) -> PlatformSupport:
        host = parse_platform(f"linux/{host_platform_arch()}")
        if can_run(host, platform):
            return PlatformSupport(str(platform), True, "native")
        handler = _BINFMT / f"qemu-{_QEMU_NAMES.get(platform.arch, platform.arch)}"
        detail = "QEMU binfmt handler registered" if handler.exists() else (
            "no QEMU binfmt handler: only COPY/ADD steps will work"
        )
        return PlatformSupport(str(platform), True, "emulated", detail)

    # -- running -------------------------------------------------------------------------------

    def build(
        self, plan: Plan, output: Output = PUSH, *, cancel: threading.Event | None = None,
        client_for: ClientFactory | None = None,
    ) -> Iterator[Event]:
        if plan.build.provenance and output.pushes:
            yield LogLine(text="podman does not make provenance attestations; none attached")
        name = self.manifest_name(plan, secrets.token_hex(4))
        try:
            yield from self._build(plan, output, name, cancel, client_for)
        finally:
            if output.kind != "load":
                run_quiet(self.remove_argv(name))

    def _build(
        self, plan: Plan, output: Output, name: str, cancel: threading.Event | None,
        client_for: ClientFactory | None,
    ) -> Iterator[Event]:
        single = str(output.platform or plan.platforms[0]) if (
            output.platform is not None or len(plan.platforms) == 1) else ""
        parser = PodmanParser(platform=single)
        build = self.build_argv(plan, output, name)
        for batch in stream_batches(build, cwd=plan.root, cancel=cancel, label="podman build",
                                    time_limit=self.options.build_timeout):
            yield from parser.feed_batch(batch)
        if output.kind == "oci-archive" and output.path is not None:
            archive = self.push_list_argv(name, f"oci-archive:{output.path}")
            for batch in stream_batches(archive, cancel=cancel, label="podman manifest push"):
                yield LogBatch(tuple(batch), tuple(batch))
        if not output.pushes:
            return
        if client_for is None:
            raise EngineError("no registry client to publish with", "this is a dockyard bug")
        with tempfile.TemporaryDirectory(prefix="dockyard-podman-") as tmp:
            layout = Path(tmp) / "layout"
            argv = self.push_list_argv(name, f"oci:{layout}")
            for batch in stream_batches(argv, cancel=cancel, label="podman manifest push"):
                yield LogBatch(tuple(batch), tuple(batch))
            for image in plan.images:
                if cancel is not None and cancel.is_set():
                    raise BuildCancelled("the upload was cancelled", "run the release again")
                yield LogLine(text=f"uploading to {image.name} by digest (no tag yet)")
                manifest = upload_layout(client_for(image.name), image.name.path, layout)
                yield DigestPushed(str(image.name), manifest.digest)


def _cache_repo(ref: str) -> str:
    """podman's --cache-from/--cache-to take a repository, without tag."""
    name, _, tag = ref.rpartition(":")
    return name if name and "/" not in tag else ref

