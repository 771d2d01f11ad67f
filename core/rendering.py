"""The plan for people: a readable summary and the exact commands, shared by CLI and Review;
sizes, times and digests as the screens and commands show them."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from datetime import UTC, datetime

from core.engines.base import PUSH, EngineOptions, Output
from core.engines.buildx import BuildxEngine
from core.engines.podman import PodmanEngine
from core.engines.selection import plan_engine
from core.errors import EngineError
from core.plan import Plan
from core.sizes import human_size as human_size  # its users import it from here too


def plan_steps(
    plan: Plan, output: Output = PUSH, options: EngineOptions | None = None
) -> list[list[str]]:
    """The commands a run would execute. A dry run never fails for want of an engine: with
    none usable here it shows the default engine's (buildx) commands.

    podman's ``check`` runs nothing (it refuses options podman lacks, such as SBOMs, and reads
    binfmt_misc), so it is called here too: the dry run refuses what the run would refuse.
    buildx's asks the builder, so the run alone makes it.
    """
    options = (options or EngineOptions.from_env()).with_builder(plan.builder)
    try:
        selected = plan_engine(plan, options)
    except EngineError:
        if plan.engine != "auto":
            raise
        return BuildxEngine(options).commands(plan, output)
    if isinstance(selected, PodmanEngine | BuildxEngine):
        # podman's check runs nothing; buildx's asks the builder that just answered whether
        # it can run each platform's RUN steps: the dry run refuses what the run would
        selected.check(plan, output)
    return selected.commands(plan, output)


def plan_text(plan: Plan, steps: Sequence[Sequence[str]]) -> str:
    """A readable plan: what will be pushed where, which aliases move, and the commands."""
    kind = "prerelease" if plan.version.prerelease else "release"
    lines = [
        f"Release {plan.version.text} ({kind}) from git tag {plan.version.git_tag} "
        f"at {plan.commit[:12]}",
        f"Platforms: {', '.join(str(p) for p in plan.platforms)}",
        *([f"Builder: {plan.builder} (docker buildx)"] if plan.builder else []),
        f"Mode: {plan.mode} (Dockerfile {plan.dockerfile.relative_to(plan.root)})",
    ]
    for check in plan.binaries:
        elf = check.elf
        linking = "static" if elf and elf.static else "dynamic"
        machine = elf.machine if elf else "?"
        lines.append(f"  {check.platform}: {check.path.relative_to(plan.root)} "
                     f"({machine}, {linking})")
    if plan.layout:
        lines.append("Build context (binary → path in the context → COPY line):")
        lines.extend(f"  {p.platform}: {p.shown(plan.root)}" for p in plan.layout)
    for image in plan.images:
        lines.append(f"Image {image.name}")
        lines.append(f"  pushed first: {image.name.with_tag(image.tags.version_tag)}")
        for alias in image.tags.aliases:
            lines.append(f"  then moved:   {image.name.with_tag(alias)}")
        for alias, reason in image.tags.withheld:
            lines.append(f"  not moved:    {alias} ({reason})")
    lines.append("Steps:")
    lines.extend(f"  {number}. {shlex.join(step)}" for number, step in enumerate(steps, 1))
    return "\n".join(lines) + "\n"


def human_time(created: str | None) -> str:
    """``2026-11-22 09:41 UTC`` from an RFC 3339 time (nanoseconds allowed); raw if odd."""
    if not created:
        return "—"
    text = created.replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:  # Python reads at most microseconds
        digits = rest[: len(rest) - len(rest.lstrip("0123456789"))]
        text = f"{head}.{digits[:6]}{rest[len(digits):]}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return created
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def short_digest(digest: str) -> str:
    """``sha256:0123456789ab``: enough to tell digests apart on screen."""
    algorithm, _, hexdigits = digest.partition(":")
    return f"{algorithm}:{hexdigits[:12]}" if hexdigits else digest
