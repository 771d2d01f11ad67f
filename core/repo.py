"""The project's git checkout: version tags, HEAD, clean tree, remote; cutting and pushing a tag.

GitPython is imported inside the methods: ``import git`` costs tens of milliseconds and the TUI
should start without it. Calls that reach a remote run with a timeout and with
``GIT_TERMINAL_PROMPT=0``, so a missing credential fails fast instead of waiting on a prompt.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from core.errors import RepoError, VersionError
from core.paths import shown as shown_path
from core.version import ReleaseVersion, latest_release, next_version, parse_version

if TYPE_CHECKING:
    import git

NETWORK_TIMEOUT = 30.0
RULES = ("semver", "newer", "exists", "on-head", "clean", "pushed")
_SHOWN_PATHS = 5
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


@dataclass(frozen=True)
class RuleResult:
    """One release rule checked against the repo: its name, outcome and how to fix it."""

    rule: str
    ok: bool
    message: str
    fix: str = ""


class ProjectRepo:
    """A git work tree seen through the rules a release must pass."""

    def __init__(self, repo: git.Repo, *, network_timeout: float = NETWORK_TIMEOUT) -> None:
        self._repo = repo
        self.network_timeout = network_timeout
        self._repo.git.update_environment(GIT_TERMINAL_PROMPT="0")
        self.root = Path(str(repo.working_tree_dir))

    @classmethod
    def open(cls, path: Path, *, network_timeout: float = NETWORK_TIMEOUT) -> ProjectRepo:
        """Open the work tree containing ``path`` (a subdirectory works too)."""
        git = _git_module(find_program=True)
        try:
            repo = git.Repo(path, search_parent_directories=True)
        except git.NoSuchPathError:
            raise RepoError(
                f"{str(path)!r} does not exist", "pass --repo DIR of a git checkout"
            ) from None
        except git.InvalidGitRepositoryError:
            raise RepoError(
                f"{str(path)!r} is not inside a git work tree",
                "pass --repo DIR of a git checkout, or run git init",
            ) from None
        except OSError as err:
            raise RepoError(
                f"{shown_path(path)!r} cannot be opened: {(err.strerror or 'error').lower()}",
                "pass --repo DIR of a git checkout",
            ) from None
        if repo.bare or repo.working_tree_dir is None:
            raise RepoError(f"{str(path)!r} is a bare repository", "use a checkout with files")
        return cls(repo, network_timeout=network_timeout)

    # -- reading -----------------------------------------------------------------------------

    def head_commit(self) -> str:
        try:
            return str(self._repo.head.commit.hexsha)
        except ValueError:
            raise RepoError("the repository has no commits yet", "commit your work first") from None

    def short_commit(self) -> str:
        return self.head_commit()[:7]

    def version_tags(self) -> list[ReleaseVersion]:
        """Every tag that is a valid version, ascending; other tags are ignored."""
        found = []
        for name in self._tag_names():
            try:
                found.append(parse_version(name))
            except VersionError:
                continue
        return sorted(found)

    def tags_at_head(self) -> list[str]:
        """Tags whose commit (annotated tags peeled) is HEAD."""
        self.head_commit()
        out = self._git("tag", "--points-at", "HEAD")
        return [line for line in out.splitlines() if line]

    def dirty_paths(self) -> list[str]:
        """Modified, staged and untracked paths; ignored files do not count."""
        out = self._git("status", "--porcelain=v1", "-z", "--untracked-files=all")
        entries = out.split("\0")
        paths: list[str] = []
        index = 0
        while index < len(entries):
            entry = entries[index]
            index += 1
            if len(entry) < 4:
                continue
            paths.append(entry[3:])
            if "R" in entry[:2] or "C" in entry[:2]:
                index += 1  # the rename's source path follows
        return paths

    def remote_name(self) -> str | None:
        names = [remote.name for remote in self._repo.remotes]
        if "origin" in names:
            return "origin"
        return names[0] if names else None

    def remote_tags(self, remote: str) -> dict[str, str]:
        """Tags on ``remote`` mapped to the commit they point at (annotated tags peeled)."""
        out = self._git("ls-remote", "--tags", remote, network=True)
        direct: dict[str, str] = {}
        peeled: dict[str, str] = {}
        for line in out.splitlines():
            sha, _, ref = line.partition("\t")
            if not ref.startswith("refs/tags/"):
                continue
            name = ref.removeprefix("refs/tags/")
            if name.endswith("^{}"):
                peeled[name[:-3]] = sha
            else:
                direct[name] = sha
        return {name: peeled.get(name, sha) for name, sha in direct.items()}

    def tag_commit(self, tag: str) -> str | None:
        """The commit ``tag`` points at (peeled), or None when there is no such tag."""
        if tag not in self._tag_names():
            return None
        return self._git("rev-parse", "--verify", "--quiet", f"refs/tags/{tag}^{{commit}}")

    # -- release rules -----------------------------------------------------------------------

    def check_release(self, tag: str) -> list[RuleResult]:
        """Check every release rule that can be checked, in the order of ``RULES``.

        A rule whose premise failed (no valid version, no such tag) is left out.
        """
        results: list[RuleResult] = []
        version: ReleaseVersion | None = None
        try:
            version = parse_version(tag)
            results.append(RuleResult("semver", True, f"{tag!r} is a valid semantic version"))
        except VersionError as err:
            results.append(RuleResult("semver", False, err.problem, err.valid))
        if version is not None:
            results.append(self._check_newer(version))
        commit = self.tag_commit(tag)
        head = self.head_commit()
        if commit is None:
            results.append(
                RuleResult(
                    "exists",
                    False,
                    f"{tag!r} is not a tag in this repository",
                    f"create it at HEAD: {tag_command(tag, self.remote_name() is not None)}",
                )
            )
        else:
            results.append(RuleResult("exists", True, f"{tag!r} is a tag in this repository"))
            if commit == head:
                results.append(RuleResult("on-head", True, f"{tag!r} points at HEAD"))
            else:
                results.append(
                    RuleResult(
                        "on-head",
                        False,
                        f"{tag!r} points at {commit[:7]} but HEAD is {head[:7]}",
                        f"check out the tag (git checkout {tag}) or tag HEAD with a new version",
                    )
                )
        results.append(self._check_clean())
        remote = self.remote_name()
        if commit is not None and remote is not None:
            results.append(self.check_pushed(tag, commit, remote))
        return results

    def require_release(self, tag: str | None) -> ReleaseVersion:
        """The version to release: ``tag``, or the single version tag at HEAD when None.

        Raises the first failing rule: RepoError for a dirty tree, otherwise VersionError, since
        every other rule is about the tag the user chose.
        """
        if tag is None:
            tag = self._single_head_tag()
        for result in self.check_release(tag):
            if not result.ok:
                error = RepoError if result.rule == "clean" else VersionError
                raise error(result.message, result.fix)
        return parse_version(tag)

    def _single_head_tag(self) -> str:
        at_head = []
        for name in self.tags_at_head():
            try:
                at_head.append(parse_version(name).git_tag)
            except VersionError:
                continue
        if not at_head:
            raise VersionError(
                f"HEAD ({self.short_commit()}) has no version tag",
                "tag it with dockyard tag VERSION (e.g. v1.2.3), or pass --tag",
            )
        if len(at_head) > 1:
            raise VersionError(
                f"HEAD carries several version tags: {', '.join(at_head)}",
                "choose one with --tag",
            )
        return at_head[0]

    def _check_newer(self, version: ReleaseVersion) -> RuleResult:
        """Newer than every release of its MAJOR.MINOR series.

        Scoped to the series so a maintenance release (1.3.9 after 1.4.0) stays possible; the
        never-backwards tag rule keeps ``1`` and ``latest`` where they are in that case.
        """
        others = [v for v in self.version_tags() if v.git_tag != version.git_tag]
        series = [
            v
            for v in others
            if (v.version.major, v.version.minor) == (version.version.major, version.version.minor)
        ]
        last = latest_release(series)
        newest = latest_release(others)
        if last is None:
            note = ""
            if newest is not None and newest.newer_than(version):
                note = f"; {newest.git_tag} is newer overall"
            return RuleResult(
                "newer", True, f"{version.git_tag} is the first {_series(version)} release{note}"
            )
        if version.newer_than(last):
            return RuleResult("newer", True, f"{version.git_tag} is newer than {last.git_tag}")
        suggestion = next_version(last, "patch", prefix="v" if last.git_tag[0] == "v" else "")
        if not last.newer_than(version):
            return RuleResult(
                "newer",
                False,
                f"{version.git_tag!r} is the same version as the existing release {last.git_tag!r}",
                f"tag a newer version, e.g. {suggestion.git_tag}",
            )
        return RuleResult(
            "newer",
            False,
            f"{version.git_tag!r} is older than {last.git_tag!r}, the newest "
            f"{_series(version)} release",
            f"tag a newer version, e.g. {suggestion.git_tag}",
        )

    def _check_clean(self) -> RuleResult:
        dirty = self.dirty_paths()
        if not dirty:
            return RuleResult("clean", True, "the working tree is clean")
        return RuleResult(
            "clean",
            False,
            f"the working tree has uncommitted changes: {_some(dirty)}",
            "commit or stash them, or list generated files in .gitignore",
        )

    def check_pushed(self, tag: str, commit: str, remote: str) -> RuleResult:
        """Whether ``tag`` is on ``remote`` at ``commit`` (a release and a promotion need it)."""
        try:
            on_remote = self.remote_tags(remote).get(tag)
        except RepoError as err:
            return RuleResult("pushed", False, err.problem, err.valid)
        if on_remote is None:
            return RuleResult(
                "pushed",
                False,
                f"{tag!r} is not on remote {remote!r}",
                f"push it: git push {remote} {tag}",
            )
        if on_remote != commit:
            return RuleResult(
                "pushed",
                False,
                f"{tag!r} on remote {remote!r} points at {on_remote[:7]}, "
                f"the local one at {commit[:7]}",
                "make them agree: fix the tag on one side, then push it",
            )
        return RuleResult("pushed", True, f"{tag!r} is on remote {remote!r}")

    # -- writing -----------------------------------------------------------------------------

    def cut_tag(self, version: ReleaseVersion, message: str | None = None) -> None:
        """Create an annotated tag at HEAD; refuses a dirty tree or an existing tag."""
        tag = version.git_tag
        dirty = self.dirty_paths()
        if dirty:
            raise RepoError(
                f"cannot tag {tag}: the working tree has uncommitted changes: {_some(dirty)}",
                "commit or stash them first",
            )
        if tag in self._tag_names():
            raise RepoError(f"tag {tag!r} already exists", "choose another version")
        refuse_second_release(self.tags_at_head(), version)
        self._git("tag", "--annotate", "--message", message or f"Release {version.text}", tag)

    def push_tag(self, tag: str, remote: str | None = None) -> None:
        """Push only ``tag`` to ``remote`` (default: ``remote_name()``)."""
        remote = remote or self.remote_name()
        if remote is None:
            raise RepoError("the repository has no remote", "add one: git remote add origin URL")
        if tag not in self._tag_names():
            raise RepoError(f"tag {tag!r} does not exist", "cut it first")
        self._git("push", remote, f"refs/tags/{tag}:refs/tags/{tag}", network=True)

    # -- plumbing ----------------------------------------------------------------------------

    def _tag_names(self) -> list[str]:
        out = self._git("for-each-ref", "--format=%(refname:strip=2)", "refs/tags")
        return [line for line in out.splitlines() if line]

    def _git(self, *args: str, network: bool = False) -> str:
        """Run git in the repo; failures become RepoError without credentials in the text."""
        git = _git_module()
        timeout = self.network_timeout if network else None
        try:
            run = getattr(self._repo.git, args[0].replace("-", "_"))
            return str(run(*args[1:], kill_after_timeout=timeout))
        except git.GitCommandNotFound:
            raise _no_git() from None
        except git.GitCommandError as err:
            raise RepoError(f"git {args[0]} failed: {_stderr(err)}", _advice(args[0])) from None


def _git_module(*, find_program: bool = False) -> ModuleType:
    """GitPython, as a one-line error when git is missing: GitPython itself fails at import
    time with a long ImportError, or later with GitCommandNotFound."""
    program = os.environ.get("GIT_PYTHON_GIT_EXECUTABLE") or "git"
    if find_program and shutil.which(program) is None:
        raise _no_git()
    try:
        # GitPython on first use; its long ImportError becomes one line here
        import git
    except ImportError:
        raise _no_git() from None
    return git


def _no_git() -> RepoError:
    return RepoError(
        "git is not installed or not on PATH",
        "install git (Debian: apt install git) so that `git --version` works",
    )


def refuse_second_release(tags_on_commit: Iterable[str], new: ReleaseVersion) -> None:
    """One release per commit, for the TUI and the CLI alike.

    A second release tag on a released commit would publish the same bytes as two releases.
    Prereleases neither block nor count: v1.0.0-rc.1 finished as v1.0.0 on the same commit is
    the usual way to release a candidate.
    """
    if new.prerelease:
        return
    released = []
    for name in tags_on_commit:
        try:
            version = parse_version(name)
        except VersionError:
            continue
        if not version.prerelease and version.git_tag != new.git_tag:
            released.append(version.git_tag)
    if released:
        raise RepoError(
            f"HEAD is already released as {', '.join(released)}",
            "commit the next change first, then tag it",
        )


def tag_command(tag: str, push: bool) -> str:
    """The exact command that cuts ``tag`` at HEAD, so a hint never proposes another version."""
    return f"dockyard tag {tag}{' --push' if push else ''}"


def _stderr(err: Exception) -> str:
    text = getattr(err, "stderr", "") or str(err)
    lines = [
        line.strip().removeprefix("stderr: ").strip("'\" ")
        for line in str(text).splitlines()
        if line.strip()
    ]
    return _USERINFO.sub("***@", " ".join(lines[-3:]) or "unknown error")


def _advice(command: str) -> str:
    if command in ("push", "ls-remote"):
        return "check the remote URL, your network and your git credentials"
    if command == "tag":
        return "check git's user.name and user.email settings"
    return "check the repository with git status"


def _some(paths: list[str]) -> str:
    shown = ", ".join(paths[:_SHOWN_PATHS])
    more = len(paths) - _SHOWN_PATHS
    return f"{shown} and {more} more" if more > 0 else shown


def _series(version: ReleaseVersion) -> str:
    return f"{version.version.major}.{version.version.minor}"
