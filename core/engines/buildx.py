"""docker buildx: one multi-platform build that pushes each image by digest, with no tag.

The release writes the tags afterwards from the verified bytes (core/publish.py), so buildx
never tags anything itself: ``--output type=image,push-by-digest=true,name-canonical=true``.

The build runs as our own subprocess (not python-on-whales' log stream, which cannot stop a
build); python-on-whales is used only to ask the builder which platforms its nodes offer.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from core.engines.process import run_quiet, stream_lines
from core.engines.progress import PlainParser, ProgressParser, RawJsonParser
from core.errors import EngineError, PlatformError
from core.events import DigestPushed, Event
from core.publish import alias_step, tag_step

if TYPE_CHECKING:
    import threading

    from core.plan import Plan
    from core.platforms import Platform

METADATA_PLACEHOLDER = "<metadata.json>"


@dataclass(frozen=True)
class BuilderInfo:
    """A buildx builder as python-on-whales reports it: nodes as ``(name, platforms)``."""

    name: str
    driver: str
    nodes: tuple[tuple[str, list[str]], ...]


def _builder_info(builder: Any) -> BuilderInfo:
    nodes = tuple((node.name or "?", list(node.platforms or [])) for node in builder.nodes or [])
    return BuilderInfo(str(builder.name), str(builder.driver or ""), nodes)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def buildx_available(options: EngineOptions, docker: str = "docker") -> str | None:
    """None when ``docker buildx version`` works, else why not (one line)."""
    probe = run_quiet([docker, "buildx", "version"], env=_env(options), timeout=30)
    if probe.returncode == 0:
        return None
    text = (probe.stderr or probe.stdout).strip()
    return text.splitlines()[0] if text else f"exit code {probe.returncode}"

def _env(options: EngineOptions) -> dict[str, str]:
    """The docker CLI reads credentials from DOCKER_CONFIG; secrets never go on argv."""
    env = dict(os.environ)
    if options.docker_config is not None:
        env["DOCKER_CONFIG"] = str(options.docker_config)
    return env


def platform_support(
    nodes: Sequence[tuple[str, Sequence[str]]], wanted: Sequence[Platform]
) -> list[PlatformSupport]:
    """Match planned platforms against builder nodes ``(name, platforms)``.

    BuildKit lists a worker's native platform first and the ones it can emulate (binfmt/QEMU)
    after it, so a platform is "native" when the node's first platform runs it natively.
    """
    from core.platforms import can_run, parse_platform

    offered: list[tuple[str, list[Platform]]] = []
    for name, texts in nodes:
        parsed: list[Platform] = []
        for text in texts:
            try:
                parsed.append(parse_platform(text.strip().rstrip("*")))
            except PlatformError:
                continue
        offered.append((name, parsed))
    result: list[PlatformSupport] = []
    for platform in wanted:
        support = PlatformSupport(str(platform), False, "unknown", "no builder node lists it")
        for name, platforms in offered:
            if platform not in platforms:
                continue
            native = bool(platforms) and can_run(platforms[0], platform)
            how = "native" if native else "emulated"
            support = PlatformSupport(str(platform), True, how, f"node {name}")
            if native:
                break
        result.append(support)
    return result


class BuildxEngine:
    """``docker buildx build --push`` for the version tags; ``imagetools create`` for aliases."""

    name = "buildx"

    def __init__(self, options: EngineOptions | None = None, *, docker: str = "docker") -> None:
        self.options = options or EngineOptions()
        self.docker = docker

    # -- what would run ------------------------------------------------------------------------

    def build_argv(self, plan: Plan, output: Output = PUSH, metadata: str = METADATA_PLACEHOLDER
                   ) -> list[str]:
        argv = [self.docker, "buildx", "build"]
        if self.options.builder:
            argv += ["--builder", self.options.builder]
        platforms = [output.platform] if output.platform is not None else list(plan.platforms)
        argv += ["--platform", ",".join(str(p) for p in platforms)]
        argv += ["--file", str(plan.dockerfile)]
        options = plan.build
        if options.target:
            argv += ["--target", options.target]
        for key, value in options.build_args:
            argv += ["--build-arg", f"{key}={value}"]
        if options.cache_from:
            argv += ["--cache-from", f"type=registry,ref={options.cache_from}"]
        if options.cache_to:
            argv += ["--cache-to", f"type=registry,ref={options.cache_to},mode=max"]
        argv += [f"--provenance={str(options.provenance).lower()}"]
        argv += [f"--sbom={str(options.sbom).lower()}"]
        argv += ["--label", f"{REVISION_LABEL}={plan.commit}"]
        argv += ["--label", f"{VERSION_LABEL}={plan.version.text}"]
        if not output.pushes:
            for image in plan.images:
                argv += ["--tag", image.name.with_tag(image.tags.version_tag)]
        argv += self._output_args(plan, output)
        argv += ["--metadata-file", metadata, f"--progress={self.options.progress}"]
        argv.append(str(plan.context))
        return argv

    def _output_args(self, plan: Plan, output: Output) -> list[str]:
        if output.kind == "oci-archive":
            return ["--output", f"type=oci,dest={output.path}"]
        if output.kind == "load":
            return ["--load"]
        names = ",".join(str(image.name) for image in plan.images)
        fields = ["type=image", f'"name={names}"' if "," in names else f"name={names}",
                  "push-by-digest=true", "name-canonical=true", "push=true"]
        explicit = {i.name.domain for i in plan.images} & set(self.options.insecure_registries)
        if explicit:  # BuildKit needs to be told per push; loopback needs nothing
            fields.append("registry.insecure=true")
        return ["--output", ",".join(fields)]

    def commands(self, plan: Plan, output: Output = PUSH) -> list[list[str]]:
        steps = [self.build_argv(plan, output)]
        if output.pushes:
            for image in plan.images:
                steps += [tag_step(image)]
                steps += [alias_step(image)] if image.tags.aliases else []
        return steps

    # -- checks --------------------------------------------------------------------------------

    def _client(self) -> Any:
        from python_on_whales import DockerClient

        config = str(self.options.docker_config) if self.options.docker_config else None
        return DockerClient(client_call=[self.docker], config=config)

    def builders(self) -> list[BuilderInfo]:
        """Every buildx builder with its driver and nodes (``docker buildx ls``)."""
        from python_on_whales.exceptions import DockerException

        try:
            found = self._client().buildx.list()
            return [_builder_info(builder) for builder in found]
        except (DockerException, ValueError) as err:
            raise EngineError(f"cannot list buildx builders: {_first_line(err)}",
                              "install the docker buildx plugin (Debian: docker-buildx)") from err

    def builder(self) -> BuilderInfo:
        """The selected builder (``--builder``, else the current one): ``docker buildx inspect``."""
        from python_on_whales.exceptions import DockerException

        try:
            return _builder_info(self._client().buildx.inspect(self.options.builder))
        except (DockerException, ValueError) as err:
            raise EngineError(
                f"cannot inspect the buildx builder: {_first_line(err)}",
                "check `docker buildx ls`, or pass --builder NAME",
            ) from err

    def native_platform(self) -> Platform:
        """The first platform of the builder's first node: BuildKit lists its own first."""
        from core.platforms import parse_platform

        info = self.builder()
        for _name, platforms in info.nodes:
            if platforms:
                return parse_platform(platforms[0].strip().rstrip("*"))
        raise EngineError(f"the buildx builder {info.name} lists no platform",
                          "bootstrap it (docker buildx inspect --bootstrap) or pass --platform")

    def support(self, platforms: Sequence[Platform]) -> BuilderSupport:
        info = self.builder()
        nodes = list(info.nodes)
        try:
            names = tuple(builder.name for builder in self.builders())
        except EngineError:
            names = (info.name,)  # the list is a convenience; the asked builder is known
        return BuilderSupport(
            nodes=tuple((name, tuple(items)) for name, items in nodes),
            platforms=tuple(platform_support(nodes, platforms)),
            builder=info.name,
            builders=names,
        )

    def check(self, plan: Plan, output: Output = PUSH) -> list[PlatformSupport]:
        wanted = [output.platform] if output.platform is not None else list(plan.platforms)
        found = self.support(wanted)
        nodes, support = found.nodes, list(found.platforms)
        missing = [item.platform for item in support if not item.supported]
        if missing:
            offered = sorted({p.rstrip("*") for _, platforms in nodes for p in platforms})
            raise PlatformError(
                f"the buildx builder cannot build {', '.join(missing)}",
                f"it offers {', '.join(offered) or 'nothing'}; install QEMU binfmt handlers "
                "or add a builder node for those platforms",
            )
        return support

    # -- running -------------------------------------------------------------------------------

    def parser(self) -> ProgressParser:
        return RawJsonParser() if self.options.progress == "rawjson" else PlainParser()

    def build(
        self, plan: Plan, output: Output = PUSH, *, cancel: threading.Event | None = None,
        client_for: ClientFactory | None = None,
    ) -> Iterator[Event]:
        parser = self.parser()
        with tempfile.TemporaryDirectory(prefix="dockyard-buildx-") as tmp:
            metadata = Path(tmp) / "metadata.json"
            argv = self.build_argv(plan, output, str(metadata))
            for line in stream_lines(argv, env=_env(self.options), cwd=plan.root, cancel=cancel,
                                     label="docker buildx build"):
                yield from parser.feed(line)
            if not output.pushes:
                return
            digest = _metadata_digest(metadata)
        if digest is None:
            raise EngineError(
                "buildx finished but reported no pushed digest",
                "check the build log; the registry may have refused the push",
            )
        for image in plan.images:
            yield DigestPushed(str(image.name), digest)


def _metadata_digest(path: Path) -> str | None:
    """``containerimage.digest`` from buildx's ``--metadata-file``."""
    try:
        data: Any = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    digest = data.get("containerimage.digest") if isinstance(data, dict) else None
    return digest if isinstance(digest, str) and digest.startswith("sha256:") else None
