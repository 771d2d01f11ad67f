"""``dockyard promote`` against the real registry and real git checkouts with a bare remote:
the candidate's exact bytes become the release, or nothing is created."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.engines.base import REVISION_LABEL, VERSION_LABEL
from core.events import AliasMoved, ReleaseFailed, ReleaseFinished
from core.promote import check_promotion, run_promotion
from core.published import guard, read_published
from core.reference import parse_reference
from core.registry import RegistryClient
from core.tags import TagSet
from core.version import parse_version
from tests.registry.content import OCI_INDEX, OCI_MANIFEST, Pushed, Pusher
from tests.support.gitrepo import add_bare_remote, git, make_repo
from tests.support.registry import RunningRegistry
from tui.cli import main

PLATFORMS = ["linux/amd64", "linux/arm64"]
ALIASES = ("latest", "1", "1.3", "1.2")


@dataclass
class Project:
    """A checkout with v1.2.0 and v1.3.0 (each on its commit) and a registry repository holding
    1.2.0 with latest/1/1.2 on it, and the candidate 1.3.0-rc.2."""

    checkout: Path
    image: str
    repo: str
    commits: dict[str, str]
    old: Pushed
    rc: Pushed
    reports: Path

    def digest(self, tag: str) -> str | None:
        with RegistryClient(self.image.split("/", 1)[0]) as client:
            head = client.head_manifest(self.repo, tag)
        return head.digest if head else None

    def tags(self) -> dict[str, str | None]:
        return {tag: self.digest(tag) for tag in ("1.3.0", *ALIASES)}


def _project(tmp_path: Path, registry: RunningRegistry, pusher: Pusher, *,
             git_tags: tuple[str, ...] = ("v1.2.0", "v1.3.0"), push_tags: bool = True,
             revision: str | None = None, labels: bool = True) -> Project:
    checkout = make_repo(tmp_path / "app", tags=git_tags)
    add_bare_remote(checkout, tmp_path / "origin.git", push_tags=push_tags)
    commits = {tag: git(checkout, "rev-parse", f"{tag}^{{commit}}") for tag in git_tags}
    repo = f"dy/promote-{uuid.uuid4().hex[:8]}"
    old = pusher.index(repo, "1.2.0", PLATFORMS,
                       labels={REVISION_LABEL: commits.get("v1.2.0", "d" * 40),
                               VERSION_LABEL: "1.2.0"})
    for alias in ("latest", "1", "1.2"):
        pusher.tag(repo, alias, old)
    built_from = revision or git(checkout, "rev-parse", "HEAD")  # the last tag's commit
    rc = pusher.index(repo, "1.3.0-rc.2", PLATFORMS,
                      labels={REVISION_LABEL: built_from, VERSION_LABEL: "1.3.0-rc.2"}
                      if labels else {VERSION_LABEL: "1.3.0-rc.2"})
    return Project(checkout, f"{registry.host}/{repo}", repo, commits, old, rc,
                   tmp_path / "runs")


def _promote(capsys: pytest.CaptureFixture[str], project: Project, *argv: str,
             candidate: str = "1.3.0-rc.2", target: str = "1.3.0") -> tuple[int, str, str]:
    code = main(["promote", f"{project.image}:{candidate}", "--as", target,
                 "--repo", str(project.checkout), "--reports", str(project.reports), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _reports(project: Project) -> list[dict[str, Any]]:
    """The run reports written, oldest run first."""
    paths = project.reports.glob("*.json") if project.reports.is_dir() else ()
    return sorted((json.loads(path.read_text()) for path in paths), key=lambda r: r["started"])


@pytest.fixture
def project(tmp_path: Path, registry: RunningRegistry, pusher: Pusher) -> Project:
    return _project(tmp_path, registry, pusher)


def test_promote_publishes_the_candidates_digest_and_moves_the_aliases(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _promote(capsys, project, "--yes")
    assert (code, err) == (0, ""), out
    rc = project.rc.digest
    assert project.tags() == {"1.3.0": rc, "latest": rc, "1": rc, "1.3": rc,
                              "1.2": project.old.digest}  # 1.2 is 1.2.0's series: untouched
    [report] = _reports(project)
    assert report["mode"] == "promote" and report["ok"] is True
    assert report["version"] == "1.3.0" and report["commit"] == project.commits["v1.3.0"]
    assert report["candidate"] == "1.3.0-rc.2" and report["candidate_digest"] == rc
    entry = report["images"][project.image]
    assert entry["version_tag"] == "1.3.0" and sorted(entry["moved"]) == ["1", "1.3", "latest"]
    assert entry["aliases"]["latest"] == {"previous": project.old.digest, "target": rc}
    assert [p["phase"] for p in report["phases"]] == ["verify", "tag", "aliases",
                                                      "verify-aliases"]

    code, out, _ = _history(capsys, project)
    rows = {row["version"]: row for row in json.loads(out)["versions"]}
    assert rows["1.3.0"]["digest"] == rc and rows["1.3.0"]["aliases"] == ["1", "1.3", "latest"]
    [run] = rows["1.3.0"]["runs"]
    assert run["mode"] == "promote" and run["ok"] is True
    assert {m["alias"]: m["from"] for m in run["moved"]} == {
        "latest": project.old.digest, "1": project.old.digest, "1.3": None}

    # the image's version is now 1.3.0 (its tag), not its label's 1.3.0-rc.2: a later 1.2.9
    # release does not take latest from it
    later = parse_version("1.2.9")
    with RegistryClient(project.image.split("/", 1)[0]) as client:
        published = read_published(client, project.repo, later, ["latest", "1"])
    assert published.aliases["latest"].version == parse_version("1.3.0")
    held = guard(TagSet("1.2.9", ("1.2", "1", "latest"), ()), later, published)
    assert held.aliases == ("1.2",)


def _history(capsys: pytest.CaptureFixture[str], project: Project) -> tuple[int, str, str]:
    code = main(["history", project.image, "--json", "--reports", str(project.reports)])
    out, err = capsys.readouterr()
    return code, out, err


def test_running_it_twice_changes_nothing_more(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _promote(capsys, project, "--yes")[0] == 0
    before = project.tags()
    code, out, err = _promote(capsys, project)
    assert code == 2 and "1.3.0: already on the candidate's digest (already promoted)" in out
    assert err == "error: yes: nothing promoted; add --yes to promote\n"
    code, out, _ = _promote(capsys, project, "--yes")
    assert code == 0
    assert "already there (already promoted)" in out
    assert project.tags() == before
    first, second = _reports(project)
    assert first["images"][project.image]["moved"] != []
    assert second["ok"] is True and second["images"][project.image]["moved"] == []


def test_aliases_a_newer_release_holds_are_withheld(
    tmp_path: Path, registry: RunningRegistry, pusher: Pusher,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = _project(tmp_path, registry, pusher)
    newer = pusher.index(project.repo, "1.4.0", PLATFORMS, labels={VERSION_LABEL: "1.4.0"})
    for alias in ("latest", "1"):
        pusher.tag(project.repo, alias, newer)
    code, out, _ = _promote(capsys, project, "--yes")
    assert code == 0, out
    assert project.tags() == {"1.3.0": project.rc.digest, "1.3": project.rc.digest,
                              "latest": newer.digest, "1": newer.digest,
                              "1.2": project.old.digest}
    [report] = _reports(project)
    withheld = report["images"][project.image]["withheld"]
    assert {w["tag"] for w in withheld} == {"latest", "1"}
    assert all(w["reason"] == "1.4.0 is published" for w in withheld)


def _refused(capsys: pytest.CaptureFixture[str], project: Project, field: str,
             *argv: str, **names: str) -> str:
    """Promote with --yes; it must refuse in one line naming ``field`` and create nothing."""
    before = project.tags()
    code, out, err = _promote(capsys, project, "--yes", *argv, **names)
    assert (code, out) == (2, "")
    assert err.startswith(f"error: {field}: ") and err.count("\n") == 1 and "; " in err
    assert project.tags() == before and before["1.3.0"] is None
    assert not project.reports.exists()
    return err


def test_a_candidate_built_from_another_commit_is_refused(
    tmp_path: Path, registry: RunningRegistry, pusher: Pusher,
    capsys: pytest.CaptureFixture[str],
) -> None:
    other = "f" * 40
    project = _project(tmp_path, registry, pusher, revision=other)
    err = _refused(capsys, project, "revision")
    assert f"built from commit {other}, but v1.3.0 is on commit {project.commits['v1.3.0']}" \
        in err


def test_a_candidate_without_a_revision_label_is_refused(
    tmp_path: Path, registry: RunningRegistry, pusher: Pusher,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = _project(tmp_path, registry, pusher, labels=False)
    assert f"has no {REVISION_LABEL} label" in _refused(capsys, project, "revision")


def test_a_git_tag_not_pushed_is_refused(
    tmp_path: Path, registry: RunningRegistry, pusher: Pusher,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = _project(tmp_path, registry, pusher, push_tags=False)
    err = _refused(capsys, project, "tag")
    assert err == "error: tag: 'v1.3.0' is not on remote 'origin'; push it: git push origin " \
                  "v1.3.0\n"


def test_a_missing_git_tag_is_refused(
    tmp_path: Path, registry: RunningRegistry, pusher: Pusher,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = _project(tmp_path, registry, pusher, git_tags=("v1.2.0",))
    err = _refused(capsys, project, "tag")
    assert "neither v1.3.0 nor 1.3.0 is a tag in" in err
    assert "git tag -a v1.3.0" in err


def test_a_version_tag_on_other_bytes_is_never_replaced(
    project: Project, pusher: Pusher, capsys: pytest.CaptureFixture[str]
) -> None:
    pusher.tag(project.repo, "1.3.0", project.old)
    code, out, err = _promote(capsys, project, "--yes")
    assert (code, out) == (2, "")
    assert err.startswith("error: as: ") and "version tags are never replaced" in err
    assert project.digest("1.3.0") == project.old.digest
    assert project.digest("latest") == project.old.digest


def test_a_candidate_that_is_not_whole_is_refused(
    project: Project, pusher: Pusher, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = pusher.index(project.repo, "1.3.0-rc.3", PLATFORMS,
                          lie={"linux/arm64": "linux/amd64"},
                          labels={REVISION_LABEL: project.commits["v1.3.0"]})
    assert broken.digest
    err = _refused(capsys, project, "verify", candidate="1.3.0-rc.3")
    assert "linux/arm64 image's config says linux/amd64" in err


def test_without_yes_it_says_what_it_would_do_and_creates_nothing(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    before = project.tags()
    code, out, err = _promote(capsys, project)
    assert code == 2 and err == "error: yes: nothing promoted; add --yes to promote\n"
    assert out.splitlines()[:4] == [
        f"promote {project.image}:1.3.0-rc.2 as 1.3.0",
        f"  candidate {project.rc.digest}: linux/amd64, linux/arm64 verified",
        f"  built from {project.commits['v1.3.0']} = git tag v1.3.0, pushed to origin",
        f"  1.3.0: create on {project.rc.digest}"]
    assert project.tags() == before and not project.reports.exists()
    code, out, _ = _promote(capsys, project, "--json")
    data = json.loads(out)
    assert code == 2 and data["aliases"] == ["1.3", "1", "latest"]
    assert data["version_tag"] == "create" and data["digest"] == project.rc.digest


@pytest.mark.parametrize(("names", "field", "valid"), [
    ({"target": "1.4.0"}, "as", "a candidate becomes its own release: --as 1.3.0"),
    ({"target": "1.3.0-rc.3"}, "as", "give --as 1.3.0 (no prerelease, no build metadata)"),
    ({"target": "1.3"}, "as", "give --as 1.3.0"),
    ({"candidate": "latest"}, "image", "give the candidate's version tag, e.g. 1.3.0-rc.2"),
    ({"candidate": "1.2.0", "target": "1.2.0"}, "image",
     "promote a prerelease to its release, e.g. 1.3.0-rc.2 --as 1.3.0"),
    ({"candidate": "1.3.0-rc.9"}, "image", "give a candidate it holds"),
])
def test_bad_input_is_one_line_and_creates_nothing(
    project: Project, capsys: pytest.CaptureFixture[str], names: dict[str, str], field: str,
    valid: str,
) -> None:
    assert f"; {valid}" in _refused(capsys, project, field, **names)


def test_a_git_tag_without_v_is_the_release_tag(
    tmp_path: Path, registry: RunningRegistry, pusher: Pusher,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = _project(tmp_path, registry, pusher, git_tags=("1.2.0", "1.3.0"))
    code, out, _ = _promote(capsys, project, "--yes")
    assert code == 0, out
    [report] = _reports(project)
    assert report["git_tag"] == "1.3.0" and report["commit"] == project.commits["1.3.0"]
    assert project.digest("1.3.0") == project.rc.digest


def test_a_version_tag_taken_after_the_checks_stops_the_run_before_any_alias(
    project: Project, pusher: Pusher
) -> None:
    """Another run creates 1.3.0 on other bytes between the checks and the tag phase."""
    reference = parse_reference(f"{project.image}:1.3.0-rc.2")
    with RegistryClient(reference.name.domain) as client:
        promotion = check_promotion(client, reference, "1.3.0", project.checkout)
        pusher.tag(project.repo, "1.3.0", project.old)
        events = list(run_promotion(promotion, client, report_dir=project.reports))
    [failed] = [e for e in events if isinstance(e, ReleaseFailed)]
    assert failed.phase == "tag" and "nothing was moved" in failed.error
    assert f"it holds {project.old.digest}, not the candidate's {project.rc.digest}" \
        in failed.error
    assert not [e for e in events if isinstance(e, AliasMoved)]
    assert isinstance(events[-1], ReleaseFinished) and not events[-1].ok
    assert project.tags() == {"1.3.0": project.old.digest, "latest": project.old.digest,
                              "1": project.old.digest, "1.3": None, "1.2": project.old.digest}
    [report] = _reports(project)
    assert report["ok"] is False and report["failure"]["phase"] == "tag"


def test_json_prints_one_event_a_line(project: Project,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _promote(capsys, project, "--yes", "--json")
    events = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and events[-1]["event"] == "ReleaseFinished" and events[-1]["ok"] is True
    moved = {e["tag"] for e in events if e["event"] == "AliasMoved"}
    assert moved == {"latest", "1", "1.3"}


def test_platforms_built_from_different_commits_are_refused(
    project: Project, pusher: Pusher, capsys: pytest.CaptureFixture[str]
) -> None:
    commit = project.commits["v1.3.0"]
    entries = []
    for platform, revision in (("amd64", commit), ("arm64", "f" * 40)):
        image = pusher.image(project.repo, "linux", platform,
                             labels={REVISION_LABEL: revision})
        entries.append({"mediaType": OCI_MANIFEST, "digest": image.digest, "size": image.size,
                        "platform": {"os": "linux", "architecture": platform}})
    pusher.manifest(project.repo, "1.3.0-rc.4", {"schemaVersion": 2, "mediaType": OCI_INDEX,
                                                 "manifests": entries})
    err = _refused(capsys, project, "revision", candidate="1.3.0-rc.4")
    assert f"built from different commits: {commit} (linux/amd64), {'f' * 40} (linux/arm64)" \
        in err
