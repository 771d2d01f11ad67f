"""docker buildx: one multi-platform build that pushes each image by digest, with no tag.

The release writes the tags afterwards from the verified bytes (core/publish.py), so buildx
never tags anything itself: ``--output type=image,push-by-digest=true,name-canonical=true``.

Every docker call is our own subprocess with our own environment: python-on-whales' log stream
cannot stop a build, and its client passes ``--config`` with no way to add ``BUILDX_CONFIG``,
so a throw-away config dir would hide the user's builders from it.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.credentials import docker_env, user_docker_dir
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
from core.engines.process import CommandFailed, run_quiet, stream_batches
from core.engines.progress import PlainParser, ProgressParser, RawJsonParser
from core.errors import EngineError, PlatformError
from core.events import DigestPushed, Event
from core.platforms import can_run, parse_platform
from core.publish import alias_step, tag_step

if TYPE_CHECKING:
    import threading

    from core.plan import Plan
    from core.platforms import Platform

METADATA_PLACEHOLDER = "<metadata.json>"


@dataclass(frozen=True)
class BuilderInfo:
    """A buildx builder as ``docker buildx inspect`` reports it: nodes as ``(name, platforms)``."""

    name: str
    driver: str
    nodes: tuple[tuple[str, list[str]], ...]


def docker_reason(text: str) -> str:
    """docker's own reason from its output: the last ``ERROR:`` line, else the first line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("ERROR:"):
            return line.removeprefix("ERROR:").strip()
    return lines[0] if lines else "no output"


def parse_inspect(text: str) -> BuilderInfo:
    """``docker buildx inspect`` text: the builder's Name/Driver, then one block per node."""
    name = driver = ""
    nodes: list[tuple[str, list[str]]] = []
    in_nodes = False
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep or line.startswith(" "):
            continue
        key, value = key.strip(), value.strip()
        if key == "Nodes":
            in_nodes = True
        elif key == "Name" and not in_nodes:
            name = value
        elif key == "Driver" and not in_nodes:
            driver = value
        elif key == "Name":
            nodes.append((value, []))
        elif key == "Platforms" and nodes and value:
            nodes[-1][1].extend(p.strip() for p in value.split(","))
    return BuilderInfo(name, driver, tuple(nodes))


def buildx_available(options: EngineOptions, docker: str = "docker") -> str | None:
    """None when ``docker buildx version`` works, else why not (one line)."""
    probe = run_quiet([docker, "buildx", "version"], env=_env(options), timeout=30)
    if probe.returncode == 0:
        return None
    text = (probe.stderr or probe.stdout).strip()
    return text.splitlines()[0] if text else f"exit code {probe.returncode}"


def user_buildx_dir() -> Path:
    """The user's builders: ``$BUILDX_CONFIG``, else ``<docker config dir>/buildx``."""

    configured = os.environ.get("BUILDX_CONFIG")
    return Path(configured) if configured else user_docker_dir() / "buildx"


def _env(options: EngineOptions) -> dict[str, str]:
    """The docker CLI reads credentials from DOCKER_CONFIG (secrets never go on argv); a
    throw-away DOCKER_CONFIG would hide the user's builders, so BUILDX_CONFIG keeps them."""
    env = dict(os.environ)
    if options.docker_config is not None:
        env.update(docker_env(options.docker_config))
    return env


def platform_support(
    nodes: Sequence[tuple[str, Sequence[str]]], wanted: Sequence[Platform]
) -> list[PlatformSupport]:
    """Match planned platforms against builder nodes ``(name, platforms)``.

    BuildKit lists a worker's native platform first and the ones it can emulate (binfmt/QEMU)
    after it, so a platform is "native" when the node's first platform runs it natively.
    """

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
    note = ""

    def __init__(self, options: EngineOptions | None = None, *, docker: str = "docker") -> None:
        self.options = options or EngineOptions()
        self.docker = docker
        self._probe: BuilderInfo | EngineError | None = None

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
        # The docker exporter refuses manifest lists, and attestations make one: off for a load.
        attest = output.kind != "load"
        argv += [f"--provenance={str(options.provenance and attest).lower()}"]
        argv += [f"--sbom={str(options.sbom and attest).lower()}"]
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

    def builder(self) -> BuilderInfo:
        """The selected builder (``--builder``, else the current one) once it answers:
        ``docker buildx inspect --bootstrap`` boots an inactive docker-container builder and
        fails for an unreachable one. Asked once per engine; the answer (or error) is kept."""
        if self._probe is None:
            argv = [self.docker, "buildx", "inspect", "--bootstrap"]
            argv += [self.options.builder] if self.options.builder else []
            done = run_quiet(argv, env=_env(self.options), timeout=120)
            if done.returncode == 0:
                self._probe = parse_inspect(done.stdout)
            else:
                named = f"buildx builder {self.options.builder!r}" if self.options.builder \
                    else "current buildx builder"
                self._probe = EngineError(
                    f"the {named} does not answer: {docker_reason(done.stderr + done.stdout)}",
                    "check `docker buildx ls`; start or create a builder "
                    "(docker buildx create --use --bootstrap) or pass --builder NAME",
                    field="builder",
                )
        if isinstance(self._probe, EngineError):
            raise self._probe
        return self._probe

    def builders(self) -> list[BuilderInfo]:
        """Every buildx builder with its driver and nodes (``docker buildx ls --format json``);
        a builder in error (``default`` without a Docker daemon) has no nodes."""
        done = run_quiet([self.docker, "buildx", "ls", "--format", "json"],
                         env=_env(self.options), timeout=60)
        if done.returncode != 0:
            raise EngineError(
                f"cannot list buildx builders: {docker_reason(done.stderr + done.stdout)}",
                "install the docker buildx plugin (Debian: docker-buildx)")
        found = []
        for line in done.stdout.splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue
            nodes = tuple((str(node.get("Name") or "?"), list(node.get("Platforms") or []))
                          for node in item.get("Nodes") or [] if not item.get("Err"))
            found.append(BuilderInfo(str(item.get("Name")), str(item.get("Driver") or ""), nodes))
        return found

    def daemon_problem(self) -> str | None:
        """Why there is no Docker daemon to ``--load`` into (None when there is one): buildx
        itself never says so, but its ``default`` builder reports the failed connection."""
        done = run_quiet([self.docker, "buildx", "ls", "--format", "json"],
                         env=_env(self.options), timeout=60)
        for line in done.stdout.splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if item.get("Name") == "default" and item.get("Err"):
                return str(item["Err"])
        return None

    def native_platform(self) -> Platform:
        """The first platform of the builder's first node: BuildKit lists its own first."""

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
        """The builder must answer. BuildKit enforces no platform list (a COPY-only stage of any
        platform builds), so a platform is refused only in build mode when a RUN executes in a
        stage of that platform and the builder can neither run it natively nor emulate it."""
        wanted = [output.platform] if output.platform is not None else list(plan.platforms)
        info = self.builder()  # the probe select_engine made: no second docker call
        nodes, support = info.nodes, platform_support(info.nodes, wanted)
        if output.kind == "load":
            self._check_load()
        missing = [item.platform for item in support if not item.supported]
        if missing and plan.mode != "copy" and runs_in_target_stage(plan.dockerfile):
            offered = sorted({p.rstrip("*") for _, platforms in nodes for p in platforms})
            raise PlatformError(
                f"the buildx builder {info.name} cannot run RUN steps for "
                f"{', '.join(missing)}",
                f"it offers {', '.join(offered) or 'nothing'}; install QEMU binfmt handlers, "
                "add a builder node for those platforms, or cross-compile in a "
                "`FROM --platform=$BUILDPLATFORM` stage",
            )
        return [item if item.supported else PlatformSupport(
            item.platform, True, "unknown",
            "not offered by the builder; fine while no RUN executes for it")
            for item in support]

    def _load_failed(self, err: CommandFailed) -> None:
        """buildx never says "daemon" when a load fails for want of one (recorded: ``io:
        read/write on closed pipe``); say it when its default builder reports no daemon."""
        problem = self.daemon_problem()
        if problem is not None:
            raise EngineError(
                f"the build ran but no Docker daemon took the image ({problem})",
                "start the Docker daemon, or publish with a push / --output oci-archive:PATH",
                field="load",
            ) from err

    def _check_load(self) -> None:
        problem = self.daemon_problem()
        if problem is not None:
            raise EngineError(
                f"--load needs a Docker daemon and none answers here ({problem})",
                "start the Docker daemon, or publish with a push / --output oci-archive:PATH",
                field="load",
            )

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
            try:
                for batch in stream_batches(argv, env=_env(self.options), cwd=plan.root,
                                            cancel=cancel, label="docker buildx build",
                                            time_limit=self.options.build_timeout):
                    yield from parser.feed_batch(batch)
            except CommandFailed as err:
                if output.kind == "load":
                    self._load_failed(err)
                raise
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


def runs_in_target_stage(dockerfile: Path) -> bool:
    """Whether a RUN executes in a stage built for the target platform. Stages
    ``FROM --platform=$BUILDPLATFORM`` (and stages built on them) run on the build host and
    cross-compile; an unreadable Dockerfile counts as running (the safe answer)."""
    try:
        text = dockerfile.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return True
    host_stages: set[str] = set()
    on_host = False
    for line in text.replace("\\\n", " ").splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        keyword = words[0].upper()
        if keyword == "FROM":
            flags = [w for w in words[1:] if w.startswith("--")]
            rest = [w for w in words[1:] if not w.startswith("--")]
            platform = next((f.split("=", 1)[1] for f in flags if f.startswith("--platform=")), "")
            base = rest[0].lower() if rest else ""
            on_host = "BUILDPLATFORM" in platform or (not platform and base in host_stages)
            if len(rest) >= 3 and rest[1].upper() == "AS" and on_host:
                host_stages.add(rest[2].lower())
        elif keyword == "RUN" and not on_host:
            return True
    return False


def _metadata_digest(path: Path) -> str | None:
    """``containerimage.digest`` from buildx's ``--metadata-file``."""
    try:
        data: Any = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    digest = data.get("containerimage.digest") if isinstance(data, dict) else None
    return digest if isinstance(digest, str) and digest.startswith("sha256:") else None
