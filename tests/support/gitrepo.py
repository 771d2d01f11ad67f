"""Real temporary git repositories for tests, driven through the git CLI."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Dockyard Test",
    "GIT_AUTHOR_EMAIL": "test@dockyard.invalid",
    "GIT_COMMITTER_NAME": "Dockyard Test",
    "GIT_COMMITTER_EMAIL": "test@dockyard.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV, "HOME": str(repo)}
    done = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    )
    return done.stdout.strip()


def make_repo(path: Path, *, tags: tuple[str, ...] = (), annotated: bool = True) -> Path:
    """A repo with one commit per tag (each tag on its own commit), HEAD on the last."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", GIT_ENV["GIT_AUTHOR_NAME"])
    git(path, "config", "user.email", GIT_ENV["GIT_AUTHOR_EMAIL"])
    git(path, "config", "commit.gpgsign", "false")
    git(path, "config", "tag.gpgsign", "false")
    (path / "README").write_text("sample\n")
    git(path, "add", "README")
    git(path, "commit", "-q", "-m", "initial")
    for index, tag in enumerate(tags):
        if index:
            (path / "README").write_text(f"sample {index}\n")
            git(path, "commit", "-q", "-am", f"change {index}")
        if annotated:
            git(path, "tag", "-a", tag, "-m", f"release {tag}")
        else:
            git(path, "tag", tag)
    return path


def add_bare_remote(repo: Path, bare: Path, *, push_tags: bool = True) -> Path:
    """Create ``bare`` as origin of ``repo`` and push main (and the tags when asked)."""
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    git(repo, "remote", "add", "origin", str(bare))
    git(repo, "push", "-q", "origin", "main")
    if push_tags:
        git(repo, "push", "-q", "origin", "--tags")
    return bare
