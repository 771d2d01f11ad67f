"""dockyard.toml: loading, errors with file and line, and a writer that round-trips."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.config import (
    ENGINES,
    FILENAME,
    KEYS,
    MODES,
    ProjectConfig,
    load_config,
    render_config,
    save_config,
)
from core.errors import ConfigError
from core.platforms import KNOWN_PLATFORMS
from core.tags import TagPolicy

FULL = """\
# release settings
images = ["ghcr.io/acme/app", "docker.io/acme/app"]
platforms = ["linux/amd64", "linux/arm64"]
mode = "copy"
binary = "dist/{arch}/app"
dockerfile = "build/Dockerfile"
context = "."
engine = "podman"

[tags]
latest = false
git_tag = true
sha = true
extra = ["stable"]
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / FILENAME).write_text(text, encoding="utf-8")
    return tmp_path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_missing_file_gives_the_defaults(tmp_path: Path) -> None:
    config = load_config(tmp_path)
    assert config == ProjectConfig()
    assert config.path is None
    assert config.tags == TagPolicy()


def test_a_full_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, FULL))
    assert config == ProjectConfig(
        images=("ghcr.io/acme/app", "docker.io/acme/app"),
        platforms=("linux/amd64", "linux/arm64"),
        mode="copy",
        binary="dist/{arch}/app",
        dockerfile="build/Dockerfile",
        context=".",
        engine="podman",
        tags=TagPolicy(latest=False, git_tag=True, sha=True, extra=("stable",)),
    )
    assert config.path == tmp_path / FILENAME


def test_dotted_and_inline_tables_are_fine(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, 'tags.sha = true\nmode = "build"\n'))
    assert config.tags == TagPolicy(sha=True) and config.mode == "build"
    config = load_config(write(tmp_path, "tags = { major = false }\n"))
    assert config.tags == TagPolicy(major=False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'images = ["a/b"]\nmode = "build"\nplatfroms = ["linux/amd64"]\n',
            "config: dockyard.toml:3: 'platfroms' is not a known key; did you mean 'platforms'? "
            "known keys: " + ", ".join(KEYS),
        ),
        (
            "[tags]\nminor = true\n\n  latst = false\n",
            "config: dockyard.toml:4: 'tags.latst' is not a known key; did you mean 'latest'? "
            "known keys: version, minor, major, latest, git_tag, sha, extra",
        ),
        (
            "# c\nmode = 3\n",
            "config: dockyard.toml:2: 'mode' must be a string, not an integer; "
            'write mode = "build" or mode = "copy"',
        ),
        (
            'mode = "fast"\n',
            "config: dockyard.toml:1: 'fast' is not a known mode; "
            'write mode = "build" or mode = "copy"',
        ),
        (
            'engine = "docker"\n',
            "config: dockyard.toml:1: 'docker' is not a known engine; write "
            + " or ".join(f'engine = "{e}"' for e in ENGINES),
        ),
        (
            'binary = ""\n',
            "config: dockyard.toml:1: 'binary' must not be empty; "
            'write binary = "...", or remove it',
        ),
        (
            '\n\nplatforms = "linux/amd64"\n',
            "config: dockyard.toml:3: 'platforms' must be an array of strings, not a string; "
            'write platforms = ["..."]',
        ),
        (
            'images = ["a/b", 2]\n',
            "config: dockyard.toml:1: 'images' must be an array of strings, not an array; "
            'write images = ["..."]',
        ),
        (
            'images = ["a/b", ""]\n',
            "config: dockyard.toml:1: 'images' holds an empty string; remove it",
        ),
        (
            'mode = "build"\n[tags]\nsha = "yes"\n',
            "config: dockyard.toml:3: 'tags.sha' must be a boolean, not a string; "
            "write sha = true or sha = false",
        ),
        (
            '[tags]\nminor = true\nextra = ["ok", "-bad"]\n',
            "config: dockyard.toml:3: '-bad' is not a valid image tag; use 1 to 128 ASCII "
            "letters, digits, '_', '.' or '-', not starting with '.' or '-'",
        ),
        (
            "[tags]\nversion = false\n",
            "config: dockyard.toml:2: the version tag cannot be turned off; dockyard pushes "
            "X.Y.Z first and points every alias at it; keep version = true",
        ),
        (
            'mode = "build"\ntags = "all"\n',
            "config: dockyard.toml:2: 'tags' must be a table, not a string; write [tags] with "
            "keys: version, minor, major, latest, git_tag, sha, extra",
        ),
        (
            'images = ["a"]\n\n[extras]\nx = 1\n',
            "config: dockyard.toml:3: 'extras' is not a known key; "
            "did you mean 'tags'? known keys: " + ", ".join(KEYS),
        ),
        (
            "[tags]\nextra = [1]\n",
            "config: dockyard.toml:2: 'tags.extra' must be an array of strings, not an array; "
            'write extra = ["..."]',
        ),
        (
            'tags.minor = "no"\n',
            "config: dockyard.toml:1: 'tags.minor' must be a boolean, not a string; "
            "write minor = true or minor = false",
        ),
        (
            "context = 2024-01-01\n",
            "config: dockyard.toml:1: 'context' must be a string, not a date or time; "
            'write context = "..."',
        ),
    ],
)
def test_semantic_errors_name_file_and_line(tmp_path: Path, text: str, expected: str) -> None:
    assert error_of(tmp_path, text) == expected


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ('mode = "build"\nimages = \n', 2, "Invalid value"),
        ('mode = "build"\nmode = "copy"\n', 2, "Cannot overwrite a value"),
        ("[tags]\nsha = true\n[tags]\n", 3, "Cannot declare ('tags',) twice"),
        ('images = ["a"\n', 1, "Unclosed array"),
    ],
)
def test_syntax_errors_use_the_line_from_tomllib(
    tmp_path: Path, text: str, line: int, problem: str
) -> None:
    message = error_of(tmp_path, text)
    assert message.startswith(f"config: dockyard.toml:{line}: invalid TOML: ")
    assert problem in message
    assert "(at line" not in message


def test_non_utf8_file(tmp_path: Path) -> None:
    (tmp_path / FILENAME).write_bytes(b'mode = "\xff"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(tmp_path)


def test_saved_file_is_readable_toml(tmp_path: Path) -> None:
    config = ProjectConfig(images=("ghcr.io/acme/app",), mode="build", tags=TagPolicy(sha=True))
    path = save_config(tmp_path, config)
    assert path == tmp_path / FILENAME
    text = path.read_text()
    assert 'images = ["ghcr.io/acme/app"]\n' in text
    assert "\n[tags]\n" in text and "sha = true\n" in text
    assert "binary" not in text  # unset values stay out
    assert tomllib.loads(text)["mode"] == "build"
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_save_refuses_what_load_would_refuse(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'fast' is not a known mode"):
        save_config(tmp_path, ProjectConfig(mode="fast"))
    assert not (tmp_path / FILENAME).exists()


_text = st.text(min_size=1, max_size=20)
# paths in dockyard.toml must stay inside the project (tested on their own below)
_inside = _text.filter(
    lambda t: "\0" not in t and not t.startswith("/") and ".." not in t.split("/"))
_tag = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
# images and platforms are validated on load, so they are drawn from valid values
_images = st.lists(
    st.from_regex(r"(ghcr\.io/|127\.0\.0\.1:5000/)?[a-z0-9]{1,8}(/[a-z0-9]{1,8}){0,2}",
                  fullmatch=True), max_size=3, unique=True).map(tuple)
_platforms = st.lists(st.sampled_from([str(p) for p in KNOWN_PLATFORMS]), max_size=4,
                      unique=True).map(tuple)
configs = st.builds(
    ProjectConfig,
    images=_images,
    platforms=_platforms,
    mode=st.none() | st.sampled_from(MODES),
    binary=st.none() | _inside,
    dockerfile=st.none() | _inside,
    context=st.none() | _inside,
    engine=st.none() | st.sampled_from(ENGINES),
    tags=st.builds(
        TagPolicy,
        minor=st.booleans(),
        major=st.booleans(),
        latest=st.booleans(),
        git_tag=st.booleans(),
        sha=st.booleans(),
        extra=st.lists(_tag, max_size=3).map(tuple),
    ),
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(configs)
def test_load_of_save_round_trips(tmp_path: Path, config: ProjectConfig) -> None:
    save_config(tmp_path, config)
    loaded = load_config(tmp_path)
    assert loaded == config
    assert loaded.path == tmp_path / FILENAME
    assert tomllib.loads(render_config(config)) is not None


COMMENTED = """\
# release settings for acme/app; ask Jo before adding platforms
images = ["ghcr.io/acme/app"]  # the public image
platforms = ["linux/amd64", "linux/arm64"]

# copy mode: binaries come from the cross-compile job
mode = "copy"
binary = "dist/{arch}/app"

[tags]
# no floating major tag until 2.0
major = false
extra = ["stable"]
"""
COMMENTS = [line.split("#", 1)[1] for line in COMMENTED.splitlines() if "#" in line]


def test_saving_over_a_file_keeps_its_comments_and_untouched_lines(tmp_path: Path) -> None:
    (tmp_path / FILENAME).write_text(COMMENTED)
    before = load_config(tmp_path)
    changed = dataclasses.replace(before, platforms=("linux/amd64",), binary=None)
    text = save_config(tmp_path, changed).read_text()
    for comment in COMMENTS:
        assert comment in text
    assert 'images = ["ghcr.io/acme/app"]  # the public image\n' in text  # untouched line
    assert 'platforms = ["linux/amd64"]\n' in text
    assert "binary" not in text  # unset now, so removed
    assert load_config(tmp_path) == changed


def test_saving_the_loaded_config_changes_nothing_but_spelled_out_defaults(
    tmp_path: Path,
) -> None:
    (tmp_path / FILENAME).write_text(COMMENTED)
    before = load_config(tmp_path)
    text = save_config(tmp_path, before).read_text()
    assert text.startswith(COMMENTED.split("[tags]")[0])  # the top is byte for byte the same
    assert load_config(tmp_path) == before


def test_a_broken_file_is_reported_not_rewritten(tmp_path: Path) -> None:
    path = tmp_path / FILENAME
    path.write_text('images = ["ghcr.io/acme/app"\n')
    with pytest.raises(ConfigError, match=r"dockyard\.toml:\d+: invalid TOML"):
        save_config(tmp_path, ProjectConfig(images=("ghcr.io/acme/app",)))
    assert path.read_text() == 'images = ["ghcr.io/acme/app"\n'


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=50,
          deadline=None)
@given(configs)
def test_saving_over_a_commented_file_round_trips_and_keeps_comments(
    tmp_path: Path, config: ProjectConfig
) -> None:
    (tmp_path / FILENAME).write_text(COMMENTED)
    text = save_config(tmp_path, config).read_text()
    assert load_config(tmp_path) == config
    assert all(comment in text for comment in COMMENTS[2:])  # comment lines of their own


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('dockerfile = "../Dockerfile"\n', "dockyard.toml:1: ../Dockerfile leads outside"),
        ('context = "/etc"\n', "dockyard.toml:1: /etc leads outside the project"),
        ('mode = "copy"\nbinary = "../dist/{arch}/app"\n', "dockyard.toml:2: binary template"),
        ('binary = "/opt/{arch}/app"\n', "dockyard.toml:1: binary template"),
        ("images = " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
    ],
)
def test_load_refuses_paths_leaving_the_project(tmp_path: Path, text: str, problem: str) -> None:
    (tmp_path / FILENAME).write_text(text)
    with pytest.raises(ConfigError, match=problem):
        load_config(tmp_path)


def test_save_refuses_what_load_would_refuse_about_paths(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="leads outside the project"):
        save_config(tmp_path, ProjectConfig(dockerfile="../Dockerfile"))
    assert not (tmp_path / FILENAME).exists()


def test_the_file_itself_must_be_a_small_regular_file_in_the_project(tmp_path: Path) -> None:
    """A FIFO is never opened, /dev/zero never read, a loop or an outside target refused."""
    import os

    project = tmp_path / "p"
    project.mkdir()
    config = project / FILENAME
    os.mkfifo(config)
    with pytest.raises(ConfigError, match=r"dockyard.toml: is a FIFO"):
        load_config(project)
    for target, problem in (("/dev/zero", "leads outside the project"),
                            (FILENAME, "symlink loop"),
                            (str(tmp_path / "other.toml"), "leads outside the project")):
        (tmp_path / "other.toml").write_text('mode = "build"\n')
        config.unlink()
        config.symlink_to(target)
        with pytest.raises(ConfigError, match=problem):
            load_config(project)
    config.unlink()
    config.write_text("# padding\n" * 30000)
    with pytest.raises(ConfigError, match="is larger than 256 KiB"):
        load_config(project)
    (project / "real.toml").write_text('mode = "copy"\n')
    config.unlink()
    config.symlink_to("real.toml")
    assert load_config(project).mode == "copy"
