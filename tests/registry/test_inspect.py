"""``dockyard inspect`` through the real CLI entry, against the real registry."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.registry.conftest import Published
from tests.registry.content import Pusher
from tests.support.registry import RunningRegistry
from tui.cli import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["inspect", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_shows_digest_platforms_and_attestations(
    registry: RunningRegistry, published: Published, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, f"{registry.host}/{published.repo}:1.2.3", "--json")
    assert code == 0
    data: dict[str, Any] = json.loads(out)
    index = json.loads(published.index.raw)
    assert data["digest"] == published.index.digest
    assert data["media_type"] == "application/vnd.oci.image.index.v1+json"
    assert [(p["platform"], p["digest"]) for p in data["platforms"]] == [
        ("linux/amd64", index["manifests"][0]["digest"]),
        ("linux/arm64", index["manifests"][1]["digest"])]
    assert all(p["size"] > 0 for p in data["platforms"])  # config plus layers
    assert data["size"] == sum(p["size"] for p in data["platforms"])
    assert [a["refers_to"] for a in data["attestations"]] == [
        index["manifests"][0]["digest"], index["manifests"][1]["digest"]]


def test_text_output(registry: RunningRegistry, published: Published,
                     capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, f"{registry.host}/{published.repo}:latest")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"{registry.host}/{published.repo}:latest"
    assert f"  digest        {published.index.digest}" in lines
    assert "  platforms     2" in lines and "  attestations  2" in lines
    assert any(line.startswith("    linux/arm64  sha256:") for line in lines)
    assert any(line.startswith("  size          ") and "all platforms" in line for line in lines)


def test_by_digest_and_single_manifest(
    registry: RunningRegistry, pusher: Pusher, capsys: pytest.CaptureFixture[str]
) -> None:
    image = pusher.image("dy/inspect-single", "linux", "arm", "v7")
    code, out, _ = _run(capsys, f"{registry.host}/dy/inspect-single@{image.digest}", "--json")
    assert code == 0
    data = json.loads(out)
    assert [(p["platform"], p["digest"]) for p in data["platforms"]] == [
        ("linux/arm/v7", image.digest)]
    assert data["attestations"] == []


def test_without_tag_lists_tags_and_resolves_a_bounded_number(
    registry: RunningRegistry, published: Published, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, f"{registry.host}/{published.repo}", "--json", "--resolve", "2")
    assert code == 0
    data = json.loads(out)
    assert [row["tag"] for row in data["tags"]] == ["1", "1.2", "1.2.3", "latest"]
    assert [row["digest"] for row in data["tags"]] == [published.index.digest] * 2 + [None] * 2
    assert data["unresolved"] == 2
    code, out, _ = _run(capsys, f"{registry.host}/{published.repo}")
    assert code == 0 and out.count(published.index.digest) == 4


def test_unknown_tag_is_one_error_line(registry: RunningRegistry, published: Published,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, f"{registry.host}/{published.repo}:nope")
    assert code == 2 and out == ""
    assert err == (f"error: registry: {registry.host}/{published.repo}: manifest nope not found;"
                   " check the image name and tag\n")


def test_bad_reference_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "Not A Reference")
    assert code == 2 and err.startswith("error: image:") and err.count("\n") == 1


def test_an_entry_whose_manifest_was_deleted_is_a_problem_of_the_tag(
    registry: RunningRegistry, pusher: Pusher, capsys: pytest.CaptureFixture[str]
) -> None:
    """The other platforms still show (core.image reads on; verify says the same)."""
    repo = "dy/inspect-dangling"
    index = pusher.index(repo, "1.0.0", ["linux/amd64", "linux/arm64"], attest=False)
    arm64 = json.loads(index.raw)["manifests"][1]["digest"]
    assert pusher.http.delete(f"/v2/{repo}/manifests/{arm64}").status_code == 202
    code, out, _ = _run(capsys, f"{registry.host}/{repo}:1.0.0", "--json")
    assert code == 0
    data = json.loads(out)
    assert [p["platform"] for p in data["platforms"]] == ["linux/amd64", "linux/arm64"]
    assert data["platforms"][0]["size"] > 0 and data["platforms"][1]["size"] == 0
    assert data["problems"] == ["linux/arm64 entry points at a missing manifest"]
