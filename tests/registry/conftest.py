"""Fixtures for the registry client tests: the real registry, a proxy in front of it, content."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from core.registry import RegistryClient
from tests.registry.content import Pushed, Pusher
from tests.registry.proxy import FaultProxy, running
from tests.support.registry import RunningRegistry


@pytest.fixture(scope="session")
def pusher(registry: RunningRegistry) -> Iterator[Pusher]:
    push = Pusher(registry.url)
    yield push
    push.close()


@pytest.fixture
def proxy(registry: RunningRegistry) -> Iterator[FaultProxy]:
    """A counting, fault-injecting reverse proxy on loopback in front of the session registry."""
    with running(FaultProxy(registry.host)) as started:
        yield started


@dataclass
class Sleeps:
    """Records the waits the client asked for, so backoff is checked without waiting."""

    calls: list[float]

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps([])


@pytest.fixture
def make_client(sleeps: Sleeps) -> Iterator[Callable[..., RegistryClient]]:
    """``make_client(host, **options)``: a RegistryClient that records its sleeps; closed after."""
    made: list[RegistryClient] = []

    def make(host: str, **options: object) -> RegistryClient:
        options.setdefault("sleep", sleeps)
        client = RegistryClient(host, **options)  # type: ignore[arg-type]
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@dataclass(frozen=True)
class Published:
    repo: str
    version: str
    index: Pushed
    aliases: tuple[str, ...]


@pytest.fixture(scope="module")
def published(pusher: Pusher, request: pytest.FixtureRequest) -> Published:
    """A two-platform OCI index with provenance attestations, as buildx pushes it, plus aliases.

    One repository per test module, so modules never see each other's tags.
    """
    repo = f"dy/{request.module.__name__.rsplit('.', 1)[-1].replace('_', '-')}"
    index = pusher.index(repo, "1.2.3", ["linux/amd64", "linux/arm64"])
    aliases = ("latest", "1.2", "1")
    for alias in aliases:
        pusher.tag(repo, alias, index)
    return Published(repo, "1.2.3", index, aliases)
