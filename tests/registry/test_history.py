"""``dockyard history`` against the real registry: versions, aliases, what the reading costs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.engines.base import PUSH
from core.history import read_history
from core.plan import ImagePlan, Plan
from core.reference import parse_reference
from core.registry import RegistryClient
from core.release_report import RunReport
from core.release_state import ImageState
from core.tags import TagSet
from core.version import parse_version
from tests.registry.content import Pushed, Pusher, push_releases
from tests.registry.proxy import Fault, FaultProxy, running
from tests.support.registry import RunningRegistry
from tui.cli import main

REPO = "dy/history"


@pytest.fixture(scope="module")
def releases(pusher: Pusher) -> dict[str, Pushed]:
    return push_releases(pusher, REPO)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["history", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_lists_every_version_in_semver_order_with_its_aliases(
    proxy: FaultProxy, releases: dict[str, Pushed], capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    code, out, err = _run(capsys, f"{proxy.host}/{REPO}", "--json", "--reports", str(tmp_path))
    assert (code, err) == (0, "")
    data: dict[str, Any] = json.loads(out)
    rows = {row["version"]: row for row in data["versions"]}
    assert [row["version"] for row in data["versions"]] == [
        "0.9.0", "1.0.0", "1.1.0", "1.1.1", "1.2.0-rc.1", "1.2.0-rc.2", "1.2.0"]
    assert rows["1.2.0"]["aliases"] == ["1", "1.2", "latest", "v1.2.0"]
    assert rows["1.2.0-rc.2"]["digest"] == releases["1.2.0"].digest  # a version of its own
    assert rows["1.2.0-rc.2"]["aliases"] == ["1", "1.2", "latest", "v1.2.0"]
    assert rows["1.1.1"]["aliases"] == ["1.1"] and rows["1.1.0"]["aliases"] == []
    assert rows["1.0.0"]["aliases"] == ["1.0"]
    assert rows["1.2.0-rc.1"]["prerelease"] is True and rows["1.2.0"]["prerelease"] is False
    assert rows["1.1.1"]["revision"] == "e" * 40 and rows["1.0.0"]["revision"] == "a" * 40
    assert data["other_tags"] == ["edge"]  # no version's image

    index = json.loads(releases["1.1.0"].raw)
    runnable = [m for m in index["manifests"] if "annotations" not in m]
    platforms = rows["1.1.0"]["platforms"]
    assert [(p["platform"], p["digest"]) for p in platforms] == [
        ("linux/amd64", runnable[0]["digest"]), ("linux/arm64", runnable[1]["digest"])]
    for platform in platforms:  # config plus layers, compressed, as the manifest states them
        manifest = json.loads(RegistryClient(proxy.host).get_manifest(
            REPO, platform["digest"]).raw)
        assert platform["size"] == manifest["config"]["size"] + sum(
            layer["size"] for layer in manifest["layers"])
    single = rows["0.9.0"]
    assert single["created"] == "2024-01-02T03:04:05Z" and single["revision"] == "0" * 40
    assert [p["platform"] for p in single["platforms"]] == ["linux/amd64"]
    body = json.loads(releases["0.9.0"].raw)
    assert single["platforms"][0]["size"] == body["config"]["size"] + body["layers"][0]["size"]


def test_one_head_per_tag_and_one_get_per_distinct_digest(
    registry: RunningRegistry, proxy: FaultProxy, releases: dict[str, Pushed],
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    proxy.reset_counts()
    code, out, _ = _run(capsys, f"{proxy.host}/{REPO}", "--json", "--reports", str(tmp_path))
    assert code == 0
    tags = RegistryClient(registry.host).list_tags(REPO)
    heads = [s.path for s in proxy.requests("HEAD")]
    assert sorted(heads) == sorted(f"/v2/{REPO}/manifests/{tag}" for tag in tags)
    gets = [s.path.split("?")[0] for s in proxy.requests("GET")
            if "/tags/list" not in s.path]
    assert len(gets) == len(set(gets))  # nothing read twice
    assert all("/manifests/sha256:" in g or "/blobs/sha256:" in g for g in gets)  # by digest
    version_images = {releases[v].digest for v in
                      ("0.9.0", "1.0.0", "1.1.0", "1.1.1", "1.2.0-rc.1", "1.2.0")}
    indexes = {g.rsplit("/", 1)[1] for g in gets if "/manifests/" in g} & {
        p.digest for p in releases.values()}
    assert indexes == version_images  # the shared 1.2.0 image once; edge never
    attestations = {m["digest"] for pushed in releases.values() if "manifests" in
                    json.loads(pushed.raw) for m in json.loads(pushed.raw)["manifests"]
                    if "annotations" in m}
    assert not attestations & {g.rsplit("/", 1)[1] for g in gets}  # never read
    data = json.loads(out)
    assert data["requests"] == {"head": len(tags), "get": len(gets)}


def test_follows_link_pagination(
    registry: RunningRegistry, releases: dict[str, Pushed], tmp_path: Path
) -> None:
    with running(FaultProxy(registry.host, paginate=True)) as paging, \
            RegistryClient(paging.host) as client:
        history = read_history(client, REPO, f"{paging.host}/{REPO}", page_size=3)
        pages = [s.path for s in paging.requests("GET") if "/tags/list" in s.path]
    assert len(pages) == 5  # 14 tags, 3 a page
    assert [v.version.image_tag for v in history.versions][-1] == "1.2.0"
    assert len(history.versions) == 7


def test_repository_without_version_tags(
    registry: RunningRegistry, pusher: Pusher, capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    pushed = pusher.index("dy/history-none", "latest", ["linux/amd64"])
    pusher.tag("dy/history-none", "v1", pushed)  # not strict SemVer
    pusher.tag("dy/history-none", "v1.0.0", pushed)  # a git tag alias, not a version tag
    image = f"{registry.host}/dy/history-none"
    code, out, _ = _run(capsys, image, "--json", "--reports", str(tmp_path))
    assert code == 0
    data = json.loads(out)
    assert data["versions"] == [] and data["other_tags"] == ["latest", "v1", "v1.0.0"]
    assert data["requests"]["get"] == 0
    code, out, _ = _run(capsys, image, "--reports", str(tmp_path))
    assert (code, out) == (0, f"{image}\n  (no version tags)\n  other tags: latest, v1, v1.0.0\n")


def test_text_output(proxy: FaultProxy, releases: dict[str, Pushed],
                     capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = _run(capsys, f"{proxy.host}/{REPO}", "--reports", str(tmp_path))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"{proxy.host}/{REPO}"
    assert f"  1.2.0  {releases['1.2.0'].digest}  <- 1, 1.2, latest, v1.2.0" in lines
    assert f"    created -  revision {'d' * 40}" in lines
    assert lines[-1] == "  other tags: edge"


def test_runs_from_local_reports(
    registry: RunningRegistry, releases: dict[str, Pushed], capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """A report as a release run writes it (core/release_report.py), for the backport."""
    name = parse_reference(f"{registry.host}/{REPO}").name
    plan = Plan(root=tmp_path / "checkout", version=parse_version("v1.1.1"), commit="e" * 40,
                images=(ImagePlan(name, TagSet("1.1.1", ("1.1",), ())),), platforms=(),
                mode="build", dockerfile=tmp_path / "Dockerfile", context=tmp_path)
    state = ImageState(plan.images[0], client=None)  # type: ignore[arg-type]
    report = RunReport.for_plan(plan, "podman", "release", PUSH, [state],
                                report_dir=tmp_path / "runs")
    state.digest = releases["1.1.1"].digest
    state.previous["1.1"] = releases["1.1.0"].digest
    report.image(state)["aliases"] = {"1.1": {"previous": releases["1.1.0"].digest,
                                              "target": state.digest}}
    state.moved.append("1.1")
    report.data["ok"] = True
    report.finish()
    report.write()
    (tmp_path / "runs" / "broken.json").write_text("{not json")  # passed over
    code, out, _ = _run(capsys, str(name), "--json", "--reports", str(tmp_path / "runs"))
    assert code == 0
    rows = {row["version"]: row for row in json.loads(out)["versions"]}
    [run] = rows["1.1.1"]["runs"]
    assert run["ok"] is True and run["commit"] == "e" * 40 and run["mode"] == "release"
    assert run["checkout"] == str(tmp_path / "checkout")
    assert run["moved"] == [{"alias": "1.1", "from": releases["1.1.0"].digest,
                             "to": releases["1.1.1"].digest}]
    assert rows["1.1.0"]["runs"] == []
    code, out, _ = _run(capsys, str(name), "--reports", str(tmp_path / "runs"))
    assert f"from {tmp_path / 'checkout'}; moved 1.1 {releases['1.1.0'].digest[:19]} -> " \
           f"{releases['1.1.1'].digest[:19]}" in out


@pytest.mark.parametrize(("argv", "field"), [
    (["127.0.0.1:1/dy/app:1.0.0"], "image"),
    (["127.0.0.1:1/dy/app@sha256:" + "0" * 64], "image"),
    (["127.0.0.1:1/dy/App"], None),
    (["127.0.0.1:1/dy/app", "--reports", "/nonexistent/dir"], "reports"),
])
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], field: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, *argv)
    assert (code, out) == (2, "")
    assert err.startswith("error: ") and err.count("\n") == 1 and "; " in err
    if field is not None:
        assert err.startswith(f"error: {field}: ")


def test_unknown_repository_is_one_line(registry: RunningRegistry,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, f"{registry.host}/dy/history-never-pushed")
    assert (code, out) == (2, "")
    assert err == (f"error: registry: {registry.host}/dy/history-never-pushed: repository not "
                   "found; check the image name (nothing pushed yet?)\n")


def test_an_unreadable_config_spoils_its_row_only(
    proxy: FaultProxy, releases: dict[str, Pushed], capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    amd64 = json.loads(releases["1.0.0"].raw)["manifests"][0]["digest"]
    manifest = json.loads(RegistryClient(proxy.host).get_manifest(REPO, amd64).raw)
    proxy.inject(Fault(status=404, method="GET", path_contains=manifest["config"]["digest"]))
    code, out, _ = _run(capsys, f"{proxy.host}/{REPO}", "--json", "--reports", str(tmp_path))
    assert code == 0
    rows = {row["version"]: row for row in json.loads(out)["versions"]}
    [problem] = rows["1.0.0"]["problems"]
    assert problem.startswith("linux/amd64 config is unreadable (") and "not found" in problem
    assert rows["1.0.0"]["revision"] == "a" * 40  # the arm64 config still says it
    assert rows["1.1.0"]["problems"] == []
