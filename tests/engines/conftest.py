"""Helpers for engine tests: plans built directly, and the recorded buildx output."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from core.plan import BuildOptions, ImagePlan, Plan
from core.platforms import parse_platforms
from core.reference import parse_image_name
from core.tags import TagSet
from core.version import parse_version

BUILDX_FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "buildx"

PlanFactory = Callable[..., Plan]


@pytest.fixture
def buildx_fixtures() -> Path:
    if not BUILDX_FIXTURES.is_dir():
        pytest.skip(f"recorded buildx output not found at {BUILDX_FIXTURES}")
    return BUILDX_FIXTURES


def build_plan(
    root: Path,
    *,
    images: Sequence[str] = ("127.0.0.1:5000/demo",),
    platforms: Sequence[str] = ("linux/amd64", "linux/arm64"),
    version: str = "v1.2.3",
    aliases: Sequence[str] = ("1.2", "1", "latest"),
    mode: str = "build",
    commit: str = "0123456789abcdef0123456789abcdef01234567",
    binary: str | None = None,
    build: BuildOptions | None = None,
    dockerfile: str = "Dockerfile",
) -> Plan:
    """A Plan value made directly (the git/config checks of make_plan are not under test here)."""
    parsed = parse_version(version)
    tags = TagSet(version_tag=parsed.image_tag, aliases=tuple(aliases), withheld=())
    return Plan(
        root=root,
        version=parsed,
        commit=commit,
        images=tuple(ImagePlan(name=parse_image_name(name), tags=tags) for name in images),
        platforms=parse_platforms(platforms),
        mode=mode,
        dockerfile=root / dockerfile,
        context=root,
        binary_template=binary,
        build=build or BuildOptions(),
    )


@pytest.fixture
def plan_factory(tmp_path: Path) -> PlanFactory:
    def make(**kwargs: object) -> Plan:
        root = kwargs.pop("root", tmp_path)
        assert isinstance(root, Path)
        return build_plan(root, **kwargs)  # type: ignore[arg-type]

    return make


def recorded_pow_lines(fixtures: Path, section: str) -> list[str]:
    """The lines python-on-whales yielded in one section of pow-stream-slow-and-fail.txt
    ("slow" or "fail"), newline stripped: real buildx plain output, including a failure."""
    import ast
    import re

    text = (fixtures / "pow-stream-slow-and-fail.txt").read_text()
    start = "=== slow build" if section == "slow" else "=== failing build"
    body = text.split(start, 1)[1].split("\n", 1)[1]
    lines: list[str] = []
    for raw in body.splitlines():
        match = re.match(r"^\s*(?:\[[^\]]*\]\s*)?('.*')$", raw)
        if match is None:
            break  # the end of the section ("=== ..." or "EXC type: ...")
        lines.append(ast.literal_eval(match.group(1)).rstrip("\n"))
    return lines
