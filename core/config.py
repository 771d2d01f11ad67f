"""``dockyard.toml``: the choices a project remembers between releases.

Flat schema, read with tomllib. Saving edits the user's file in place with tomlkit, so their
comments, order and untouched lines survive. Every error names the file and the line of the
offending key, because the user fixes it in an editor.

    images = ["ghcr.io/acme/app"]
    platforms = ["linux/amd64", "linux/arm64"]
    mode = "build"                 # or "copy"
    binary = "dist/{arch}/app"     # copy mode
    dockerfile = "Dockerfile"
    context = "."
    engine = "buildx"              # or "podman", "auto"

    [tags]
    minor = true                   # X.Y
    major = true                   # X
    latest = true
    git_tag = false                # v1.2.3 as written in git
    sha = false                    # sha-<7 hex>
    extra = ["stable"]
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import paths
from core.ci import CiError, CiSettings, parse_ci
from core.errors import ConfigError, DockyardError
from core.platforms import parse_platforms
from core.reference import parse_image_name
from core.tags import TagPolicy

FILENAME = "dockyard.toml"
NEW_FILE = "# dockyard release settings; see `dockyard release --help`\n"
MAX_BYTES = 256 * 1024  # far more than any real settings file; /dev/zero must not be read whole
MODES = ("build", "copy")
ENGINES = ("auto", "buildx", "podman")
_LISTS = ("images", "platforms")
_STRINGS = ("mode", "binary", "dockerfile", "context", "engine", "ca_file")
KEYS = (*_LISTS, *_STRINGS, "tags", "ci")
TAG_KEYS = tuple(f.name for f in dataclasses.fields(TagPolicy))
_TAG_BOOLS = tuple(k for k in TAG_KEYS if k != "extra")
_CHOICES = {"mode": MODES, "engine": ENGINES}


@dataclass(frozen=True)
class ProjectConfig:
    """Remembered release choices; None means "not set", so flags and defaults decide."""

    images: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    mode: str | None = None
    binary: str | None = None
    dockerfile: str | None = None
    context: str | None = None
    tags: TagPolicy = field(default_factory=TagPolicy)
    engine: str | None = None
    ca_file: str | None = None  # a private registry's CA (PEM), relative to the project
    ci: CiSettings = field(default_factory=CiSettings)  # [ci]: `dockyard ci github` reads it
    path: Path | None = field(default=None, compare=False)


def load_config(root: Path) -> ProjectConfig:
    """Read ``root/dockyard.toml``; a missing file gives the defaults.

    The file must be a regular file inside the project (a symlink to one is fine) of at most
    MAX_BYTES; paths it names must stay inside the project.
    """
    path = root / FILENAME
    try:
        if paths.status(path, FILENAME, ConfigError) is None:
            return ProjectConfig()
        paths.inside(root, FILENAME, ConfigError)
        data = paths.read_regular(path, FILENAME, MAX_BYTES, ConfigError)
    except ConfigError as err:
        raise ConfigError(f"{FILENAME}: {err.problem.removeprefix(FILENAME + ' ')}",
                          err.valid) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path.name}: not UTF-8 text", "save it as UTF-8") from None
    config = _parse(text, path.name)
    _check_paths(config, root, _Locator(text, path.name))
    return dataclasses.replace(config, path=path)


def _check_paths(config: ProjectConfig, root: Path, where: _Locator) -> None:
    """``dockerfile`` and ``context`` stay inside the project; ``binary`` (relative to the
    context, placeholders never hold '/') may not climb out with ``..`` or be absolute."""
    for key in ("dockerfile", "context"):
        value = getattr(config, key)
        if value is not None:
            try:
                paths.inside(root, value, ConfigError)
            except ConfigError as err:
                raise where.error((key,), err.problem, err.valid) from None
    template = config.binary
    if template is not None:
        normal = os.path.normpath(template)
        if os.path.isabs(template) or normal == ".." or normal.startswith("../"):
            raise where.error(
                ("binary",),
                f"binary template {paths.shown(template)!r} leads outside the build context",
                'write it relative to the context, e.g. binary = "dist/{arch}/app"',
            )


def save_config(root: Path, config: ProjectConfig) -> Path:
    """Write ``config`` to ``root/dockyard.toml``: a new file spelled out, or the existing file
    with only the changed values replaced (comments and the rest kept)."""
    path = root / FILENAME
    existing = path.read_text(encoding="utf-8") if path.exists() else None
    text = render_config(config) if existing is None else update_config_text(existing, config)
    _check_paths(_parse(text, FILENAME), root, _Locator(text, FILENAME))  # as load_config does
    temporary = path.with_name(f".{FILENAME}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
    return path


def render_config(config: ProjectConfig) -> str:
    """The TOML text of a new file for ``config``: unset values left out, the tag policy spelled
    out. tomlkit writes it, as it edits an existing file, so both quote alike."""
    return update_config_text(NEW_FILE, config)


def update_config_text(existing: str, config: ProjectConfig) -> str:
    """``existing`` TOML text with the values of ``config``; unchanged keys keep their lines."""
    # tomlkit only when saving: reading dockyard.toml needs tomllib alone
    import tomlkit

    _parse(existing, FILENAME)  # a file edited into a broken state is reported, not rewritten
    document = tomlkit.parse(existing)
    wanted: dict[str, Any] = {key: list(getattr(config, key)) for key in _LISTS}
    wanted.update({key: getattr(config, key) for key in _STRINGS})
    _assign(document, wanted)
    if "tags" not in document:
        document.add(tomlkit.nl())
        document.add("tags", tomlkit.table())
    policy = {key: getattr(config.tags, key) for key in _TAG_BOOLS}
    policy["extra"] = list(config.tags.extra)
    _assign(document["tags"], policy)  # _parse checked that it is a table
    return tomlkit.dumps(document)


def _assign(table: Any, values: dict[str, Any]) -> None:
    """Set each key whose value differs; None removes the key."""
    for key, value in values.items():
        if value is None:
            table.pop(key, None)
        elif key not in table or table[key] != value:
            table[key] = value


def _parse(text: str, name: str) -> ProjectConfig:
    try:
        raw = tomllib.loads(text)
    except RecursionError:
        raise ConfigError(
            f"{name}:1: arrays or tables are nested too deeply to read",
            "dockyard.toml needs at most two levels ([tags] and its arrays)",
        ) from None
    except tomllib.TOMLDecodeError as err:
        message = str(err)
        found = re.search(r"\(at line (\d+), column \d+\)", message)
        line = int(found.group(1)) if found else max(1, len(text.splitlines()))
        problem = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", message)
        raise ConfigError(
            f"{name}:{line}: invalid TOML: {problem}", "fix the syntax (see https://toml.io)"
        ) from None
    where = _Locator(text, name)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in KEYS:
            raise where.error((key,), f"{key!r} is not a known key", _known(key, KEYS))
        if key == "tags":
            values["tags"] = _tags(value, where)
        elif key == "ci":
            values["ci"] = _ci(value, where)
        elif key in _LISTS:
            values[key] = _string_list(value, (key,), where)
            _check_values(key, values[key], where)
        else:
            values[key] = _string(value, (key,), where)
    return ProjectConfig(**values)


def _check_values(key: str, items: tuple[str, ...], where: _Locator) -> None:
    """Images and platforms are checked here so a bad one is reported at its line."""

    try:
        if key == "images":
            for item in items:
                parse_image_name(item)
        elif key == "platforms":
            parse_platforms(items)
    except DockyardError as err:
        raise where.error((key,), err.problem, err.valid) from None


def _ci(value: object, where: _Locator) -> CiSettings:
    if not isinstance(value, dict):
        raise where.error(("ci",), f"'ci' must be a table, not {_kind(value)}",
                          "write [ci] with keys: runners, install, build, python")
    try:
        return parse_ci(value)
    except CiError as err:
        raise where.error(("ci", err.key), err.problem, err.valid) from None


def _tags(value: object, where: _Locator) -> TagPolicy:
    if not isinstance(value, dict):
        raise where.error(
            ("tags",),
            f"'tags' must be a table, not {_kind(value)}",
            "write [tags] with keys: " + ", ".join(TAG_KEYS),
        )
    options: dict[str, Any] = {}
    for key, item in value.items():
        at = ("tags", key)
        if key not in TAG_KEYS:
            raise where.error(at, f"'tags.{key}' is not a known key", _known(key, TAG_KEYS))
        if key == "extra":
            options[key] = _string_list(item, at, where)
        elif isinstance(item, bool):
            options[key] = item
        else:
            raise where.error(
                at,
                f"'tags.{key}' must be a boolean, not {_kind(item)}",
                f"write {key} = true or {key} = false",
            )
    try:
        return TagPolicy(**options)
    except DockyardError as err:
        at = ("tags", "extra" if options.get("version", True) else "version")
        raise where.error(at, err.problem, err.valid) from None


def _string_list(value: object, at: tuple[str, ...], where: _Locator) -> tuple[str, ...]:
    dotted = ".".join(at)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise where.error(
            at,
            f"{dotted!r} must be an array of strings, not {_kind(value)}",
            f'write {at[-1]} = ["..."]',
        )
    if not all(value):
        raise where.error(at, f"{dotted!r} holds an empty string", "remove it")
    return tuple(value)


def _string(value: object, at: tuple[str, ...], where: _Locator) -> str:
    key = at[-1]
    choices = _CHOICES.get(key)
    example = " or ".join(f'{key} = "{c}"' for c in choices) if choices else f'{key} = "..."'
    if not isinstance(value, str):
        raise where.error(at, f"{key!r} must be a string, not {_kind(value)}", f"write {example}")
    if not value:
        raise where.error(at, f"{key!r} must not be empty", f"write {example}, or remove it")
    if choices and value not in choices:
        raise where.error(at, f"{value!r} is not a known {key}", f"write {example}")
    return value


def _known(key: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{hint}known keys: {', '.join(known)}"


def _kind(value: object) -> str:
    kinds = [
        (bool, "a boolean"),
        (int, "an integer"),
        (float, "a float"),
        (str, "a string"),
        (list, "an array"),
        (dict, "a table"),
    ]
    return next((name for kind, name in kinds if isinstance(value, kind)), "a date or time")


class _Locator:
    """Finds the line where a key is written, since tomllib reports no positions."""

    _HEADER = re.compile(r"\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
    _ASSIGN = re.compile(
        r"\s*((?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')"
        r"(?:\s*\.\s*(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*'))*)\s*="
    )

    def __init__(self, text: str, name: str) -> None:
        self.lines = text.splitlines()
        self.name = name

    def line_of(self, at: tuple[str, ...]) -> int:
        """The line defining ``at``, else the line of its nearest enclosing key, else 1."""
        best = (0, 1)  # (how much of ``at`` matched, line)
        table: tuple[str, ...] = ()
        for number, line in enumerate(self.lines, start=1):
            header = self._HEADER.match(line)
            if header:
                table = _split_key(header.group(1))
                best = _better(best, _prefix(table, at), number)
                continue
            assign = self._ASSIGN.match(line)
            if assign:
                key = (*table, *_split_key(assign.group(1)))
                if key == at:
                    return number
                best = _better(best, _prefix(key, at), number)
        return best[1]

    def error(self, at: tuple[str, ...], problem: str, valid: str) -> ConfigError:
        return ConfigError(f"{self.name}:{self.line_of(at)}: {problem}", valid)


def _split_key(text: str) -> tuple[str, ...]:
    parts = re.findall(r"\"[^\"]*\"|'[^']*'|[^.\s]+", text)
    return tuple(p[1:-1] if p[:1] in "\"'" else p for p in parts)


def _better(best: tuple[int, int], matched: int, line: int) -> tuple[int, int]:
    return (matched, line) if matched > best[0] else best


def _prefix(key: tuple[str, ...], at: tuple[str, ...]) -> int:
    """How many leading parts of ``at`` the (enclosing) ``key`` covers; 0 if it is elsewhere."""
    return len(key) if key and at[: len(key)] == key else 0
