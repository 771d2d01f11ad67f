"""Merging parts that carry BuildKit attestations (buildx legs with provenance), against the
real registry: the merged index lists each platform in plan order, each followed by its own
attestation, and refuses a part whose index is not a sensible one."""

from __future__ import annotations

import json

import pytest

from core.parts import Part, PartError, PartImage, merged_index
from core.platforms import parse_platform
from core.registry import RegistryClient
from tests.registry.content import OCI_INDEX, OCI_MANIFEST, Pusher
from tests.support.registry import RunningRegistry

REPO = "dy/merge-attest"
IMAGE = f"registry.test/{REPO}"


def _part(pushed_digest: str, platform: str, source: str) -> Part:
    return Part(version="1.0.0", git_tag="v1.0.0", revision="a" * 40,
                platforms=(parse_platform(platform),),
                images=(PartImage(IMAGE, pushed_digest, OCI_INDEX),), engine="buildx",
                source=source)


def test_each_attestation_follows_its_image_in_plan_order(
    registry: RunningRegistry, pusher: Pusher,
) -> None:
    arm = pusher.index(REPO, "leg-arm64", ["linux/arm64"])  # pushed first on purpose
    amd = pusher.index(REPO, "leg-amd64", ["linux/amd64"])
    legs = {"amd": json.loads(amd.raw)["manifests"], "arm": json.loads(arm.raw)["manifests"]}
    parts = [_part(arm.digest, "linux/arm64", "arm.json"),
             _part(amd.digest, "linux/amd64", "amd.json")]
    plan = (parse_platform("linux/amd64"), parse_platform("linux/arm64"))
    with RegistryClient(registry.host) as client:
        merged = merged_index(client, REPO, IMAGE, parts, plan)
        again = merged_index(client, REPO, IMAGE, list(reversed(parts)), plan)
    assert merged.digest == again.digest  # the same parts, the same index
    entries = merged.json["manifests"]
    assert entries == [legs["amd"][0], legs["amd"][1], legs["arm"][0], legs["arm"][1]]
    for image, attestation in (entries[0:2], entries[2:4]):
        assert attestation["annotations"]["vnd.docker.reference.digest"] == image["digest"]


def test_a_part_index_entry_without_a_platform_refuses_the_merge(
    registry: RunningRegistry, pusher: Pusher,
) -> None:
    good = pusher.index(REPO, "leg-good", ["linux/amd64"], attest=False)
    entry = dict(json.loads(good.raw)["manifests"][0])
    del entry["platform"]
    odd = pusher.manifest(REPO, "leg-odd", {"schemaVersion": 2, "mediaType": OCI_INDEX,
                                            "manifests": [entry]})
    assert entry["mediaType"] == OCI_MANIFEST
    with RegistryClient(registry.host) as client, pytest.raises(PartError) as refused:
        merged_index(client, REPO, IMAGE, [_part(odd.digest, "linux/amd64", "odd.json")],
                     (parse_platform("linux/amd64"),))
    assert str(refused.value).startswith(f"part: odd.json: {odd.digest[:19]}: index entry ")
    assert "has no platform" in str(refused.value)
