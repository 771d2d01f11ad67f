"""ProjectRepo against real temporary git repositories (and real bare remotes)."""

from __future__ import annotations

import http.server
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.errors import RepoError, VersionError
from core.repo import RULES, ProjectRepo, RuleResult
from core.version import parse_version
from tests.support.gitrepo import add_bare_remote, git

RepoFactory = Callable[..., Path]


def rules(results: list[RuleResult]) -> dict[str, bool]:
    return {r.rule: r.ok for r in results}


def commit(path: Path, text: str = "more") -> str:
    (path / "README").write_text(text + "\n")
    git(path, "commit", "-q", "-am", text)
    return git(path, "rev-parse", "HEAD")


def test_import_does_not_load_gitpython() -> None:
    code = "import sys, core.repo; print('git' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_open_refuses_a_directory_outside_git(tmp_path: Path) -> None:
    with pytest.raises(RepoError, match="is not inside a git work tree"):
        ProjectRepo.open(tmp_path)
    with pytest.raises(RepoError, match="does not exist"):
        ProjectRepo.open(tmp_path / "missing")


def test_open_refuses_a_bare_repository(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "b.git")], check=True)
    with pytest.raises(RepoError, match="bare repository"):
        ProjectRepo.open(tmp_path / "b.git")


def test_open_from_a_subdirectory_finds_the_root(repo_factory: RepoFactory) -> None:
    path = repo_factory("v1.0.0")
    (path / "sub").mkdir()
    assert ProjectRepo.open(path / "sub").root == path


def test_head_and_short_commit(repo_factory: RepoFactory) -> None:
    path = repo_factory("v1.0.0")
    repo = ProjectRepo.open(path)
    assert repo.head_commit() == git(path, "rev-parse", "HEAD")
    assert repo.short_commit() == repo.head_commit()[:7]


def test_a_repository_without_commits(tmp_path: Path) -> None:
    git_dir = tmp_path / "empty"
    git_dir.mkdir()
    git(git_dir, "init", "-q")
    with pytest.raises(RepoError, match="no commits yet"):
        ProjectRepo.open(git_dir).head_commit()


def test_version_tags_are_sorted_and_skip_other_tags(repo_factory: RepoFactory) -> None:
    path = repo_factory("v1.10.0", "not-a-version", "1.2.0", "v1.2.0-rc.1", "V2.0.0", "v1.9.0")
    tags = [v.git_tag for v in ProjectRepo.open(path).version_tags()]
    assert tags == ["v1.2.0-rc.1", "1.2.0", "v1.9.0", "v1.10.0"]


@pytest.mark.parametrize("annotated", [True, False])
def test_tags_at_head_peels_annotated_tags(repo_factory: RepoFactory, annotated: bool) -> None:
    path = repo_factory("v1.0.0", "v1.1.0", annotated=annotated)
    git(path, "tag", "extra")
    assert ProjectRepo.open(path).tags_at_head() == ["extra", "v1.1.0"]


def test_dirty_paths(repo_factory: RepoFactory) -> None:
    path = repo_factory("v1.0.0")
    repo = ProjectRepo.open(path)
    assert repo.dirty_paths() == []
    (path / ".gitignore").write_text("build/\n")
    (path / "old.txt").write_text("x")
    git(path, "add", ".gitignore", "old.txt")
    git(path, "commit", "-q", "-m", "ignore")
    (path / "build").mkdir()
    (path / "build" / "out.bin").write_text("x")
    assert repo.dirty_paths() == []  # ignored files do not count
    (path / "README").write_text("changed\n")
    (path / "new dir").mkdir()
    (path / "new dir" / "file one.txt").write_text("x")
    (path / "staged.txt").write_text("x")
    git(path, "add", "staged.txt")
    git(path, "mv", "old.txt", "renamed.txt")
    assert sorted(repo.dirty_paths()) == sorted(
        ["README", "new dir/file one.txt", "staged.txt", "renamed.txt"]
    )


def test_remote_name(repo_factory: RepoFactory, tmp_path: Path) -> None:
    path = repo_factory()
    repo = ProjectRepo.open(path)
    assert repo.remote_name() is None
    git(path, "remote", "add", "upstream", str(tmp_path / "u.git"))
    assert repo.remote_name() == "upstream"
    git(path, "remote", "add", "origin", str(tmp_path / "o.git"))
    assert repo.remote_name() == "origin"


def test_remote_tags_are_peeled(repo_factory: RepoFactory, tmp_path: Path) -> None:
    path = repo_factory("v1.0.0", "v1.1.0")
    git(path, "tag", "light", "HEAD~1")
    add_bare_remote(path, tmp_path / "origin.git")
    got = ProjectRepo.open(path).remote_tags("origin")
    assert got == {
        "v1.0.0": git(path, "rev-parse", "HEAD~1"),
        "v1.1.0": git(path, "rev-parse", "HEAD"),
        "light": git(path, "rev-parse", "HEAD~1"),
    }


def test_a_good_release_passes_every_rule(repo_factory: RepoFactory, tmp_path: Path) -> None:
    path = repo_factory("v1.0.0", "v1.1.0")
    add_bare_remote(path, tmp_path / "origin.git")
    repo = ProjectRepo.open(path)
    results = repo.check_release("v1.1.0")
    assert [r.rule for r in results] == list(RULES)
    assert all(r.ok for r in results), results
    assert repo.require_release("v1.1.0") == parse_version("v1.1.0")
    assert repo.require_release(None) == parse_version("v1.1.0")


@pytest.mark.parametrize("annotated", [True, False])
def test_on_head_rule(repo_factory: RepoFactory, annotated: bool) -> None:
    path = repo_factory("v1.0.0", annotated=annotated)
    repo = ProjectRepo.open(path)
    assert rules(repo.check_release("v1.0.0"))["on-head"] is True
    old = repo.head_commit()
    new = commit(path)
    with pytest.raises(VersionError) as caught:
        repo.require_release("v1.0.0")
    assert str(caught.value) == (
        f"tag: 'v1.0.0' points at {old[:7]} but HEAD is {new[:7]}; "
        "check out the tag (git checkout v1.0.0) or tag HEAD with a new version"
    )


def test_exists_rule(repo_factory: RepoFactory) -> None:
    repo = ProjectRepo.open(repo_factory("v1.0.0"))
    results = repo.check_release("v1.1.0")
    assert rules(results) == {"semver": True, "newer": True, "exists": False, "clean": True}
    with pytest.raises(
        VersionError, match=re.escape("tag: 'v1.1.0' is not a tag in this repository; create it")
    ):
        repo.require_release("v1.1.0")


def test_semver_rule_comes_first(repo_factory: RepoFactory) -> None:
    path = repo_factory("V1.0.0")
    repo = ProjectRepo.open(path)
    assert rules(repo.check_release("V1.0.0")) == {
        "semver": False,
        "exists": True,
        "on-head": True,
        "clean": True,
    }
    with pytest.raises(VersionError, match="uppercase 'V' prefix"):
        repo.require_release("V1.0.0")


def test_clean_rule_lists_a_few_paths(repo_factory: RepoFactory) -> None:
    path = repo_factory("v1.0.0")
    for index in range(7):
        (path / f"new{index}.txt").write_text("x")
    with pytest.raises(RepoError) as caught:
        ProjectRepo.open(path).require_release("v1.0.0")
    message = str(caught.value)
    assert message.startswith("repo: the working tree has uncommitted changes: new0.txt, ")
    assert "and 2 more" in message and "\n" not in message


def test_newer_rule_refuses_equal_and_older(repo_factory: RepoFactory) -> None:
    path = repo_factory("v1.2.3", "1.2.3", "v1.2.2")
    repo = ProjectRepo.open(path)
    with pytest.raises(VersionError) as caught:
        repo.require_release("v1.2.2")
    assert str(caught.value) == (
        "tag: 'v1.2.2' is older than 'v1.2.3', the newest 1.2 release; "
        "tag a newer version, e.g. v1.2.4"
    )
    results = {r.rule: r for r in repo.check_release("1.2.3")}
    assert results["newer"].ok is False
    assert "is the same version as the existing release 'v1.2.3'" in results["newer"].message


def test_newer_rule_allows_a_maintenance_release(repo_factory: RepoFactory) -> None:
    # Deliberately scoped to MAJOR.MINOR: 1.3.9 after 1.4.0 is a legitimate backport, and the
    # never-backwards tag rule keeps `1` and `latest` on 1.4.0.
    path = repo_factory("v1.3.8", "v1.4.0", "v1.3.9")
    results = {r.rule: r for r in ProjectRepo.open(path).check_release("v1.3.9")}
    assert results["newer"].ok is True
    assert results["newer"].message == "v1.3.9 is newer than v1.3.8"
    first = {
        r.rule: r
        for r in ProjectRepo.open(repo_factory("v1.4.0", "v1.2.0")).check_release("v1.2.0")
    }
    assert first["newer"].message == "v1.2.0 is the first 1.2 release; v1.4.0 is newer overall"


def test_newer_rule_for_a_prerelease(repo_factory: RepoFactory) -> None:
    repo = ProjectRepo.open(repo_factory("v1.2.3", "v1.2.3-rc.2", "v1.2.4-rc.1"))
    assert rules(repo.check_release("v1.2.4-rc.1"))["newer"] is True
    assert rules(repo.check_release("v1.2.3-rc.2"))["newer"] is False


def test_pushed_rule(repo_factory: RepoFactory, tmp_path: Path) -> None:
    path = repo_factory("v1.0.0")
    add_bare_remote(path, tmp_path / "origin.git", push_tags=False)
    repo = ProjectRepo.open(path)
    with pytest.raises(VersionError) as caught:
        repo.require_release("v1.0.0")
    assert str(caught.value) == (
        "tag: 'v1.0.0' is not on remote 'origin'; push it: git push origin v1.0.0"
    )
    git(path, "push", "-q", "origin", "v1.0.0")
    assert rules(repo.check_release("v1.0.0"))["pushed"] is True


def test_pushed_rule_compares_the_peeled_commit(repo_factory: RepoFactory, tmp_path: Path) -> None:
    path = repo_factory("v1.0.0")
    add_bare_remote(path, tmp_path / "origin.git")
    commit(path)
    git(path, "tag", "-d", "v1.0.0")
    git(path, "tag", "v1.0.0")  # lightweight, now on the new commit
    results = {r.rule: r for r in ProjectRepo.open(path).check_release("v1.0.0")}
    assert results["pushed"].ok is False
    assert "on remote 'origin' points at" in results["pushed"].message


def test_head_without_a_version_tag(repo_factory: RepoFactory) -> None:
    path = repo_factory("v1.0.0")
    commit(path)
    git(path, "tag", "nightly")
    with pytest.raises(VersionError, match=r"HEAD \([0-9a-f]{7}\) has no version tag; tag it"):
        ProjectRepo.open(path).require_release(None)


def test_head_with_two_version_tags_needs_a_choice(repo_factory: RepoFactory) -> None:
    path = repo_factory("v1.0.0-rc.1")
    git(path, "tag", "-a", "v1.0.0", "-m", "final")
    with pytest.raises(VersionError, match=re.escape("several version tags: v1.0.0, v1.0.0-rc.1")):
        ProjectRepo.open(path).require_release(None)


def test_cut_tag_makes_an_annotated_tag_at_head(repo_factory: RepoFactory) -> None:
    path = repo_factory("v1.0.0")
    head = commit(path)
    repo = ProjectRepo.open(path)
    repo.cut_tag(parse_version("v1.0.1"))
    assert git(path, "cat-file", "-t", "v1.0.1") == "tag"
    assert git(path, "rev-parse", "v1.0.1^{commit}") == head
    assert git(path, "tag", "-l", "--format=%(contents:subject)", "v1.0.1") == "Release 1.0.1"
    repo.cut_tag(parse_version("v1.0.2-rc.1"), "first candidate")
    assert git(path, "tag", "-l", "--format=%(contents:subject)", "v1.0.2-rc.1") == (
        "first candidate"
    )
    assert repo.require_release("v1.0.1") == parse_version("v1.0.1")


def test_cut_tag_refuses_dirty_tree_and_existing_tag(repo_factory: RepoFactory) -> None:
    path = repo_factory("v1.0.0")
    repo = ProjectRepo.open(path)
    with pytest.raises(RepoError, match=re.escape("tag 'v1.0.0' already exists")):
        repo.cut_tag(parse_version("v1.0.0"))
    (path / "README").write_text("dirty\n")
    with pytest.raises(
        RepoError, match=re.escape("cannot tag v1.0.1: the working tree has uncommitted")
    ):
        repo.cut_tag(parse_version("v1.0.1"))
    assert git(path, "tag", "-l", "v1.0.1") == ""


def test_push_tag_pushes_only_that_tag(repo_factory: RepoFactory, tmp_path: Path) -> None:
    path = repo_factory("v1.0.0")
    bare = add_bare_remote(path, tmp_path / "origin.git", push_tags=False)
    git(path, "tag", "other")
    repo = ProjectRepo.open(path)
    repo.push_tag("v1.0.0")
    assert git(bare, "tag", "-l") == "v1.0.0"
    assert git(bare, "rev-parse", "v1.0.0") == git(path, "rev-parse", "v1.0.0")


def test_push_tag_errors(repo_factory: RepoFactory, tmp_path: Path) -> None:
    path = repo_factory("v1.0.0")
    repo = ProjectRepo.open(path)
    with pytest.raises(RepoError, match="the repository has no remote"):
        repo.push_tag("v1.0.0")
    git(path, "remote", "add", "origin", str(tmp_path / "missing.git"))
    with pytest.raises(RepoError, match=re.escape("tag 'v9.9.9' does not exist")):
        repo.push_tag("v9.9.9")
    with pytest.raises(RepoError) as caught:
        repo.push_tag("v1.0.0")
    message = str(caught.value)
    assert message.startswith("repo: git push failed: ")
    assert message.endswith("; check the remote URL, your network and your git credentials")
    assert "\n" not in message


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never answers: a hung remote."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_a_hung_remote_is_cut_off(repo_factory: RepoFactory, silent_server: int) -> None:
    path = repo_factory("v1.0.0")
    git(path, "remote", "add", "origin", f"git://127.0.0.1:{silent_server}/app.git")
    repo = ProjectRepo.open(path, network_timeout=1)
    with pytest.raises(RepoError, match="did not complete in 1 secs"):
        repo.remote_tags("origin")
    results = {r.rule: r for r in repo.check_release("v1.0.0")}
    assert results["pushed"].ok is False
    assert "git ls-remote failed" in results["pushed"].message


class _NeedsAuth(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="git"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def auth_server() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NeedsAuth)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join()


def test_no_credential_prompt_and_no_secret_in_errors(
    repo_factory: RepoFactory, auth_server: int
) -> None:
    path = repo_factory("v1.0.0")
    url = f"http://127.0.0.1:{auth_server}/app.git"
    git(path, "remote", "add", "origin", url)
    with pytest.raises(RepoError) as caught:
        ProjectRepo.open(path).remote_tags("origin")
    assert "terminal prompts disabled" in str(caught.value)
    git(path, "remote", "set-url", "origin", url.replace("//", "//bob:hunter2-secret@"))
    with pytest.raises(RepoError) as caught:
        ProjectRepo.open(path).push_tag("v1.0.0")
    assert "hunter2-secret" not in str(caught.value)


def test_a_released_commit_gets_no_second_release_tag(repo_factory: RepoFactory) -> None:
    """The one rule behind ``dockyard tag`` and the wizard's Cut button."""
    path = repo_factory("v1.1.1")
    repo = ProjectRepo.open(path)
    with pytest.raises(RepoError, match=re.escape("HEAD is already released as v1.1.1")):
        repo.cut_tag(parse_version("v1.2.0"))
    assert git(path, "tag", "-l") == "v1.1.1"
    repo.cut_tag(parse_version("v1.2.0-rc.1"))  # a prerelease neither blocks nor is blocked
    candidate = repo_factory("v2.0.0-rc.1")
    ProjectRepo.open(candidate).cut_tag(parse_version("v2.0.0"))
    assert git(candidate, "tag", "--points-at", "HEAD").split() == ["v2.0.0", "v2.0.0-rc.1"]
