"""verify_release: the shared index vectors, then real content in the real registry."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.errors import RegistryError
from core.image import summarize_index
from core.platforms import parse_platform
from core.reference import parse_image_name
from core.registry import DOCKER_LIST, RegistryClient
from core.verify import verify_release
from tests.registry.conftest import Published
from tests.registry.content import Pusher
from tests.registry.proxy import Fault, FaultProxy

Make = Callable[..., RegistryClient]
TWO = ["linux/amd64", "linux/arm64"]


def _vectors() -> list[dict[str, Any]]:
    path = Path(__file__).resolve().parents[3] / "shared/vectors/vectors-oci-index.json"
    if not path.is_file():
        return []
    return list(json.loads(path.read_text())["indexes"])


@pytest.mark.parametrize("case", _vectors(), ids=lambda case: case["id"])
def test_index_vectors(case: dict[str, Any]) -> None:
    index = case["index"] or _listed(case["expected_platforms"])  # text-only vector
    summary = summarize_index(index)
    # Expected strings are compared after normalisation: "linux/arm64/v8" is linux/arm64.
    assert [str(p) for p in summary.platforms] == [
        str(parse_platform(text)) for text in case["expected_platforms"]]
    assert [(a.digest, a.refers_to) for a in summary.attestations] == [
        (a["digest"], a["refers_to"]) for a in case["expected_attestations"]]
    assert summary.problems == ()


def _listed(platforms: list[str]) -> dict[str, Any]:
    """An index listing these platforms the way a registry does (os, architecture, variant)."""
    entries = []
    for number, text in enumerate(platforms):
        os, arch, *variant = text.split("/")
        platform = {"os": os, "architecture": arch, **({"variant": variant[0]} if variant else {})}
        entries.append({"mediaType": "m", "digest": f"sha256:{number}", "platform": platform})
    return {"manifests": entries}


def test_text_vector_verifies_in_the_registry_without_the_v8(
    pusher: Pusher, registry: Any, make_client: Make
) -> None:
    """alpine's list (arm64 carries v8) pushed for real; the selection says plain linux/arm64."""
    case = next(c for c in _vectors() if c["index"] is None)
    repo = "dy/verify-alpine-shape"
    pusher.index(repo, "3.19", case["expected_platforms"], attest=False,
                 media_type=case["media_type"])
    selection = [p.replace("arm64/v8", "arm64") for p in case["expected_platforms"]]
    client = make_client(registry.host)
    report = verify_release(client, _image(client, repo), "3.19", selection)
    assert report.ok, report.problems
    assert report.media_type == DOCKER_LIST
    assert len(report.tags[0].platforms) == 7


def test_vectors_are_present(shared_dir: Path) -> None:
    assert len(_vectors()) == 5


def test_duplicate_and_platformless_entries_are_problems() -> None:
    entry = {"mediaType": "m", "digest": "sha256:a", "platform": {"os": "linux",
                                                                 "architecture": "amd64"}}
    twice = dict(entry, digest="sha256:b", platform={"os": "linux", "architecture": "x86_64"})
    bare = {"mediaType": "m", "digest": "sha256:c"}
    summary = summarize_index({"manifests": [entry, twice, bare]})
    assert [str(p) for p in summary.platforms] == ["linux/amd64"]
    assert summary.problems == ("linux/amd64 is listed twice (sha256:a and sha256:b)",
                                "index entry sha256:c has no platform")


def _image(client: RegistryClient, repo: str) -> Any:
    return parse_image_name(f"{client.host}/{repo}")


def test_a_buildx_shaped_release_verifies_with_few_requests(
    proxy: FaultProxy, published: Published, make_client: Make
) -> None:
    client = make_client(proxy.host)
    report = verify_release(client, _image(client, published.repo), published.version,
                            [parse_platform(p) for p in TWO], published.aliases)
    assert report.ok, report.problems
    assert report.digest == published.index.digest
    assert [t.tag for t in report.tags] == ["1.2.3", "latest", "1.2", "1"]
    assert all(t.digest == published.index.digest for t in report.tags)
    assert [(c.platform, c.config) for c in report.tags[0].platforms] == [
        ("linux/amd64", "linux/amd64"), ("linux/arm64", "linux/arm64")]
    assert len(report.attestations) == 2
    assert {a.refers_to for a in report.attestations} == {
        c.digest for c in report.tags[0].platforms}
    # 1 GET of the index, a GET of each platform manifest and its config, 1 HEAD per alias.
    assert proxy.count == report.requests == 1 + 2 * 2 + 3
    assert [s.method for s in proxy.requests()].count("HEAD") == 3
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is True and data["tags"][0]["platforms"][1]["platform"] == "linux/arm64"


def test_missing_platform_is_reported(published: Published, registry: Any,
                                      make_client: Make) -> None:
    client = make_client(registry.host)
    report = verify_release(client, _image(client, published.repo), published.version,
                            [*TWO, "linux/arm/v7"])
    assert not report.ok
    assert report.missing == ("linux/arm/v7",)
    assert report.problems == (f"{client.host}/{published.repo}:1.2.3 has no linux/arm/v7 image",)
    assert [c.ok for c in report.tags[0].platforms] == [True, True, False]


def test_unexpected_platform_is_reported(published: Published, registry: Any,
                                         make_client: Make) -> None:
    client = make_client(registry.host)
    report = verify_release(client, _image(client, published.repo), published.version,
                            ["linux/amd64"])
    assert not report.ok
    assert report.unexpected == ("linux/arm64",)
    assert report.missing == ()
    assert "unexpected linux/arm64 image" in report.problems[0]


def test_config_disagreeing_with_the_index_is_reported(
    pusher: Pusher, registry: Any, make_client: Make
) -> None:
    repo = "dy/verify-lie"
    pusher.index(repo, "1.0.0", TWO, lie={"linux/arm64": "linux/amd64"})
    client = make_client(registry.host)
    report = verify_release(client, _image(client, repo), "1.0.0", TWO)
    assert not report.ok
    assert report.problems == (
        f"{client.host}/{repo}:1.0.0 linux/arm64 image's config says linux/amd64",)
    assert report.tags[0].platforms[1].config == "linux/amd64"


def test_variant_aliases_normalise_on_both_sides(
    pusher: Pusher, registry: Any, make_client: Make
) -> None:
    repo = "dy/verify-variants"
    pusher.index(repo, "1.0.0", ["linux/arm64/v8", "linux/arm/7"], media_type=DOCKER_LIST)
    client = make_client(registry.host)
    report = verify_release(client, _image(client, repo), "1.0.0", ["linux/arm64", "linux/arm/v7"])
    assert report.ok, report.problems
    assert report.expected == ("linux/arm64", "linux/arm/v7")


def test_aliases_must_point_at_the_version_digest(
    published: Published, pusher: Pusher, registry: Any, make_client: Make
) -> None:
    other = pusher.index(published.repo, "0.9.0", ["linux/amd64"], attest=False)
    pusher.tag(published.repo, "stale", other)
    client = make_client(registry.host)
    report = verify_release(client, _image(client, published.repo), published.version, TWO,
                            ["latest", "stale", "never-pushed"])
    assert not report.ok
    name = f"{client.host}/{published.repo}"
    assert report.problems == (
        f"{name}:stale points at {other.digest}, not the version tag's {published.index.digest}",
        f"{name}:never-pushed does not exist in the registry",
    )
    assert [t.ok for t in report.tags] == [True, True, False, False]


def test_missing_version_tag(published: Published, registry: Any, make_client: Make) -> None:
    client = make_client(registry.host)
    report = verify_release(client, _image(client, published.repo), "9.9.9", TWO, ["latest"])
    assert not report.ok
    assert report.problems[0].endswith(":9.9.9 does not exist in the registry")
    assert report.tags[1].problem.endswith("cannot be compared: the version tag is missing")


def test_single_manifest_passes_only_for_one_platform(
    pusher: Pusher, registry: Any, make_client: Make
) -> None:
    repo = "dy/verify-single"
    image = pusher.image(repo, "linux", "arm64")
    pusher.tag(repo, "1.0.0", image)
    client = make_client(registry.host)
    one = verify_release(client, _image(client, repo), "1.0.0", ["linux/arm64"])
    assert one.ok, one.problems
    assert one.notes and "single image manifest" in one.notes[0]
    assert one.tags[0].platforms[0].digest == image.digest
    two = verify_release(client, _image(client, repo), "1.0.0", TWO)
    assert not two.ok
    assert two.problems == (f"{client.host}/{repo}:1.0.0 is a single-platform image "
                            "(linux/arm64), not an index of 2 platforms",)
    assert two.missing == ("linux/amd64",)
    wrong = verify_release(client, _image(client, repo), "1.0.0", ["linux/amd64"])
    assert wrong.problems == (f"{client.host}/{repo}:1.0.0 is a linux/arm64 image, "
                              "not linux/amd64",)


def test_registry_failure_raises_instead_of_reporting(
    proxy: FaultProxy, published: Published, make_client: Make
) -> None:
    proxy.inject(Fault(status=503, times=99, path_contains="/blobs/"))
    client = make_client(proxy.host, max_retries=1)
    with pytest.raises(RegistryError, match="GET /v2/dy/test-verify/blobs/sha256:"):
        verify_release(client, _image(client, published.repo), published.version, TWO)


def test_transient_faults_do_not_change_the_verdict(
    proxy: FaultProxy, published: Published, make_client: Make
) -> None:
    proxy.inject(Fault(status=429, times=1, headers={"Retry-After": "1"}))
    proxy.inject(Fault(reset=True, times=1, path_contains="/blobs/"))
    proxy.inject(Fault(status=502, times=1, method="HEAD"))
    client = make_client(proxy.host)
    report = verify_release(client, _image(client, published.repo), published.version, TWO,
                            published.aliases)
    assert report.ok, report.problems
    assert report.requests == 1 + 2 * 2 + 3 + 3


def test_index_entry_pointing_at_a_deleted_manifest_is_reported(
    pusher: Pusher, registry: Any, make_client: Make
) -> None:
    repo = "dy/verify-dangling"
    index = pusher.index(repo, "1.0.0", TWO, attest=False)
    arm64 = json.loads(index.raw)["manifests"][1]["digest"]
    assert pusher.http.delete(f"/v2/{repo}/manifests/{arm64}").status_code == 202
    client = make_client(registry.host)
    report = verify_release(client, _image(client, repo), "1.0.0", TWO)
    assert report.problems == (
        f"{client.host}/{repo}:1.0.0 linux/arm64 entry points at a missing manifest",)
