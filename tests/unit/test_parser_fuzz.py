"""Every parser of user text is total: a value or its module's DockyardError, nothing else.

Hypothesis draws arbitrary text, text near valid values, and the inputs of the conformance
vectors in ../shared/vectors/ (their expected values are checked in test_reference.py,
test_platforms.py and test_version.py; here every vector input, valid or not, is fed to every
parser and mutated). Hypothesis' per-example deadline is off: no timed assertions; a hang is
caught by pytest-timeout's bound instead.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.config import load_config
from core.errors import (
    ConfigError,
    DockyardError,
    ImageRefError,
    ModeError,
    PlatformError,
    TagPolicyError,
    VersionError,
)
from core.plan import parse_build_arg
from core.platforms import normalize_platform, parse_platform, parse_platforms
from core.reference import check_registry_host, parse_image_name, parse_reference, split_reference
from core.tags import TagPolicy, validate_tag
from core.version import next_version, parse_version

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "vectors"
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


_PROSE = {"meta", "function", "upstream_test", "upstream_source", "source", "reason", "note",
          "input_note", "error"}


def _vector_inputs() -> list[str]:
    """Every input string in the reference, platform and semver vectors ([] without ../shared)."""
    found: list[str] = []

    def walk(node: Any, key: str = "") -> None:
        if isinstance(node, dict):
            if key == "can_run":  # platform strings as keys
                found.extend(node)
            for name, value in node.items():
                if name not in _PROSE:
                    walk(value, name)
        elif isinstance(node, list):
            for item in node:
                walk(item, key)
        elif isinstance(node, str):
            found.append(node)

    for name in ("vectors-reference.json", "vectors-platforms.json", "vectors-semver.json"):
        path = VECTORS / name
        if path.is_file():
            walk(json.loads(path.read_text()))
    return sorted(set(found))


VECTOR_INPUTS = _vector_inputs()

# Pieces of valid values, so the search also reaches deep into each grammar.
_PIECES = ["ghcr.io", "localhost", ":5000", ":99999", ":0", "/", "acme", "app", "my_reg", "_",
           "__", "-", ".", ":", "@", "sha256:", "f" * 64, "[::1]", "linux", "amd64", "arm",
           "v7", "arm64", "v8", ",", "1", "2", "3", "v", "-rc", ".1", "+b5", "0", " ", "\0",
           "\u00e9", "A", "\n", "*", "x86_64", "windows", "latest"]
near_valid = st.lists(st.sampled_from(_PIECES), max_size=12).map("".join)
anything = st.text(max_size=80) | near_valid
if VECTOR_INPUTS:
    vector = st.sampled_from(VECTOR_INPUTS)
    mutated = st.tuples(vector, st.integers(0, 300), st.text(max_size=4), st.integers(0, 3)).map(
        lambda t: t[0][: t[1]] + t[2] + t[0][t[1] + t[3]:]
    )
    anything = anything | vector | mutated

# parser -> the error class it may raise
PARSERS: dict[str, tuple[Callable[[str], object], type[DockyardError]]] = {
    "parse_reference": (parse_reference, ImageRefError),
    "parse_image_name": (parse_image_name, ImageRefError),
    "split_reference": (split_reference, ImageRefError),
    "check_registry_host": (check_registry_host, ImageRefError),
    "parse_platform": (parse_platform, PlatformError),
    "parse_platforms": (lambda text: parse_platforms([text]), PlatformError),
    "parse_version": (parse_version, VersionError),
    "next_version_pre_token": (lambda text: next_version(None, "pre", pre_token=text),
                               VersionError),
    "validate_tag": (validate_tag, TagPolicyError),
    "tag_policy_extra": (lambda text: TagPolicy(extra=(text,)), TagPolicyError),
    "parse_build_arg": (parse_build_arg, ModeError),
}


def _total(name: str, text: str) -> None:
    parser, error = PARSERS[name]
    try:
        parser(text)
    except error as err:
        assert "\n" not in str(err), "errors are one line"
        assert str(err).startswith(f"{err.field}: ")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", list(PARSERS))
@FUZZ
@given(text=anything)
def test_parsers_return_or_raise_their_error(name: str, text: str) -> None:
    _total(name, text)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", list(PARSERS))
def test_every_vector_input_is_handled(name: str) -> None:
    if not VECTOR_INPUTS:
        pytest.skip(f"{VECTORS} not found: the vector inputs are not fed")
    for text in VECTOR_INPUTS:
        _total(name, text)


@pytest.mark.timeout(120)
@FUZZ
@given(os_=anything, arch=anything, variant=anything)
def test_normalize_platform_never_refuses(os_: str, arch: str, variant: str) -> None:
    """Registries hold facts: whatever an index lists is normalised, never refused."""
    normalize_platform(os_, arch, variant)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("text", [
    "a" * 20000 + "!", "a" + "-" * 20000 + "!", "a." * 10000 + "!", "a/" * 10000 + "!",
    "a" + "-a" * 10000 + "/!", "a_" * 10000 + "_", "a:" + "b" * 20000, "a@sha256:" + "f" * 20000,
    "localhost:" + "9" * 5000 + "/a",
], ids=lambda text: text[:12])
def test_long_adversarial_inputs_finish(text: str) -> None:
    """Inputs that make a backtracking regular expression explode must still be answered."""
    for name in PARSERS:
        _total(name, text)


_toml_pieces = st.sampled_from([
    "images", "platforms", "mode", "binary", "dockerfile", "context", "engine", "[tags]",
    "minor", "extra", " = ", '"', "'", "[", "]", "{", "}", ",", "\n", "true", "1", "#", ".",
    "linux/amd64", "ghcr.io/acme/app", "../x", "/etc", "{arch}", "\\u0000", "copy", "=",
])
toml_text = st.lists(_toml_pieces, max_size=20).map("".join) | st.text(max_size=60)


@pytest.mark.timeout(120)
@FUZZ
@given(text=toml_text)
def test_any_dockyard_toml_loads_or_is_one_config_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "dockyard.toml").write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            load_config(root)
        except ConfigError as err:
            assert "\n" not in str(err)
            assert str(err).startswith("config: dockyard.toml")
