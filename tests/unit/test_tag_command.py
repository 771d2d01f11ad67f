"""``dockyard tag --next ...`` on real repositories, through the real CLI entry point."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.gitrepo import add_bare_remote, git
from tui.cli import main

RepoFactory = Callable[..., Path]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["tag", *args])
    out, err = capsys.readouterr()
    return code, out, err


def new_commit(path: Path) -> None:
    with (path / "README").open("a") as readme:
        readme.write("next\n")
    git(path, "commit", "-q", "-am", "next")


def tags(path: Path) -> list[str]:
    return git(path, "tag", "-l").splitlines()


@pytest.mark.parametrize(
    ("existing", "bump", "expected"),
    [
        (("v1.2.3",), "patch", "v1.2.4"),
        (("v1.2.3",), "minor", "v1.3.0"),
        (("v1.2.3",), "major", "v2.0.0"),
        (("v1.2.3",), "pre", "v1.2.4-rc.1"),
        (("v1.2.3", "v1.2.4-rc.1"), "pre", "v1.2.4-rc.2"),
        (("v1.2.3", "v1.2.4-rc.1"), "patch", "v1.2.4"),
        (("1.0.0", "not-semver"), "patch", "1.0.1"),
        ((), "patch", "v0.0.1"),
        ((), "minor", "v0.1.0"),
    ],
)
def test_cuts_the_next_annotated_tag(
    repo_factory: RepoFactory,
    capsys: pytest.CaptureFixture[str],
    existing: tuple[str, ...],
    bump: str,
    expected: str,
) -> None:
    path = repo_factory(*existing)
    new_commit(path)
    code, out, err = run(capsys, "--next", bump, "--repo", str(path))
    assert (code, out) == (0, f"{expected}\n")
    assert err.startswith(f"tagged {expected} at ")
    assert git(path, "cat-file", "-t", expected) == "tag"
    assert git(path, "rev-parse", f"{expected}^{{commit}}") == git(path, "rev-parse", "HEAD")


def test_a_release_candidate_can_be_finished_on_the_same_commit(
    repo_factory: RepoFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    path = repo_factory("v1.0.0-rc.1")
    assert run(capsys, "--next", "patch", "--repo", str(path))[:2] == (0, "v1.0.0\n")


def test_a_named_prerelease(repo_factory: RepoFactory, capsys: pytest.CaptureFixture[str]) -> None:
    path = repo_factory("v1.2.3")
    new_commit(path)
    assert run(capsys, "--next", "pre", "--pre-token", "beta", "--repo", str(path))[:2] == (
        0, "v1.2.4-beta.1\n")
    new_commit(path)
    # beta -> rc sorts forwards; rc -> beta would sort backwards and is refused
    assert run(capsys, "--next", "pre", "--pre-token", "rc", "--repo", str(path))[:2] == (
        0, "v1.2.4-rc.1\n")
    new_commit(path)
    code, out, err = run(capsys, "--next", "pre", "--pre-token", "beta", "--repo", str(path))
    assert (code, out) == (2, "") and err.startswith("error: ") and err.count("\n") == 1
    code, out, err = run(capsys, "--next", "pre", "--pre-token", "1x", "--repo", str(path))
    assert (code, out) == (2, "")
    assert err == ("error: pre-token: '1x' is not a usable prerelease name; "
                   "use letters, e.g. rc, beta\n")
    assert tags(path) == ["v1.2.3", "v1.2.4-beta.1", "v1.2.4-rc.1"]


def test_dry_run_changes_nothing(
    repo_factory: RepoFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = repo_factory("v1.2.3")
    bare = add_bare_remote(path, tmp_path / "origin.git")
    new_commit(path)
    code, out, err = run(capsys, "--next", "minor", "--repo", str(path), "--dry-run", "--push")
    assert (code, out) == (0, "v1.3.0\n")
    assert "dry run: would tag v1.3.0 at " in err and "then push it to origin" in err
    assert tags(path) == ["v1.2.3"]
    assert git(bare, "tag", "-l") == "v1.2.3"


def test_push_sends_the_new_tag(
    repo_factory: RepoFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = repo_factory("v1.2.3")
    bare = add_bare_remote(path, tmp_path / "origin.git")
    new_commit(path)
    code, out, err = run(capsys, "--next", "patch", "--repo", str(path), "--push")
    assert (code, out) == (0, "v1.2.4\n")
    assert "pushed v1.2.4 to origin" in err
    assert git(bare, "rev-parse", "v1.2.4") == git(path, "rev-parse", "v1.2.4")


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (
            "dirty",
            (),
            "error: repo: cannot tag v1.2.4: the working tree has uncommitted changes: "
            "README, notes.txt; commit or stash them first\n",
        ),
        (
            "released",
            (),
            "error: repo: HEAD is already released as v1.2.3; "
            "commit the next change first, then tag it\n",
        ),
        (
            "no-remote",
            ("--push",),
            "error: repo: --push needs a remote, and this repository has none; "
            "add one with git remote add origin URL, or drop --push\n",
        ),
    ],
)
def test_refusals_are_one_line_and_change_nothing(
    repo_factory: RepoFactory,
    capsys: pytest.CaptureFixture[str],
    setup: str,
    args: tuple[str, ...],
    message: str,
) -> None:
    path = repo_factory("v1.2.3")
    if setup != "released":
        new_commit(path)
    if setup == "dirty":
        (path / "README").write_text("edited\n")
        (path / "notes.txt").write_text("new\n")
    code, out, err = run(capsys, "--next", "patch", "--repo", str(path), *args)
    assert (code, out, err) == (2, "", message)
    assert tags(path) == ["v1.2.3"]


def test_outside_a_repository(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--next", "patch", "--repo", str(tmp_path))
    assert (code, out) == (2, "")
    assert err == (
        f"error: repo: {str(tmp_path)!r} is not inside a git work tree; "
        "pass --repo DIR of a git checkout, or run git init\n"
    )


@pytest.mark.parametrize("args", [("--next", "micro"), ()])
def test_bad_arguments(args: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["tag", *args])
    out, err = capsys.readouterr()
    assert caught.value.code == 2 and out == ""
    assert err.startswith("error: dockyard tag: ") and err.count("\n") == 1


def test_installed_entry_point_without_traceback(repo_factory: RepoFactory) -> None:
    path = repo_factory("v1.2.3")
    (path / "README").write_text("edited\n")
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli", "tag", "--next", "patch", "--repo", str(path)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("error: repo: ") and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


def test_a_failed_push_says_the_tag_was_made(
    repo_factory: RepoFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = repo_factory("v1.2.3")
    git(path, "remote", "add", "origin", str(tmp_path / "missing.git"))
    new_commit(path)
    code, out, err = run(capsys, "--next", "patch", "--repo", str(path), "--push")
    assert (code, out) == (2, "")
    assert err.startswith("tagged v1.2.4 at ")
    last = err.splitlines()[-1]
    assert last.startswith("error: repo: v1.2.4 was tagged locally, but git push failed: ")
    assert last.endswith("; then push it: git push origin v1.2.4")
    assert tags(path) == ["v1.2.3", "v1.2.4"]


@pytest.mark.parametrize("version", ["v1.3.0", "v2.0.0", "v1.2.4-rc.1", "v1.2.4"])
def test_tags_the_version_given(
    repo_factory: RepoFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path, version: str
) -> None:
    path = repo_factory("v1.2.3")
    bare = add_bare_remote(path, tmp_path / "origin.git")
    new_commit(path)
    code, out, err = run(capsys, version, "--repo", str(path), "--push")
    assert (code, out) == (0, f"{version}\n"), err
    assert git(path, "cat-file", "-t", version) == "tag"
    assert git(bare, "rev-parse", version) == git(path, "rev-parse", version)


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("v1.2", "error: tag: 'v1.2' is not a valid semantic version; "
                 "use all three parts MAJOR.MINOR.PATCH, e.g. v1.2.0\n"),
        ("v1.2.2", "error: tag: 'v1.2.2' is older than 'v1.2.3', the newest 1.2 release; "
                   "tag a newer version, e.g. v1.2.4\n"),
        ("v1.2.3", "error: tag: tag 'v1.2.3' already exists; choose another version\n"),
    ],
)
def test_a_given_version_is_checked_like_a_release(
    repo_factory: RepoFactory, capsys: pytest.CaptureFixture[str], version: str, message: str
) -> None:
    path = repo_factory("v1.2.3")
    new_commit(path)
    assert run(capsys, version, "--repo", str(path)) == (2, "", message)
    assert tags(path) == ["v1.2.3"]


def test_version_and_next_together_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["tag", "v1.0.0", "--next", "patch"])
    assert caught.value.code == 2
    assert capsys.readouterr().err == (
        "error: dockyard tag: argument --next: not allowed with argument VERSION\n")


def test_a_released_commit_gets_no_second_release_but_a_prerelease_can_be_finished(
    repo_factory: RepoFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    path = repo_factory("v1.1.1")
    assert run(capsys, "v1.2.0", "--repo", str(path)) == (
        2, "", "error: repo: HEAD is already released as v1.1.1; "
               "commit the next change first, then tag it\n")
    new_commit(path)
    assert run(capsys, "v1.2.0-rc.1", "--repo", str(path))[:2] == (0, "v1.2.0-rc.1\n")
    assert run(capsys, "v1.2.0", "--repo", str(path))[:2] == (0, "v1.2.0\n")
    assert tags(path) == ["v1.1.1", "v1.2.0", "v1.2.0-rc.1"]


@pytest.mark.parametrize("wanted", ["v1.3.0", "v2.0.0", "v1.2.1-rc.1"])
def test_the_missing_tag_hint_is_the_exact_command_for_that_version(
    repo_factory: RepoFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path, wanted: str
) -> None:
    """The release's hint, run as printed, creates the tag the user meant (and a rerun passes)."""
    path = repo_factory("v1.2.0")
    add_bare_remote(path, tmp_path / "origin.git")
    (path / "Dockerfile").write_text("FROM scratch\n")
    git(path, "add", "Dockerfile")
    git(path, "commit", "-q", "-m", "image")
    code, _, err = main_run(capsys, "release", "--repo", str(path), "--tag", wanted,
                            "--image", "127.0.0.1:9/x/y", "--platform", "linux/amd64",
                            "--dry-run")
    assert code == 2
    hint = err.split("create it at HEAD: ", 1)[1].strip()
    assert hint == f"dockyard tag {wanted} --push"
    assert run(capsys, *hint.split()[2:], "--repo", str(path))[:2] == (0, f"{wanted}\n")
    assert git(path, "rev-parse", f"{wanted}^{{commit}}") == git(path, "rev-parse", "HEAD")


def main_run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err
