"""podman, for machines without buildx: build into a local manifest list, push it with --all.

Aliases are not pushed from the local list. Checked with podman 4.3 here: a second
``podman manifest push --all`` of the same list gave the same digest, but it re-checks every
blob per tag (about 10x slower than a PUT, see bench/bench_aliases.py), nothing guarantees the
bytes are re-serialised identically, and the local list is gone on a re-run that skips the
build. So the version tag's index is read once and PUT under each alias with its exact bytes:
the digest is identical by construction, one request per alias, no rebuild, engine-independent.
"""

from __future__ import annotations

import platform as host_platform
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from core.engines.base import (
    PUSH,
    REVISION_LABEL,
    VERSION_LABEL,
    BuilderSupport,
    EngineOptions,
    Output,
    PlatformSupport,
)
from core.engines.process import run_quiet, stream_lines
from core.engines.progress import PodmanParser
from core.errors import EngineError
from core.events import DigestPushed, Event, LogLine

if TYPE_CHECKING:
    import threading

    from core.plan import ImagePlan, Plan
    from core.platforms import Platform
    from core.registry import RegistryClient

DIGEST_PLACEHOLDER = "<digest-file>"
_BINFMT = Path("/proc/sys/fs/binfmt_misc")
_QEMU_NAMES = {"amd64": "x86_64", "arm64": "aarch64", "arm": "arm", "386": "i386",
               "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}


def podman_available(options: EngineOptions, podman: str = "podman") -> str | None:
    """None when ``podman version`` works, else why not (one line)."""
    argv = [podman, *_global_args(options), "version", "--format", "{{.Client.Version}}"]
    probe = run_quiet(argv)
    if probe.returncode == 0:
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
    return args


def host_platform_arch() -> str:
    machine = host_platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(
        machine, machine
    )


class PodmanEngine:
    """``podman build --manifest`` then ``podman manifest push --all`` per image."""

    name = "podman"

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

    def _tls(self, host: str) -> list[str]:
        return ["--tls-verify=false"] if self.options.is_insecure(host) else []

    @staticmethod
    def manifest_name(plan: Plan) -> str:
        """A local list name per release, so reruns replace it instead of adding to it."""
        return f"localhost/dockyard-release:{plan.version.image_tag}-{plan.commit[:7]}"

    # -- what would run ------------------------------------------------------------------------

    def build_argv(self, plan: Plan, output: Output = PUSH) -> list[str]:
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
        argv += ["--label", f"{REVISION_LABEL}={plan.commit}"]
        argv += ["--label", f"{VERSION_LABEL}={plan.version.text}"]
        argv += self._auth()
        if output.kind == "load":
            for image in plan.images:
                argv += ["--tag", image.name.with_tag(image.tags.version_tag)]
        else:
            argv += ["--manifest", self.manifest_name(plan)]
        argv.append(str(plan.context))
        return argv

    def push_argv(self, plan: Plan, image: ImagePlan, digest_file: str = DIGEST_PLACEHOLDER
                  ) -> list[str]:
        target = image.name.with_tag(image.tags.version_tag)
        return [
            *self.base_argv(), "manifest", "push", "--all", *self._auth(),
            *self._tls(image.name.domain), "--digestfile", digest_file,
            self.manifest_name(plan), f"docker://{target}",
        ]

    def archive_argv(self, plan: Plan, path: Path) -> list[str]:
        return [*self.base_argv(), "manifest", "push", "--all", self.manifest_name(plan),
                f"oci-archive:{path}"]

    def remove_argv(self, plan: Plan) -> list[str]:
        return [*self.base_argv(), "manifest", "rm", self.manifest_name(plan)]

    def alias_steps(self, image: ImagePlan) -> list[str]:
        """Aliases go through the registry API (see the module docstring); rendered readably."""
        source = image.name.with_tag(image.tags.version_tag)
        return [
            "registry-put-manifest", source,
            *[image.name.with_tag(alias) for alias in image.tags.aliases],
        ]

    def commands(self, plan: Plan, output: Output = PUSH) -> list[list[str]]:
        if output.kind == "load":
            return [self.build_argv(plan, output)]
        steps = [self.remove_argv(plan), self.build_argv(plan, output)]
        if output.kind == "oci-archive" and output.path is not None:
            return [*steps, self.archive_argv(plan, output.path)]
        steps += [self.push_argv(plan, image) for image in plan.images]
        steps += [self.alias_steps(image) for image in plan.images if image.tags.aliases]
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

    def support(self, platforms: Sequence[Platform]) -> BuilderSupport:
        return BuilderSupport(nodes=(), platforms=tuple(self._support(p) for p in platforms))

    def _support(self, platform: Platform) -> PlatformSupport:
        from core.platforms import can_run, parse_platform

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
        self, plan: Plan, output: Output = PUSH, *, cancel: threading.Event | None = None
    ) -> Iterator[Event]:
        if plan.build.provenance and output.pushes:
            yield LogLine(text="podman does not make provenance attestations; none attached")
        if output.kind != "load":
            run_quiet(self.remove_argv(plan))  # a leftover list would collect duplicate entries
        single = str(output.platform or plan.platforms[0]) if (
            output.platform is not None or len(plan.platforms) == 1) else ""
        parser = PodmanParser(platform=single)
        build = self.build_argv(plan, output)
        for line in stream_lines(build, cwd=plan.root, cancel=cancel, label="podman build",
                                 time_limit=self.options.build_timeout):
            yield from parser.feed(line)
        if output.kind == "oci-archive" and output.path is not None:
            archive = self.archive_argv(plan, output.path)
            for line in stream_lines(archive, cancel=cancel, label="podman manifest push"):
                yield LogLine(text=line)
        if not output.pushes:
            return
        with tempfile.TemporaryDirectory(prefix="dockyard-podman-") as tmp:
            for image in plan.images:
                digest_file = Path(tmp) / "digest"
                push = self.push_argv(plan, image, str(digest_file))
                for line in stream_lines(push, cancel=cancel, label="podman manifest push",
                                         stall_timeout=self.options.stall_timeout):
                    yield LogLine(text=line)
                digest = digest_file.read_text().strip() if digest_file.exists() else ""
                if not digest.startswith("sha256:"):
                    raise EngineError(
                        "podman pushed but wrote no digest",
                        "check the push log; the registry may have refused the push",
                    )
                yield DigestPushed(image.name.with_tag(image.tags.version_tag), digest)

    def move_aliases(
        self, image: ImagePlan, client: RegistryClient, *, cancel: threading.Event | None = None
    ) -> Iterator[Event]:
        source = client.get_manifest(image.name.path, image.tags.version_tag)
        for alias in image.tags.aliases:
            if cancel is not None and cancel.is_set():
                from core.engines.process import BuildCancelled

                raise BuildCancelled("alias move was cancelled", "run the release again")
            digest = client.put_manifest(image.name.path, alias, source.raw, source.media_type)
            yield LogLine(text=f"{image.name.with_tag(alias)} -> {digest}")


def _cache_repo(ref: str) -> str:
    """podman's --cache-from/--cache-to take a repository, without tag."""
    name, _, tag = ref.rpartition(":")
    return name if name and "/" not in tag else ref

