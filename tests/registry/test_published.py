"""What the registry holds, read for the never-backwards rule: against the real registry."""

from __future__ import annotations

import uuid

import pytest

from core.engines.base import VERSION_LABEL
from core.errors import RegistryError
from core.published import guard, read_published, version_of_tag
from core.registry import RegistryClient
from core.tags import TagSet
from core.version import parse_version
from tests.registry.content import Pusher
from tests.support.registry import RunningRegistry

PLATFORMS = ["linux/amd64", "linux/arm64"]


def repo() -> str:
    return f"published/{uuid.uuid4().hex[:10]}"


def test_version_tags_are_read_strictly() -> None:
    assert version_of_tag("1.2.3") == parse_version("1.2.3")
    assert version_of_tag("v1.2.3") == parse_version("v1.2.3")
    for other in ("latest", "1.2", "1", "sha-0123abc", "01.2.3", "1.2.3.4", "stable"):
        assert version_of_tag(other) is None


def test_a_newer_published_release_withholds_latest(
    registry: RunningRegistry, pusher: Pusher
) -> None:
    name = repo()
    newer = pusher.index(name, "1.1.0", PLATFORMS, labels={VERSION_LABEL: "1.1.0"})
    pusher.tag(name, "latest", newer)
    pusher.tag(name, "1", newer)
    pusher.index(name, "1.0.0", PLATFORMS, labels={VERSION_LABEL: "1.0.0"})
    pusher.index(name, "1.2.0-rc.1", PLATFORMS)  # prereleases neither take nor block
    version = parse_version("v1.0.1")
    with RegistryClient(registry.host) as client:
        published = read_published(client, name, version, ("1.0", "1", "latest"))
    assert published.releases == (parse_version("1.0.0"), parse_version("1.1.0"))
    assert published.aliases["latest"].digest == newer.digest
    assert published.aliases["latest"].version == parse_version("1.1.0")
    assert published.aliases["1.0"].digest is None
    held = guard(TagSet("1.0.1", ("1.0", "1", "latest"), ()), version, published)
    assert held.aliases == ("1.0",)
    assert dict(held.withheld) == {"1": "1.1.0 is published", "latest": "1.1.0 is published"}


def test_an_alias_on_an_image_with_no_version_tag_is_judged_by_its_label(
    registry: RunningRegistry, pusher: Pusher
) -> None:
    """``latest`` was pushed by hand from a 2.0.0 build whose version tag was deleted."""
    name = repo()
    pusher.index(name, "latest", PLATFORMS, labels={VERSION_LABEL: "v2.0.0"})
    version = parse_version("v1.3.0")
    with RegistryClient(registry.host) as client:
        published = read_published(client, name, version, ("latest",))
    assert published.releases == ()
    assert published.aliases["latest"].version == parse_version("v2.0.0")
    assert published.aliases["latest"].how == "label"
    held = guard(TagSet("1.3.0", ("latest",), ()), version, published)
    assert held.withheld == (("latest", "2.0.0 is published"),)


def test_an_alias_with_no_version_found_may_move_and_says_so(
    registry: RunningRegistry, pusher: Pusher
) -> None:
    name = repo()
    pusher.index(name, "latest", PLATFORMS)  # no label, no version tag shares it
    version = parse_version("v1.0.0")
    with RegistryClient(registry.host) as client:
        published = read_published(client, name, version, ("latest",))
    now = published.aliases["latest"]
    assert now.version is None and now.how == "no version label"
    assert guard(TagSet("1.0.0", ("latest",), ()), version, published).aliases == ("latest",)


def test_a_version_tag_sharing_the_alias_digest_names_its_version(
    registry: RunningRegistry, pusher: Pusher
) -> None:
    name = repo()
    unlabelled = pusher.index(name, "3.0.0", PLATFORMS)
    pusher.tag(name, "latest", unlabelled)
    version = parse_version("v2.5.0")
    with RegistryClient(registry.host) as client:
        published = read_published(client, name, version, ("latest",))
    assert published.aliases["latest"].version == parse_version("3.0.0")
    assert published.aliases["latest"].how == "tag 3.0.0"


def test_a_repository_that_does_not_exist_yet_holds_nothing(registry: RunningRegistry) -> None:
    with RegistryClient(registry.host) as client:
        published = read_published(client, repo(), parse_version("v1.0.0"), ("latest",))
    assert published.releases == () and published.aliases["latest"].digest is None


def test_an_alias_on_something_that_is_no_image_is_a_read_error(
    registry: RunningRegistry, pusher: Pusher
) -> None:
    """An unknown media type fails the phase: an alias never moves on a guess."""
    name = repo()
    chart_config = pusher.blob(name, b"{}")
    chart = pusher.blob(name, b"chart bytes")
    pusher.manifest(name, "latest", {  # how Helm stores a chart: an OCI manifest, other config
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json",
                   "digest": chart_config, "size": 2},
        "layers": [{"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                    "digest": chart, "size": 11}]})
    refused = pytest.raises(RegistryError, match="not a container image")
    with RegistryClient(registry.host) as client, refused:
        read_published(client, name, parse_version("v1.0.0"), ("latest",))
