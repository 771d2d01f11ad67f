"""``dockyard rollback`` against the real registry: which aliases move, what is refused with
nothing moved, the report, and a rival moving an alias between the plan and the run."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.errors import DockyardError
from core.reference import ImageName
from core.registry import RegistryClient
from core.rollback import plan_rollback, run_rollback
from tests.registry.content import Pushed, Pusher
from tests.registry.proxy import Fault, FaultProxy
from tests.support.registry import RunningRegistry
from tui.cli import main
from tui.services import Services

PLATFORMS = ["linux/amd64", "linux/arm64"]
_REPOS = itertools.count()


class Releases:
    """One repository per test (rollbacks change it): 1.0.0, 1.1.0, the backport 1.1.1, 1.2.0
    and the prerelease 1.3.0-rc.1, with the aliases releases leave; ``edge`` on an image of its
    own."""

    def __init__(self, registry: RunningRegistry, pusher: Pusher) -> None:
        self.repo = f"dy/rollback-{next(_REPOS)}"
        self.image = f"{registry.host}/{self.repo}"
        self.client = RegistryClient(registry.host)
        self.pushed: dict[str, Pushed] = {}
        for version in ("1.0.0", "1.1.0", "1.2.0", "1.1.1", "1.3.0-rc.1"):
            self.pushed[version] = pusher.index(self.repo, version, PLATFORMS,
                                                labels={"v": version})
        for alias, version in [("1.0", "1.0.0"), ("1.1", "1.1.1"), ("1.2", "1.2.0"),
                               ("1", "1.2.0"), ("latest", "1.2.0")]:
            pusher.tag(self.repo, alias, self.pushed[version])
        self.pushed["edge"] = pusher.index(self.repo, "edge", ["linux/amd64"])

    def digest(self, version: str) -> str:
        return self.pushed[version].digest

    def where(self) -> dict[str, str | None]:
        """Every tag of the repository and the digest it names now."""
        return {tag: head.digest if (head := self.client.head_manifest(self.repo, tag)) else None
                for tag in sorted(self.client.list_tags(self.repo))}


@pytest.fixture
def releases(registry: RunningRegistry, pusher: Pusher) -> Iterator[Releases]:
    made = Releases(registry, pusher)
    yield made
    made.client.close()


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["rollback", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _reports(directory: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))]


def test_default_aliases_move_and_only_those(
    releases: Releases, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    before = releases.where()
    code, out, err = _run(capsys, releases.image, "--to", "1.0.0", "--yes",
                          "--reports", str(tmp_path))
    assert (code, err) == (0, "")
    target = releases.digest("1.0.0")
    after = releases.where()
    changed = {tag for tag in after if after[tag] != before[tag]}
    assert changed == {"1", "latest"}  # 1.0 was there already
    assert after["1"] == after["latest"] == after["1.0"] == target
    assert after["1.1"] == releases.digest("1.1.1") and after["1.2"] == releases.digest("1.2.0")
    assert after["edge"] == releases.digest("edge")
    assert after["1.2.0"] == releases.digest("1.2.0")  # versions above stay published
    assert f"  moved {releases.image}:latest {releases.digest('1.2.0')} -> {target}" in out
    [report] = _reports(tmp_path)
    assert out.splitlines()[-1] == f"report: {next(tmp_path.glob('*.json'))}"
    assert report["mode"] == "rollback" and report["ok"] is True and report["version"] == "1.0.0"
    entry = report["images"][releases.image]
    assert entry["version_tag"] == "1.0.0" and entry["moved"] == ["1", "latest"]
    assert entry["aliases"] == {
        "1.0": {"previous": target, "target": target},
        "1": {"previous": releases.digest("1.2.0"), "target": target},
        "latest": {"previous": releases.digest("1.2.0"), "target": target}}

    assert main(["history", releases.image, "--json", "--reports", str(tmp_path)]) == 0
    rows = {row["version"]: row for row in json.loads(capsys.readouterr().out)["versions"]}
    assert rows["1.0.0"]["aliases"] == ["1", "1.0", "latest"]
    assert rows["1.2.0"]["aliases"] == ["1.2"]
    [run] = rows["1.0.0"]["runs"]
    assert run["mode"] == "rollback" and run["ok"] is True
    assert run["moved"] == [{"alias": a, "from": releases.digest("1.2.0"), "to": target}
                            for a in ("1", "latest")]
    assert main(["history", releases.image, "--reports", str(tmp_path)]) == 0
    assert "    rolled back to " in capsys.readouterr().out


def test_rolling_forward_is_the_same_command(
    releases: Releases, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert _run(capsys, releases.image, "--to", "1.0.0", "--yes",
                "--reports", str(tmp_path))[0] == 0
    code, out, _ = _run(capsys, releases.image, "--to", "1.2.0", "--yes", "--json",
                        "--reports", str(tmp_path))
    assert code == 0
    data = json.loads(out)
    assert data["ok"] is True and data["moved"] == ["1", "latest"]  # 1.2 never left
    after = releases.where()
    assert after["1"] == after["latest"] == after["1.2"] == releases.digest("1.2.0")
    assert after["1.0"] == releases.digest("1.0.0")


def test_chosen_alias_moves_alone(
    releases: Releases, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    before = releases.where()
    code, _, err = _run(capsys, releases.image, "--to", "1.1.0", "--alias", "latest", "--yes",
                        "--reports", str(tmp_path))
    assert (code, err) == (0, "")
    after = releases.where()
    assert {tag for tag in after if after[tag] != before[tag]} == {"latest"}
    assert after["latest"] == releases.digest("1.1.0")
    assert after["1.1"] == releases.digest("1.1.1")  # the target's own 1.1 stays: not chosen
    [report] = _reports(tmp_path)
    assert report["chosen"] is True and report["images"][releases.image]["moved"] == ["latest"]


@pytest.mark.parametrize(("argv", "field", "words"), [
    (["--to", "1.0.0", "--alias", "1.1"], "alias", "1.1 is outside 1.0.0's series"),
    (["--to", "1.0.0", "--alias", "2"], "alias", "2 is outside 1.0.0's series"),
    (["--to", "1.0.0", "--alias", "latest,1.2.0"], "alias", "1.2.0 is a version tag"),
    (["--to", "1.0.0", "--alias", "sha-abcdef0"], "alias", "names one build"),
    (["--to", "1.0.0", "--alias", "latest,"], "alias", "an empty alias"),
    (["--to", "1.3.0-rc.1"], "to", "1.3.0-rc.1 is a prerelease: it owns no alias"),
    (["--to", "9.9.9"], "to", "is not published; published versions: 1.0.0, 1.1.0, 1.1.1, "
                              "1.2.0, 1.3.0-rc.1"),
    (["--to", "latest"], "to", "'latest' is not a version tag"),
    (["--to", "v1.0.0"], "to", "'v1.0.0' is not a version tag; give a SemVer version tag as "
                               "the registry holds it, e.g. 1.0.0"),
])
def test_refused_with_one_line_and_nothing_moved(
    releases: Releases, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    argv: list[str], field: str, words: str,
) -> None:
    before = releases.where()
    code, out, err = _run(capsys, releases.image, *argv, "--yes", "--reports", str(tmp_path))
    assert (code, out) == (2, "")
    assert err.startswith(f"error: {field}: ") and err.count("\n") == 1 and "; " in err
    assert words in err
    assert releases.where() == before and list(tmp_path.iterdir()) == []


def test_refused_image_with_a_tag(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "127.0.0.1:1/dy/app:1.0.0", "--to", "1.0.0")
    assert (code, out) == (2, "") and err.startswith("error: image: ")


@pytest.mark.parametrize("broken", ["deleted", "lying"])
def test_a_target_missing_a_platform_is_refused_with_nothing_moved(
    releases: Releases, pusher: Pusher, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    broken: str,
) -> None:
    """1.4.0 lists linux/arm64, but its arm64 manifest is deleted, or its config says amd64."""
    lie = {"linux/arm64": "linux/amd64"} if broken == "lying" else None
    index = pusher.index(releases.repo, "1.4.0", PLATFORMS, lie=lie)
    arm64 = json.loads(index.raw)["manifests"][1]["digest"]
    if broken == "deleted":
        assert pusher.http.delete(f"/v2/{releases.repo}/manifests/{arm64}").status_code == 202
    before = releases.where()
    code, out, err = _run(capsys, releases.image, "--to", "1.4.0", "--yes",
                          "--reports", str(tmp_path))
    assert (code, out) == (2, "")
    assert err.startswith(f"error: to: {releases.image}:1.4.0 fails verification, nothing "
                          "moved: ") and err.count("\n") == 1
    assert ("linux/arm64 entry points at a missing manifest" if broken == "deleted"
            else "linux/arm64 image's config says linux/amd64") in err
    assert releases.where() == before and list(tmp_path.iterdir()) == []


def test_without_yes_it_shows_the_plan_and_moves_nothing(
    releases: Releases, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    before = releases.where()
    code, out, err = _run(capsys, releases.image, "--to", "1.1.1", "--reports", str(tmp_path))
    assert code == 2
    assert err == "error: yes: nothing moved: 2 alias(es) would move; add --yes to move them\n"
    short_from, short_to = releases.digest("1.2.0")[:19], releases.digest("1.1.1")[:19]
    assert out.splitlines()[1:] == ["  1.1: already on 1.1.1", f"  1: {short_from} -> {short_to}",
                                    f"  latest: {short_from} -> {short_to}"]
    assert "verified: linux/amd64, linux/arm64" in out.splitlines()[0]
    assert releases.where() == before and list(tmp_path.iterdir()) == []


def test_nothing_to_do_is_said_and_writes_nothing(
    releases: Releases, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = _run(capsys, releases.image, "--to", "1.2.0", "--yes",
                        "--reports", str(tmp_path))
    assert code == 0 and out.startswith("nothing to do: every alias is on 1.2.0\n")
    assert list(tmp_path.iterdir()) == []


def test_an_alias_moved_by_someone_else_stops_the_rollback(
    releases: Releases, pusher: Pusher, tmp_path: Path
) -> None:
    name = ImageName(releases.image.split("/", 1)[0], releases.repo)
    plan = plan_rollback(releases.client, name, "1.0.0", None)
    assert [m.alias for m in plan.pending] == ["1", "latest"]
    pusher.tag(releases.repo, "latest", releases.pushed["1.1.0"])  # another run, meanwhile
    result = run_rollback(plan, releases.client, report_dir=tmp_path)
    assert result.ok is False and result.moved == ["1"]
    assert result.error is not None and result.error.startswith(
        f"alias: {releases.image}:latest was moved by someone else since the plan")
    after = releases.where()
    assert after["1"] == releases.digest("1.0.0") and after["latest"] == releases.digest("1.1.0")
    [report] = _reports(tmp_path)
    assert report["ok"] is False and report["error"] == result.error
    assert report["images"][releases.image]["moved"] == ["1"]  # what moved stays recorded


def test_an_alias_the_registry_did_not_move_fails_loudly(
    registry: RunningRegistry, proxy: FaultProxy, releases: Releases, tmp_path: Path
) -> None:
    """The registry answers the PUT of latest with 201 but keeps the old image."""
    name = ImageName(proxy.host, releases.repo)
    with RegistryClient(proxy.host) as client:
        plan = plan_rollback(client, name, "1.0.0", ["latest"])
        proxy.inject(Fault(status=201, method="PUT", body=b"",
                           path_contains=f"/{releases.repo}/manifests/latest"))
        result = run_rollback(plan, client, report_dir=tmp_path)
    assert result.ok is False and result.moved == ["latest"]
    assert result.error == (f"alias: read back after the moves, not on 1.0.0 "
                            f"({releases.digest('1.0.0')[:19]}): latest is on "
                            f"{releases.digest('1.2.0')[:19]}; another run moved them at the "
                            "same time; check with dockyard history")
    assert _reports(tmp_path)[0]["ok"] is False


def test_services_plan_then_roll_back(registry: RunningRegistry, releases: Releases,
                                      tmp_path: Path) -> None:
    """The pair the browser's workers call: plan (shown in the modal), then run."""
    services = Services(registry_client=lambda image: RegistryClient(image.domain))
    name = ImageName(registry.host, releases.repo)
    plan = services.plan_rollback(name, "1.1.0", ["1.1"])
    assert [(m.alias, m.previous) for m in plan.moves] == [("1.1", releases.digest("1.1.1"))]
    result = services.rollback(plan, report_dir=tmp_path)
    assert result.ok and result.moved == ["1.1"]
    assert releases.where()["1.1"] == releases.digest("1.1.0")
    with pytest.raises(DockyardError) as refused:
        services.plan_rollback(name, "1.1.0", ["1.2"])
    assert refused.value.field == "alias"


def test_a_single_image_target_is_verified_by_its_config(
    registry: RunningRegistry, pusher: Pusher, releases: Releases, tmp_path: Path
) -> None:
    single = pusher.image(releases.repo, "linux", "amd64")
    pusher.tag(releases.repo, "0.9.0", single)
    name = ImageName(registry.host, releases.repo)
    plan = plan_rollback(releases.client, name, "0.9.0", ["latest"])
    assert plan.platforms == ("linux/amd64",)
    assert run_rollback(plan, releases.client, report_dir=tmp_path).ok
    assert releases.where()["latest"] == single.digest


def test_a_refused_put_or_a_cancel_ends_the_run_with_what_moved_recorded(
    proxy: FaultProxy, releases: Releases, tmp_path: Path
) -> None:
    name = ImageName(proxy.host, releases.repo)
    with RegistryClient(proxy.host, max_retries=0) as client:
        plan = plan_rollback(client, name, "1.0.0", None)
        proxy.inject(Fault(status=500, method="PUT",
                           path_contains=f"/{releases.repo}/manifests/latest"))
        failed = run_rollback(plan, client, report_dir=tmp_path / "put")
        stop = threading.Event()
        stop.set()
        cancelled = run_rollback(plan_rollback(client, name, "1.1.0", ["latest"]), client,
                                 report_dir=tmp_path / "cancel", cancel=stop)
    assert failed.ok is False and failed.moved == ["1"]
    assert failed.error is not None and failed.error.startswith("registry: ")
    [report] = _reports(tmp_path / "put")
    assert report["ok"] is False and report["images"][str(name)]["moved"] == ["1"]
    assert (cancelled.ok, cancelled.moved) == (False, [])
    assert cancelled.error == ("rollback: cancelled before latest; moved so far: none; run the "
                               "rollback again to move the rest")
    after = releases.where()
    assert after["1"] == releases.digest("1.0.0") and after["latest"] == releases.digest("1.2.0")


def test_a_failed_run_exits_1_with_one_line_and_the_report_path(
    proxy: FaultProxy, releases: Releases, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    proxy.inject(Fault(status=201, method="PUT", body=b"",
                       path_contains=f"/{releases.repo}/manifests/latest"))
    code, out, err = _run(capsys, f"{proxy.host}/{releases.repo}", "--to", "1.1.1", "--yes",
                          "--reports", str(tmp_path))
    assert code == 1
    assert err.startswith("error: alias: read back after the moves, not on 1.1.1 ")
    assert err.count("\n") == 1 and "latest is on" in err
    assert out.splitlines()[-1] == f"report: {next(tmp_path.glob('*.json'))}"
