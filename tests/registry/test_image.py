"""core.image: the one walk (index -> platform manifests -> configs) on real registry content."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from core.errors import RegistryError
from core.image import find_image, read_image, read_platform
from core.platforms import parse_platform
from core.registry import RegistryClient
from tests.registry.conftest import Published
from tests.registry.content import DOCKER_LIST, Pusher
from tests.support.registry import RunningRegistry


@pytest.fixture
def client(registry: RunningRegistry) -> Iterator[RegistryClient]:
    with RegistryClient(registry.host, insecure=True) as made:
        yield made


def test_an_index_reads_every_platform_and_keeps_attestations_apart(
    client: RegistryClient, published: Published, registry: RunningRegistry,
) -> None:
    index = json.loads(published.index.raw)
    image = read_image(client, published.repo, "1.2.3")
    assert image.index is not None and image.digest == published.index.digest
    assert [str(p.declared) for p in image.platforms] == ["linux/amd64", "linux/arm64"]
    assert [p.digest for p in image.platforms] == [m["digest"] for m in index["manifests"][:2]]
    assert [a.refers_to for a in image.index.attestations] == [p.digest for p in image.platforms]
    for platform in image.platforms:  # the size is what the registry serves for its parts
        manifest = client.get_manifest(published.repo, platform.digest).json
        served = [httpx.get(f"{registry.url}/v2/{published.repo}/blobs/{blob['digest']}",
                            follow_redirects=True).content
                  for blob in [manifest["config"], *manifest["layers"]]]
        assert platform.size == sum(len(data) for data in served) > 0


def test_only_the_platforms_asked_for_are_read(
    client: RegistryClient, published: Published,
) -> None:
    before = client.request_count
    image = find_image(client, published.repo, "latest", only=[parse_platform("linux/arm64")])
    assert image is not None and image.index is not None
    assert len(image.index.entries) == 2  # both listed ...
    assert [str(p.declared) for p in image.platforms] == ["linux/arm64"]  # ... one read
    assert client.request_count - before == 1 + 2  # index, then its manifest and config


def test_a_single_manifest_and_a_size_without_the_config(
    client: RegistryClient, pusher: Pusher,
) -> None:
    pushed = pusher.image("dy/image-single", "linux", "arm", "v7")
    image = read_image(client, "dy/image-single", pushed.digest)
    assert image.index is None and image.is_image
    (only,) = image.platforms
    assert str(only.declared) == "linux/arm/v7"
    before = client.request_count
    sized = read_platform(client, "dy/image-single", pushed.digest, config=False)
    assert client.request_count - before == 1 and sized.config == {}
    assert sized.size == only.size > 0


def test_missing_things(client: RegistryClient, published: Published) -> None:
    assert find_image(client, published.repo, "no-such-tag") is None
    with pytest.raises(RegistryError, match="manifest no-such-tag not found"):
        read_image(client, published.repo, "no-such-tag")
    gone = read_platform(client, published.repo, "sha256:" + "0" * 64)
    assert not gone.found and not gone.is_image and gone.size == 0


def test_a_docker_manifest_list_reads_the_same(
    client: RegistryClient, pusher: Pusher,
) -> None:
    pusher.index("dy/image-list", "1.0.0", ["linux/amd64", "linux/arm/v7"], attest=False,
                 media_type=DOCKER_LIST)
    image = read_image(client, "dy/image-list", "1.0.0")
    assert image.media_type == DOCKER_LIST and image.index is not None
    assert [str(p.declared) for p in image.platforms] == ["linux/amd64", "linux/arm/v7"]
