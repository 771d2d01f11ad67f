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
