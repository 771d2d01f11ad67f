"""The release plan: one immutable value, validated once, rendered as JSON, text and commands."""

from __future__ import annotations

import dataclasses
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import paths
from core.binaries import BinaryCheck, check_dockerfile_copy, require_binaries
from core.config import ProjectConfig, load_config
from core.dockerfile import read_dockerfile, stage_names
from core.errors import (
    BinaryError,
    DockerfileError,
    DockyardError,
    EngineError,
    ImageRefError,
    ModeError,
    PlatformError,
)
from core.platforms import Platform, parse_platforms
from core.reference import ImageName, parse_image_name, parse_reference
from core.repo import ProjectRepo
from core.staging import Placement, copy_layout
from core.tags import TagPolicy, TagSet, compute_tags, validate_tag
from core.version import ReleaseVersion

MODES = ("build", "copy")
_BUILD_ARG = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BUILDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")  # buildx builder (and context) names
# Set by the engine per platform: an override would label one platform's bytes as another's.
RESERVED_BUILD_ARGS = (
    "TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT",
    "BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT",
)


@dataclass(frozen=True)
class BuildOptions:
    """Build-mode knobs passed through to the engine."""

    cache_from: str | None = None
    cache_to: str | None = None
    build_args: tuple[tuple[str, str], ...] = ()
    target: str | None = None
    provenance: bool = True
    sbom: bool = False


@dataclass(frozen=True)
class ImagePlan:
    name: ImageName
    tags: TagSet


@dataclass(frozen=True)
class Plan:
    root: Path
    version: ReleaseVersion
    commit: str
    images: tuple[ImagePlan, ...]
    platforms: tuple[Platform, ...]
    mode: str
    dockerfile: Path
    context: Path
    binary_template: str | None = None
    binaries: tuple[BinaryCheck, ...] = ()
    build: BuildOptions = field(default_factory=BuildOptions)
    engine: str = "auto"  # "auto" | "buildx" | "podman": how, kept with what; plan_engine
    # turns it into the engine, so the dry run, the TUI and the CLI run the same one
    builder: str | None = None  # buildx builder; None: the current one (docker buildx use)
    ca_file: Path | None = None  # a private registry CA, trusted besides the system's
    layout: tuple[Placement, ...] = ()  # copy mode: where each binary goes in the context

    def to_dict(self, steps: Sequence[Sequence[str]] = ()) -> dict[str, Any]:
        """JSON-able form; ``steps`` are the engine's commands, in the order they would run."""
        return {
            "version": self.version.text,
            "git_tag": self.version.git_tag,
            "prerelease": self.version.prerelease,
            "commit": self.commit,
            "images": [
                {
                    "name": str(image.name),
                    "tags": list(image.tags.all),
                    "version_tag": image.tags.version_tag,
                    "aliases": list(image.tags.aliases),
                    "withheld": [
                        {"tag": tag, "reason": reason} for tag, reason in image.tags.withheld
                    ],
                }
                for image in self.images
            ],
            "platforms": [str(platform) for platform in self.platforms],
            "mode": self.mode,
            "dockerfile": _relative(self.dockerfile, self.root),
            "context": _relative(self.context, self.root),
            "binary_template": self.binary_template,
            "binaries": [
                {
                    "platform": str(check.platform),
                    "path": _relative(check.path, self.root),
                    "machine": check.elf.machine if check.elf else None,
                    "static": check.elf.static if check.elf else None,
                }
                for check in self.binaries
            ],
            "build": {
                "cache_from": self.build.cache_from,
                "cache_to": self.build.cache_to,
                "build_args": dict(self.build.build_args),
                "target": self.build.target,
                "provenance": self.build.provenance,
                "sbom": self.build.sbom,
            },
            "engine": self.engine,
            "builder": self.builder,
            "ca_file": str(self.ca_file) if self.ca_file else None,
            "layout": [
                {"platform": str(p.platform), "binary": _relative(p.binary, self.root)
                 if p.binary else None, "path": p.at or p.path, "copy": p.copy,
                 "staged": p.staged}
                for p in self.layout
            ],
            "steps": [list(step) for step in steps],
        }


@dataclass(frozen=True)
class PlanRequest:
    """What the user asked for; ``None``/empty means "take it from dockyard.toml or the default"."""

    root: Path
    tag: str | None = None
    images: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    mode: str | None = None
    binary: str | None = None
    dockerfile: str | None = None
    context: str | None = None
    build: BuildOptions = field(default_factory=BuildOptions)
    tag_policy: TagPolicy | None = None
    engine: str | None = None
    builder: str | None = None
    ca_file: Path | None = None


def parse_build_arg(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` for ``--build-arg``; the key must be a valid ARG name."""
    key, sep, value = text.partition("=")
    if not sep or not _BUILD_ARG.match(key):
        raise ModeError(
            f"build arg {paths.shown(text)!r} is not KEY=VALUE",
            "write it as NAME=value with NAME made of letters, digits and _",
            field="build-arg",
        )
    check_build_arg_name(key)
    return key, value


def check_build_arg_name(key: str) -> None:
    """Refuse the platform args the engine sets itself, in either mode: in copy mode
    ``TARGETARCH=arm64`` would publish the amd64 binary in the arm64 image."""
    if key.upper() in RESERVED_BUILD_ARGS:
        raise ModeError(
            f"{key} is set by the build engine for each platform and cannot be overridden",
            "choose platforms with --platform; reserved: " + ", ".join(RESERVED_BUILD_ARGS),
            field="build-arg",
        )


def make_plan(request: PlanRequest, *, binaries: bool = True) -> Plan:
    """Validate every part of the request against the repo and config; raise on the first fault.
    ``binaries`` off leaves copy mode's binaries unchecked: for a merge, which builds nothing,
    and for a part until its own platforms are known (``with_binaries``)."""
    _refuse_empty(request)
    for key, _ in request.build.build_args:
        if not _BUILD_ARG.match(key):
            raise ModeError(f"{key!r} is not a build arg name", "use letters, digits and _",
                            field="build-arg")
        check_build_arg_name(key)
    repo = ProjectRepo.open(request.root)
    config = load_config(repo.root)
    merged = _merge(request, config, repo.root)
    images = _images(merged.images)
    platforms = _platforms(merged.platforms)
    mode = _mode(merged.mode, merged.binary)
    builder = _builder(merged.builder, merged.engine)
    dockerfile = _dockerfile(repo.root, merged.dockerfile or "Dockerfile")
    context = _context(repo.root, merged.context or ".")
    if merged.build.target is not None:
        _target(dockerfile, merged.build.target)
    found: tuple[BinaryCheck, ...] = ()
    layout: tuple[Placement, ...] = ()
    if mode == "copy":
        if not merged.binary:
            raise ModeError(
                "copy mode needs the path of the cross-compiled binaries",
                "pass --binary TEMPLATE, e.g. dist/{arch}/app or target/{triple}/release/app",
                field="binary",
            )
        if binaries:
            found, layout = _copy_inputs(dockerfile, context, merged.binary, platforms,
                                         merged.build)
    if merged.build.cache_from is not None:
        _cache_ref(merged.build.cache_from, "cache-from")
    if merged.build.cache_to is not None:
        _cache_ref(merged.build.cache_to, "cache-to")

    version = repo.require_release(merged.tag)
    commit = repo.head_commit()
    policy = merged.tag_policy or config.tags
    for extra in policy.extra:
        validate_tag(extra)
    tag_set = compute_tags(version, repo.version_tags(), policy, commit)
    return Plan(
        root=repo.root,
        version=version,
        commit=commit,
        images=tuple(ImagePlan(name=name, tags=tag_set) for name in images),
        platforms=platforms,
        mode=mode,
        dockerfile=dockerfile,
        context=context,
        binary_template=merged.binary if mode == "copy" else None,
        binaries=found,
        build=merged.build,
        engine="buildx" if builder and merged.engine in (None, "auto") else merged.engine or "auto",
        builder=builder,
        ca_file=_ca_file(merged.ca_file),
        layout=layout,
    )



def with_binaries(plan: Plan) -> Plan:
    """``plan`` with copy mode's binaries found and placed for the platforms it plans: what a
    machine building them must have (a part checks its own platforms only)."""
    if plan.mode != "copy" or plan.binary_template is None:
        return plan
    found, layout = _copy_inputs(plan.dockerfile, plan.context, plan.binary_template,
                                 plan.platforms, plan.build)
    return dataclasses.replace(plan, binaries=found, layout=layout)


def _copy_inputs(dockerfile: Path, context: Path, template: str,
                 platforms: Sequence[Platform], build: BuildOptions,
                 ) -> tuple[tuple[BinaryCheck, ...], tuple[Placement, ...]]:
    """Each platform's binary (present, right architecture, runnable in its stage) and where
    the staged context puts it; raises on the first fault."""
    check_dockerfile_copy(dockerfile)
    found = tuple(require_binaries(context, template, platforms))
    layout = copy_layout(dockerfile, context, found, target=build.target,
                         build_args=dict(build.build_args))
    return found, layout

def _merge(request: PlanRequest, config: ProjectConfig, root: Path) -> PlanRequest:
    """Flags win over dockyard.toml; dockyard.toml wins over defaults."""
    return dataclasses.replace(
        request,
        images=request.images or config.images,
        platforms=request.platforms or config.platforms,
        mode=request.mode or config.mode,
        binary=request.binary or config.binary,
        dockerfile=request.dockerfile or config.dockerfile,
        context=request.context or config.context,
        engine=request.engine or config.engine,
        ca_file=request.ca_file or (root / config.ca_file if config.ca_file else None),
    )


def _images(names: Sequence[str]) -> tuple[ImageName, ...]:
    if not names:
        raise ImageRefError(
            "no image given", "pass --image REGISTRY/NAMESPACE/NAME or set images in dockyard.toml"
        )
    parsed: list[ImageName] = []
    for text in names:
        name = parse_image_name(text)
        if name in parsed:
            raise ImageRefError(f"{text!r} is given twice", "list each image once")
        parsed.append(name)
    return tuple(parsed)


def _platforms(items: Sequence[str]) -> tuple[Platform, ...]:
    if not items:
        raise PlatformError(
            "no platform selected",
            "pass --platform linux/amd64,linux/arm64 or set platforms in dockyard.toml",
        )
    return parse_platforms(items)


def _mode(mode: str | None, binary: str | None) -> str:
    if mode is None:
        return "copy" if binary else "build"
    if mode not in MODES:
        raise ModeError(f"{mode!r} is not a build mode", "use build or copy")
    return mode


def _refuse_empty(request: PlanRequest) -> None:
    """A flag given as "" is a mistake, not "use the default": ``--binary ''`` must not
    quietly switch to build mode, nor ``--dockerfile ''`` to ./Dockerfile."""
    given = {
        "tag": request.tag, "mode": request.mode, "binary": request.binary,
        "dockerfile": request.dockerfile, "context": request.context, "engine": request.engine,
        "builder": request.builder, "cache-from": request.build.cache_from,
        "cache-to": request.build.cache_to, "target": request.build.target,
    }
    for name, value in given.items():
        if value is not None and not value.strip():
            error = BinaryError if name == "binary" else DockyardError
            raise error(f"--{name} is empty", f"give a value, or leave --{name} out for the "
                        "default", field=name)


def _dockerfile(root: Path, relative: str) -> Path:
    """The Dockerfile: inside the project (symlinks too) and a regular file."""
    path = paths.inside(root, relative, DockerfileError)
    found = paths.status(path, relative, DockerfileError)
    if found is None:
        raise DockerfileError(
            f"{paths.shown(relative)} does not exist",
            "pass --dockerfile PATH relative to the project root",
        )
    if not stat.S_ISREG(found.st_mode):
        raise DockerfileError(f"{paths.shown(relative)} is {paths.kind(found)}, not a file",
                              "pass --dockerfile PATH of the Dockerfile itself")
    return path


def _context(root: Path, relative: str) -> Path:
    """The build context: a directory inside the project (symlinks too)."""
    path = paths.inside(root, relative, DockerfileError, field="context")
    found = paths.status(path, relative, DockerfileError, field="context")
    if found is None or not stat.S_ISDIR(found.st_mode):
        what = "does not exist" if found is None else f"is {paths.kind(found)}"
        raise DockerfileError(
            f"build context {paths.shown(relative)} {what}",
            "pass --context DIR relative to the project root",
            field="context",
        )
    return path


def _target(dockerfile: Path, target: str) -> None:
    """``--target`` names a stage of the Dockerfile (BuildKit compares names lowercased)."""
    stages = stage_names(read_dockerfile(dockerfile))
    if target.lower() not in stages:
        raise DockerfileError(
            f"{paths.shown(target)!r} is not a stage of {dockerfile.name}",
            "stages: " + ", ".join(stages) if stages else "name a stage with FROM image AS name",
            field="target",
        )


def _builder(name: str | None, engine: str | None) -> str | None:
    """A buildx builder name (``docker buildx ls`` lists them); only buildx has builders."""
    if name is None:
        return None
    if not _BUILDER.match(name):
        raise EngineError(
            f"{name!r} is not a builder name",
            "use a name from `docker buildx ls` (letters, digits, '.', '_', '-')",
            field="builder",
        )
    if engine == "podman":
        raise EngineError(
            "podman has no buildx builders",
            "drop --builder, or use --engine buildx",
            field="builder",
        )
    return name


def _cache_ref(text: str, field_name: str) -> None:
    """Cache refs are image references (``type=registry,ref=`` is added by the engine)."""
    try:
        parse_reference(text)
    except ImageRefError as err:
        raise ModeError(err.problem, err.valid, field=field_name) from None


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root)) or "."
    except ValueError:
        return str(path)


def _ca_file(path: Path | None) -> Path | None:
    """``--ca-file`` or dockyard.toml's ``ca_file`` (relative to the project): may be anywhere,
    must be a PEM file."""
    if path is None:
        return None
    # httpx: only a plan with --ca-file needs the registry module
    from core.registry import check_ca_file

    return check_ca_file(path.expanduser())
