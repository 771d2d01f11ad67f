"""``dockyard diff`` against the real registry: a known change shows exactly, what it reads."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest

from tests.registry.content import Pushed, Pusher
from tests.registry.proxy import FaultProxy
from tests.support.registry import RunningRegistry
from tui.cli import main

REPO = "dy/diff"
BEFORE = {"Env": ["PATH=/bin", "MODE=fast"]}
AFTER = {"Env": ["PATH=/bin", "MODE=fast", "FEATURE=on"], "Cmd": ["/app", "--serve"]}
DATA = b"static data for 1.1.0\n"


@pytest.fixture(scope="module")
def pushed(pusher: Pusher) -> dict[str, Pushed]:
    """1.0.0 on two platforms; 1.1.0 changes its ``v`` label, adds FEATURE=on, a data layer and
    a cmd argument, and adds linux/arm/v7; ``latest`` names 1.1.0; ``single`` is one image."""
    made = {
        "1.0.0": pusher.index(REPO, "1.0.0", ["linux/amd64", "linux/arm64"],
                              labels={"v": "1.0.0", "team": "core"}, settings=BEFORE),
        "1.1.0": pusher.index(REPO, "1.1.0", ["linux/amd64", "linux/arm64", "linux/arm/v7"],
                              labels={"v": "1.1.0", "team": "core"}, settings=AFTER,
                              extra=(DATA,)),
    }
    pusher.tag(REPO, "latest", made["1.1.0"])
    made["single"] = pusher.image(REPO, "linux", "amd64", labels={"v": "1.0.0", "team": "core"},
                                  settings=BEFORE)
    pusher.tag(REPO, "single", made["single"])
    return made


def _diff(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["diff", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _platforms(pushed: Pushed) -> dict[str, str]:
    """platform -> manifest digest of the runnable entries of an index as pushed."""
    return {"/".join(filter(None, (m["platform"]["os"], m["platform"]["architecture"],
                                   m["platform"].get("variant")))): m["digest"]
            for m in json.loads(pushed.raw)["manifests"] if "annotations" not in m}


def _manifest(registry: RunningRegistry, digest: str) -> dict[str, Any]:
    import httpx

    answer = httpx.get(f"{registry.url}/v2/{REPO}/manifests/{digest}",
                       headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    return body


def _size(manifest: dict[str, Any]) -> int:
    return int(manifest["config"]["size"]) + sum(int(x["size"]) for x in manifest["layers"])


def test_a_known_change_shows_exactly(
    registry: RunningRegistry, pushed: dict[str, Pushed], capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = _diff(capsys, f"{registry.host}/{REPO}:1.0.0", f"{registry.host}/{REPO}:1.1.0",
                           "--json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["a"] == {"ref": "1.0.0", "digest": pushed["1.0.0"].digest,
                         "media_type": "application/vnd.oci.image.index.v1+json"}
    assert data["b"]["digest"] == pushed["1.1.0"].digest and data["identical"] is False
    before, after = _platforms(pushed["1.0.0"]), _platforms(pushed["1.1.0"])
    assert [p["platform"] for p in data["platforms"]] == ["linux/amd64", "linux/arm64"]
    for row in data["platforms"]:
        old = _manifest(registry, before[row["platform"]])
        new = _manifest(registry, after[row["platform"]])
        assert row["a"] == {"digest": before[row["platform"]], "size": _size(old)}
        assert row["b"] == {"digest": after[row["platform"]], "size": _size(new)}
        assert row["size_delta"] == _size(new) - _size(old)
        data_layer = new["layers"][1]
        assert DATA in gzip.decompress(_blob(registry, data_layer["digest"]))  # the data file
        assert row["layers"] == {
            "added": [{"digest": data_layer["digest"], "size": data_layer["size"]}],
            "removed": [], "shared": 1, "shared_size": old["layers"][0]["size"]}
        assert row["config"] == [
            {"field": "label", "key": "v", "change": "changed", "a": "1.0.0", "b": "1.1.0"},
            {"field": "cmd", "key": None, "change": "changed", "a": ["/app"],
             "b": ["/app", "--serve"]},
            {"field": "env", "key": "FEATURE", "change": "added", "a": None, "b": "on"},
        ]
    assert data["only_in_a"] == []
    v7 = _manifest(registry, after["linux/arm/v7"])
    assert data["only_in_b"] == [{"platform": "linux/arm/v7", "digest": after["linux/arm/v7"],
                                  "size": _size(v7)}]
    assert data["problems"] == []


def test_text_output(registry: RunningRegistry, pushed: dict[str, Pushed],
                     capsys: pytest.CaptureFixture[str]) -> None:
    image = f"{registry.host}/{REPO}"
    code, out, _ = _diff(capsys, f"{image}:1.0.0", "1.1.0")  # B as a bare tag
    assert code == 0
    lines = out.splitlines()
    assert lines[:3] == [f"{image}  1.0.0 -> 1.1.0", f"  A 1.0.0  {pushed['1.0.0'].digest}",
                         f"  B 1.1.0  {pushed['1.1.0'].digest}"]
    amd64 = lines.index(next(line for line in lines if line.startswith("linux/amd64  ")))
    assert lines[amd64].endswith(")") and "(+" in lines[amd64]
    block = lines[amd64 + 1:amd64 + 6]
    assert block[0].startswith("  + layer sha256:")
    assert block[1].startswith("  = 1 layer(s) shared, ")
    assert block[2:] == ['  ~ label v: "1.0.0" -> "1.1.0"',
                         '  ~ cmd: ["/app"] -> ["/app", "--serve"]',
                         '  + env FEATURE: "on"']
    assert lines[-1].startswith("only in B: linux/arm/v7  ")


def test_identical_tags_read_no_config(
    proxy: FaultProxy, pushed: dict[str, Pushed], capsys: pytest.CaptureFixture[str],
) -> None:
    proxy.reset_counts()
    code, out, _ = _diff(capsys, f"{proxy.host}/{REPO}:latest", f"{proxy.host}/{REPO}:1.1.0",
                         "--json")
    assert code == 0
    data = json.loads(out)
    assert data["identical"] is True and data["a"]["digest"] == data["b"]["digest"]
    assert all(row["size_delta"] == 0 and row["config"] == [] and not row["layers"]["added"]
               and not row["layers"]["removed"] for row in data["platforms"])
    assert data["only_in_a"] == data["only_in_b"] == []
    gets = [s.path for s in proxy.requests("GET")]
    assert not [g for g in gets if "/blobs/" in g]  # the same config needs no reading
    assert len(gets) == 1 + 3 and data["requests"] == {"head": 2, "get": 4}
    code, out, _ = _diff(capsys, f"{proxy.host}/{REPO}:latest", "1.1.0")
    assert out.splitlines()[-1] == "no changes"
    assert "  = same image" in out.splitlines()


def test_each_manifest_and_config_read_once(
    proxy: FaultProxy, pushed: dict[str, Pushed], capsys: pytest.CaptureFixture[str],
) -> None:
    proxy.reset_counts()
    code, out, _ = _diff(capsys, f"{proxy.host}/{REPO}:1.0.0", f"{proxy.host}/{REPO}:1.1.0",
                         "--json")
    assert code == 0
    assert sorted(s.path for s in proxy.requests("HEAD")) == [
        f"/v2/{REPO}/manifests/1.0.0", f"/v2/{REPO}/manifests/1.1.0"]
    gets = [s.path for s in proxy.requests("GET")]
    assert len(gets) == len(set(gets))  # nothing read twice
    assert all("/manifests/sha256:" in g or "/blobs/sha256:" in g for g in gets)  # by digest
    read = {g.rsplit("/", 1)[1] for g in gets}
    attestations = {m["digest"] for p in (pushed["1.0.0"], pushed["1.1.0"])
                    for m in json.loads(p.raw)["manifests"] if "annotations" in m}
    assert not read & attestations
    # two indexes, five platform manifests, four configs (arm/v7's config is not needed)
    assert (sum("/manifests/" in g for g in gets), sum("/blobs/" in g for g in gets)) == (7, 4)
    assert json.loads(out)["requests"] == {"head": 2, "get": 11}


def test_digest_and_single_image(
    registry: RunningRegistry, pushed: dict[str, Pushed], capsys: pytest.CaptureFixture[str],
) -> None:
    """A single image is its config's platform; A given by digest needs no HEAD."""
    image = f"{registry.host}/{REPO}"
    code, out, err = _diff(capsys, f"{image}@{pushed['single'].digest}", "1.1.0", "--json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["a"]["ref"] == pushed["single"].digest
    [amd64] = data["platforms"]
    assert amd64["platform"] == "linux/amd64" and amd64["a"]["digest"] == pushed["single"].digest
    assert [c["key"] for c in amd64["config"]] == ["v", None, "FEATURE"]
    assert [p["platform"] for p in data["only_in_b"]] == ["linux/arm64", "linux/arm/v7"]
    assert data["requests"]["head"] == 1


@pytest.mark.parametrize(("a", "b", "message"), [
    ("{image}:1.0.0", "{image}:9.9.9",
     "error: image: {image}:9.9.9 does not exist; give a tag or digest the repository holds "
     "(dockyard history lists its versions)\n"),
    ("{image}:1.0.0", "{image}-other:1.0.0",
     "error: image: '{image}:1.0.0' and '{image}-other:1.0.0' are different repositories; "
     "compare two tags or digests of one repository\n"),
    ("{image}", "1.0.0",
     "error: image: '{image}' names no tag or digest; give IMAGE:TAG or IMAGE@sha256:..., "
     "e.g. ghcr.io/acme/app:1.2.0\n"),
])
def test_bad_references_are_one_line_errors(
    registry: RunningRegistry, pushed: dict[str, Pushed], capsys: pytest.CaptureFixture[str],
    a: str, b: str, message: str,
) -> None:
    image = f"{registry.host}/{REPO}"
    code, out, err = _diff(capsys, a.format(image=image), b.format(image=image))
    assert (code, out, err) == (2, "", message.format(image=image))


def _blob(registry: RunningRegistry, digest: str) -> bytes:
    import httpx

    answer = httpx.get(f"{registry.url}/v2/{REPO}/blobs/{digest}", follow_redirects=True)
    answer.raise_for_status()
    return answer.content

