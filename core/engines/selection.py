"""The engine registry: which build engines exist and which one ``--engine auto`` picks.

Kept apart from ``core.engines.base`` so that the base, which every engine imports, imports none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.engines.base import Engine, EngineOptions
from core.engines.buildx import BuildxEngine, buildx_available
from core.engines.podman import PodmanEngine, podman_available
from core.errors import EngineError

if TYPE_CHECKING:
    from core.plan import Plan

#: The engines ``--engine`` accepts, in the order auto tries them.
ENGINES = ("buildx", "podman")


def select_engine(name: str | None, options: EngineOptions | None = None) -> Engine:
    """``--engine buildx|podman``, or (auto) buildx when its selected or current builder answers
    ``buildx inspect --bootstrap``, else podman with a one-line ``note`` saying why. With
    ``--engine buildx`` or a named builder there is no fallback: the builder's error is the answer.
    The probe's answer stays on the engine, so a run asks the builder once."""
    opts = options or EngineOptions()
    if name is not None and name not in ENGINES:
        raise EngineError(f"{name!r} is not an engine", "use --engine buildx or --engine podman")
    buildx_problem, note = "", ""
    if name in (None, "buildx"):
        problem = buildx_available(opts)
        if problem is None:
            buildx = BuildxEngine(opts)
            try:
                buildx.builder()
                return buildx
            except EngineError as err:
                if name == "buildx" or opts.builder:
                    raise
                buildx_problem = err.problem
                note = f"using podman because {err.problem}"
        elif name == "buildx" or opts.builder:
            raise EngineError(
                f"docker buildx is not usable: {problem}",
                "install the docker buildx plugin (Debian: docker-buildx) or use --engine podman",
            )
        else:
            buildx_problem = f"docker buildx is not usable: {problem}"
    problem = podman_available(opts)
    if problem is None:
        podman = PodmanEngine(opts)
        podman.note = note
        return podman
    if name == "podman":
        raise EngineError(f"podman is not usable: {problem}", "install podman (Debian: podman)")
    raise EngineError(
        f"neither engine is usable: {buildx_problem}; podman is not usable: {problem}",
        "install the docker buildx plugin (Debian: docker-buildx) or podman (Debian: podman), "
        "or start a buildx builder",
    )


def plan_engine(plan: Plan, options: EngineOptions | None = None) -> Engine:
    """The engine ``plan`` names, on its builder. Every caller (dry run, run, a part's native
    platform) asks here, so the engine comes from one value of the plan."""
    return choose_engine(plan.engine, plan.builder, options)


def choose_engine(name: str | None, builder: str | None,
                  options: EngineOptions | None = None) -> Engine:
    """The one rule: "auto" (or None) is buildx when its builder answers, else podman; a builder
    means buildx. The Platforms step asks it before a plan exists, to show what will build.
    ``options`` default to the environment's."""
    chosen = (options or EngineOptions.from_env()).with_builder(builder)
    return select_engine(None if name in (None, "auto") else name, chosen)
