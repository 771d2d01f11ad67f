"""Shared fixtures: real git repositories and a real registry."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.gitrepo import make_repo
from tests.support.registry import RunningRegistry, run_registry

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture
def repo_factory(tmp_path: Path) -> Callable[..., Path]:
    """``repo_factory("v1.0.0", "v1.1.0")`` makes a real git repo with those tags."""
    counter = iter(range(1000))

    def make(*tags: str, annotated: bool = True) -> Path:
        return make_repo(tmp_path / f"repo{next(counter)}", tags=tags, annotated=annotated)

    return make


@pytest.fixture(scope="session")
def registry() -> Iterator[RunningRegistry]:
    """One plain-http loopback registry shared by the session (tests use distinct repositories)."""
    with run_registry() as running:
        yield running


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"../shared not found at {SHARED}")
    return SHARED
