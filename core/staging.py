"""Copy mode's build context: each platform's binary where the Dockerfile's COPY looks for it.

A Dockerfile only knows ``TARGETARCH`` (``amd64``, ``arm64``) and friends, while binaries sit
where their toolchain put them (``target/aarch64-unknown-linux-gnu/release/app``), and a
``FROM scratch`` image has no shell to translate one into the other. So the release hands the
engine a staged context: the project's context as the engine would send it (ignore files
applied, symlinks resolved), plus each platform's binary at the path its COPY source expands
to. The project's tree is never written; the staged directory is removed after the build.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import posixpath
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING

from core.binaries import BinaryCheck, check_binaries, check_dockerfile_copy
from core.dockerfile import PLATFORM_ARGS, Copy, Dockerfile, Stage, expand, read_dockerfile
from core.errors import BinaryError, DockerfileError, DockyardError
from core.platforms import Platform

if TYPE_CHECKING:
    from core.plan import Plan

_GLOB = re.compile(r"[*?\[]")
_REMOTE = ("http://", "https://", "git@", "git://")
# A platform no build has: a source that expands to something holding the mark depends on the
# platform, also through an ARG default or ENV value set from a platform ARG.
_MARK = "\0"
_PROBE = Platform(_MARK + "os", _MARK + "arch", _MARK + "variant")


@dataclass(frozen=True)
class Placement:
    """One platform-dependent COPY source: what fills it for one platform.

    ``binary`` is the platform's binary (None when a file of the project's context fills the
    path); ``staged`` says the binary is moved to a path of its own, rather than the Dockerfile
    copying it from where it was built (it is laid into the staged context either way, so an
    ignore file never drops it).
    """

    platform: Platform
    binary: Path | None
    path: str
    copy: str
    staged: bool
    at: str = ""  # where the binary lies in the staged context ("" for a file of the context)

    def shown(self, root: Path) -> str:
        """``binary → path in the context → COPY line``, for the dry run."""
        if self.binary is None:
            source = "file of the context"
        else:
            try:
                source = str(self.binary.relative_to(root))
            except ValueError:
                source = str(self.binary)
        return f"{source} → {self.at or self.path} → {self.copy}"


@dataclass(frozen=True)
class CopyPreflight:
    """Copy mode checked before a plan exists: each binary, and the Dockerfile's COPY lines.
    Problems are data (one line each, "" / None when there is none), for the wizard to show."""

    checks: tuple[BinaryCheck, ...]
    problem: str  # why the binaries could not be checked at all
    dockerfile_problem: str | None  # the Dockerfile cannot place the binaries


def preflight_copy(template: str, dockerfile: Path, context: Path,
                   platforms: Sequence[Platform]) -> CopyPreflight:
    """The binary checks and the COPY-by-TARGETARCH check; the staged layout too once every
    binary is fine, so a COPY nothing fills shows here rather than at run time."""
    checks: list[BinaryCheck] = []
    problem = ""
    if not template:
        problem = "binary: give the path template, e.g. dist/{arch}/app"
    else:
        try:
            checks = check_binaries(context, template, platforms)
        except DockyardError as err:
            problem = str(err)
    dockerfile_problem = None
    try:
        check_dockerfile_copy(dockerfile)
        if checks and all(check.ok for check in checks):
            copy_layout(dockerfile, context, checks)
    except DockyardError as err:
        dockerfile_problem = str(err)
    return CopyPreflight(tuple(checks), problem, dockerfile_problem)


def copy_layout(
    dockerfile: Path,
    context: Path,
    checks: Sequence[BinaryCheck],
    *,
    target: str | None = None,
    build_args: Mapping[str, str] | None = None,
) -> tuple[Placement, ...]:
    """Where each platform's binary goes, checked against the Dockerfile; raises on the first
    COPY that nothing fills, on two platforms needing different binaries at one path, and on
    a dynamically linked binary copied into a ``FROM scratch`` stage."""
    parsed = read_dockerfile(dockerfile)
    rules = ignore_rules(context, dockerfile)
    args = dict(build_args or {})
    stages = parsed.reachable(target)
    placements: list[Placement] = []
    owners: dict[str, BinaryCheck] = {}
    for check in checks:
        found = _platform_sources(parsed, stages, check.platform, args, dockerfile)
        if not found:
            raise DockerfileError(
                f"{dockerfile}: no COPY or ADD source depends on the platform, so "
                f"{check.platform} would not get its own binary",
                "declare `ARG TARGETARCH` in the stage and copy e.g. "
                "`COPY dist/${TARGETARCH}/app /app`",
            )
        binary_rel = _relative(check.path, context)
        chosen = _choose(found, binary_rel, check.path.name, context, rules)
        if chosen is None:
            shown = ", ".join(f"{path} ({_where(dockerfile, copy)})" for _, copy, path in found)
            raise DockerfileError(
                f"{dockerfile}: no COPY takes {binary_rel} for {check.platform}: the "
                f"platform's sources {shown} are files of the context",
                "copy the binary with a source that expands to a path no file fills, e.g. "
                "`COPY dist/${TARGETARCH}/app /app`",
            )
        for stage, copy, path in found:
            where = _where(dockerfile, copy)
            if path == chosen[0]:
                at, staged = chosen[1], chosen[2]
                _require_static(parsed, stage, check, binary_rel, where)
                _require_one_owner(owners, at, check, where, context)
                placements.append(Placement(check.platform, check.path, path, where, staged, at))
            elif _filled_by_context(context, path, rules):
                placements.append(Placement(check.platform, None, path, where, False))
            else:
                raise DockerfileError(
                    f"{where}: {path} for {check.platform} is filled by no binary and no file "
                    f"of the context (the binary {binary_rel} goes to {chosen[0]})",
                    "copy one platform-dependent path per binary, or add that file",
                )
    return tuple(placements)


def _where(dockerfile: Path, copy: Copy) -> str:
    return f"{dockerfile.name}:{copy.line} {copy.text}"


def _platform_sources(
    parsed: Dockerfile, stages: Sequence[Stage], platform: Platform,
    build_args: Mapping[str, str], dockerfile: Path,
) -> list[tuple[Stage, Copy, str]]:
    """``(stage, COPY, expanded source)`` for each context source that uses a platform ARG."""
    found: list[tuple[Stage, Copy, str]] = []
    for stage in stages:
        for copy in stage.copies:
            if copy.from_stage is not None:
                continue
            env = parsed.stage_env(stage, copy.instruction, platform, build_args)
            for source in copy.sources:
                if source.startswith(_REMOTE):
                    continue
                result = expand(source, env, parsed.escape)
                uses = sorted(result.used & set(PLATFORM_ARGS))
                probe = parsed.stage_env(stage, copy.instruction, _PROBE, build_args)
                if not uses and _MARK not in expand(source, probe, parsed.escape).text:
                    continue  # neither directly nor through an ARG or ENV set from one
                missing = [name for name in uses if name not in env]
                if missing:
                    raise DockerfileError(
                        f"{_where(dockerfile, copy)}: uses ${missing[0]} but its stage does not "
                        f"declare ARG {missing[0]}, so it expands to nothing",
                        f"add `ARG {missing[0]}` after that stage's FROM",
                    )
                path = posixpath.normpath(result.text.lstrip("/"))
                if path == ".." or path.startswith("../"):
                    raise DockerfileError(
                        f"{_where(dockerfile, copy)}: {result.text} is outside the build context",
                        "copy from a path inside the context",
                    )
                found.append((stage, copy, path))
    return found


def _choose(
    found: Sequence[tuple[Stage, Copy, str]], binary_rel: str, name: str, context: Path,
    rules: Sequence[Rule],
) -> tuple[str, str, bool] | None:
    """``(source, path of the binary in the staged context, moved?)``: the source that is the
    binary's own path; else one ending in the binary's name; else the first no file fills."""
    paths = [path for _, _, path in found]
    for path in paths:
        if path == binary_rel or (_GLOB.search(path) and fnmatchcase(binary_rel, path)):
            return path, binary_rel, False
    for path in paths:
        if _GLOB.search(path):
            at = posixpath.join(posixpath.dirname(path), name)
            if not _GLOB.search(at) and fnmatchcase(at, path):
                return path, at, True
        elif posixpath.basename(path) == name and not _filled_by_context(context, path, rules):
            return path, path, True
    for path in paths:
        if not _GLOB.search(path) and not _filled_by_context(context, path, rules):
            return path, path, True
    return None


def _filled_by_context(context: Path, path: str, rules: Sequence[Rule]) -> bool:
    """A file of the context that the engine would receive (not ignored) is at ``path``."""
    if _GLOB.search(path):
        return any(not is_ignored(rules, found.relative_to(context).as_posix())
                   for found in context.glob(path))
    return (context / path).exists() and not is_ignored(rules, path)


def _require_one_owner(
    owners: dict[str, BinaryCheck], path: str, check: BinaryCheck, where: str, context: Path
) -> None:
    first = owners.setdefault(path, check)
    if first is check or first.path == check.path:
        return
    hint = (
        "tell them apart with ${TARGETVARIANT}, e.g. COPY dist/${TARGETARCH}${TARGETVARIANT}/app"
        if first.platform.arch == check.platform.arch
        else "use ${TARGETARCH} in the source path"
    )
    raise DockerfileError(
        f"{where}: {path} would need two different binaries, "
        f"{_relative(first.path, context)} for {first.platform} and "
        f"{_relative(check.path, context)} for {check.platform}",
        hint,
    )


def _require_static(
    parsed: Dockerfile, stage: Stage, check: BinaryCheck, binary_rel: str, where: str
) -> None:
    """A ``FROM scratch`` stage has no dynamic loader or libc for the binary to run."""
    if check.elf is None or check.elf.static or not _is_scratch(parsed, stage, check.platform):
        return
    raise BinaryError(
        f"{binary_rel} is dynamically linked (interpreter {check.elf.interpreter}) but "
        f"{where} copies it into a FROM scratch stage, which has no libc",
        "link it statically (Rust: a *-linux-musl target or -C target-feature=+crt-static; "
        "Go: CGO_ENABLED=0) or build FROM an image with libc",
    )


def _is_scratch(parsed: Dockerfile, stage: Stage, platform: Platform) -> bool:
    current: Stage | None = stage
    while current is not None:
        parent = parsed.base_stage(current, platform)
        if parent is None:
            base = expand(current.base, parsed.global_env(platform, {}), parsed.escape).text
            return base.lower() == "scratch"
        current = parent
    return False


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


# --- the staged context ---------------------------------------------------------------------


@contextlib.contextmanager
def staged_context(plan: Plan) -> Iterator[Plan]:
    """The plan to hand the engine: in copy mode its context and Dockerfile point into a
    staged directory (removed afterwards, also on failure); other modes pass through."""
    if plan.mode != "copy" or not plan.binaries:
        yield plan
        return
    layout = copy_layout(plan.dockerfile, plan.context, plan.binaries,
                         target=plan.build.target, build_args=dict(plan.build.build_args))
    directory = Path(tempfile.mkdtemp(prefix="dockyard-context-"))
    try:
        context = directory / "context"
        build_context(plan.context, plan.dockerfile, layout, context)
        dockerfile = directory / "dockerfile" / plan.dockerfile.name
        dockerfile.parent.mkdir()
        shutil.copyfile(plan.dockerfile, dockerfile)
        yield dataclasses.replace(plan, context=context, dockerfile=dockerfile)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def build_context(
    source: Path, dockerfile: Path, layout: Sequence[Placement], into: Path
) -> None:
    """Lay out ``into`` as the engine would receive ``source``, plus the staged binaries.

    The ignore file is applied here and not copied: the engine would otherwise apply it again
    to the staged binaries (Rust projects often ignore ``target/``)."""
    rules = ignore_rules(source, dockerfile)
    into.mkdir(parents=True)
    _copy_tree(source, into, "", rules, set())
    for placement in layout:
        if placement.binary is None:
            continue
        target = into / placement.at
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_symlink() or target.is_file():
                target.unlink()
        except OSError as err:
            raise DockerfileError(
                f"cannot stage {placement.path} for {placement.platform}: {err.strerror}",
                "a file of the context is in the way of that path",
            ) from None
        _link_or_copy(placement.binary.resolve(), target)


IGNORE_FILES = (".containerignore", ".dockerignore")


def ignore_file(context: Path, dockerfile: Path) -> Path | None:
    """The ignore file an engine reads: ``<Dockerfile>.dockerignore`` beside the Dockerfile
    (BuildKit), else ``.containerignore`` (podman) or ``.dockerignore`` in the context."""
    candidates = [dockerfile.with_name(dockerfile.name + ".dockerignore")]
    candidates += [context / name for name in IGNORE_FILES]
    return next((path for path in candidates if path.is_file()), None)


Rule = tuple[bool, re.Pattern[str]]


def ignore_rules(context: Path, dockerfile: Path) -> list[Rule]:
    """``(exclude?, pattern)`` pairs; the last matching pattern decides, ``!`` re-includes."""
    path = ignore_file(context, dockerfile)
    rules: list[Rule] = [(True, re.compile(re.escape(name))) for name in IGNORE_FILES]
    if path is None:
        return rules
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        include = line.startswith("!")
        pattern = posixpath.normpath(line[1:].strip() if include else line).lstrip("/")
        if pattern in (".", ""):
            continue
        rules.append((not include, re.compile(_translate(pattern) + "(?:/.*)?")))
    return rules


def _translate(pattern: str) -> str:
    """A Go ``filepath.Match`` pattern with ``**`` (any number of directories) as a regex."""
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
            continue
        if pattern.startswith("**", index):
            out.append(".*")
            index += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", index + 1)
            if end < 0:
                out.append(re.escape(char))
            else:
                body = pattern[index + 1 : end]
                if body.startswith(("!", "^")):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                index = end
        elif char == "\\" and index + 1 < len(pattern):
            index += 1
            out.append(re.escape(pattern[index]))
        else:
            out.append(re.escape(char))
        index += 1
    return "".join(out)


def is_ignored(rules: Sequence[Rule], relative: str) -> bool:
    ignored = False
    for exclude, pattern in rules:
        if pattern.fullmatch(relative):
            ignored = exclude
    return ignored


def _copy_tree(
    source: Path, into: Path, prefix: str, rules: Sequence[Rule], seen: set[Path]
) -> None:
    """Hard-link (or copy) every file not ignored; symlinks are followed, cycles skipped."""
    real = source.resolve()
    if real in seen:
        return
    seen = seen | {real}
    reincludes = any(not exclude for exclude, _ in rules)
    with os.scandir(source) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            relative = f"{prefix}{entry.name}"
            try:
                info = os.stat(entry.path)  # follows symlinks
            except OSError:
                continue  # a dangling link: nothing to send
            ignored = is_ignored(rules, relative)
            if stat.S_ISDIR(info.st_mode):
                if ignored and not reincludes:
                    continue
                (into / relative).mkdir(exist_ok=True)
                _copy_tree(Path(entry.path), into, relative + "/", rules, seen)
            elif stat.S_ISREG(info.st_mode) and not ignored:
                _link_or_copy(Path(entry.path).resolve(), into / relative)


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link on the same filesystem (no bytes copied), a copy across filesystems."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
