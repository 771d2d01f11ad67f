"""Version rules: strict SemVer 2.0 tags, ordering, and the next version to cut."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest
import semver
from hypothesis import given
from hypothesis import strategies as st

from core.errors import VersionError
from core.version import latest_release, next_version, parse_version

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "vectors" / "vectors-semver.json"


def _vectors() -> dict[str, Any]:
    # Parametrisation happens at collection, before fixtures exist; shared_dir checks the same path.
    return json.loads(VECTORS.read_text()) if VECTORS.is_file() else {}


VECTOR_DATA = _vectors()


@pytest.fixture
def semver_vectors(shared_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((shared_dir / "vectors" / "vectors-semver.json").read_text())
    return data


def test_vectors_are_all_used(semver_vectors: dict[str, Any]) -> None:
    counts = semver_vectors["meta"]["counts"]
    assert len(VECTOR_DATA["validity"]) == counts["validity"] == 41
    assert len(VECTOR_DATA["parse"]) == counts["parse"]
    assert len(VECTOR_DATA["precedence"]["ordered_ascending"]) == counts["precedence_chain"]
    assert len(VECTOR_DATA["edge"]) == counts["edge"]


@pytest.mark.parametrize("case", VECTOR_DATA.get("validity", []), ids=lambda c: repr(c["input"]))
def test_validity_vectors(case: dict[str, Any]) -> None:
    for tag in (case["input"], "v" + case["input"]):
        if case["valid"]:
            parsed = parse_version(tag)
            assert parsed.text == case["input"]
            assert parsed.git_tag == tag
        else:
            with pytest.raises(VersionError) as caught:
                parse_version(tag)
            assert str(caught.value).startswith("tag: ")
            assert "\n" not in str(caught.value)


@pytest.mark.parametrize("case", VECTOR_DATA.get("parse", []), ids=lambda c: c["input"])
def test_parse_vectors(case: dict[str, Any]) -> None:
    parsed = parse_version(case["input"])
    want = case["expected"]
    got = parsed.version
    assert (got.major, got.minor, got.patch) == (want["major"], want["minor"], want["patch"])
    assert got.prerelease == want["prerelease"]
    assert got.build == want["build"]
    assert parsed.prerelease is (want["prerelease"] is not None)
    assert "+" not in parsed.image_tag


def test_precedence_chain_vector() -> None:
    chain = VECTOR_DATA["precedence"]["ordered_ascending"]
    parsed = [parse_version(text) for text in chain]
    assert sorted(reversed(parsed)) == parsed
    for lower, higher in itertools.pairwise(parsed):
        assert lower < higher and higher.newer_than(lower) and not lower.newer_than(higher)


def test_build_metadata_is_ignored_for_precedence_vector() -> None:
    a = parse_version("1.2.3-alpha.1.2+build.11.e0f985a")
    b = parse_version("1.2.3-alpha.1.2+build.22.a589f0e")
    assert not a.newer_than(b) and not b.newer_than(a)
    assert a.image_tag == b.image_tag == "1.2.3-alpha.1.2"


@pytest.mark.parametrize("case", VECTOR_DATA.get("edge", []), ids=lambda c: c["input"])
def test_edge_vectors(case: dict[str, Any]) -> None:
    if case["input"] == "v1.2.3":
        # Deliberate difference: 'v1.2.3' is not SemVer, but dockyard reads it as a git tag and
        # strips exactly one lowercase 'v' before validating.
        assert case["valid"] is False
        assert parse_version("v1.2.3").text == "1.2.3"
        with pytest.raises(VersionError):
            parse_version("vv1.2.3")
    else:
        assert case["valid"] is True
        assert parse_version(case["input"]).version.prerelease == "-alpha"


@pytest.mark.parametrize(
    ("tag", "hint"),
    [
        ("v1.02.3", "use MAJOR.MINOR.PATCH without leading zeros, e.g. v1.2.3"),
        ("01.1.1", "without leading zeros"),
        ("1.2", "use all three parts MAJOR.MINOR.PATCH, e.g. v1.2.0"),
        ("v1", "e.g. v1.0.0"),
        ("1.2.3.4", "exactly three parts"),
        ("1.2.3-0123", "numeric prerelease identifiers must not have leading zeros"),
        ("1.0.0-alpha..1", "dot-separated non-empty identifiers"),
        ("1.0.0-alpha_beta", "dot-separated non-empty identifiers"),
        ("1.1.2+.123", "build metadata is one '+'"),
        ("9.8.7+meta+meta", "build metadata is one '+'"),
        ("vv1.2.3", "at most one lowercase 'v'"),
        ("v1.2.3 ", "without spaces"),
        ("1.2.٣", "ASCII"),
        ("release-1.2.3", "MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]"),
    ],
)
def test_errors_name_the_rule_and_the_fix(tag: str, hint: str) -> None:
    with pytest.raises(VersionError) as caught:
        parse_version(tag)
    message = str(caught.value)
    assert message.startswith(f"tag: {tag!r} is not a valid semantic version; ")
    assert hint in message
    assert "\n" not in message


def test_exact_message_for_leading_zero() -> None:
    with pytest.raises(VersionError) as caught:
        parse_version("v1.02.3")
    assert str(caught.value) == (
        "tag: 'v1.02.3' is not a valid semantic version; "
        "use MAJOR.MINOR.PATCH without leading zeros, e.g. v1.2.3"
    )


def test_uppercase_v_is_refused_with_a_hint() -> None:
    with pytest.raises(VersionError) as caught:
        parse_version("V1.2.3")
    assert str(caught.value) == (
        "tag: 'V1.2.3' has an uppercase 'V' prefix; "
        "only a lowercase 'v' prefix is allowed: 'v1.2.3' or '1.2.3'"
    )


def test_empty_tag_is_refused() -> None:
    with pytest.raises(VersionError, match="empty tag"):
        parse_version("")


def test_release_version_properties() -> None:
    v = parse_version("v1.2.3-rc.1+b5")
    assert v.git_tag == "v1.2.3-rc.1+b5"
    assert v.text == "1.2.3-rc.1+b5"
    assert v.image_tag == "1.2.3-rc.1"
    assert v.prerelease is True
    assert parse_version("1.2.3+b5").prerelease is False


def test_ties_in_precedence_are_broken_by_the_tag_name() -> None:
    plain, prefixed, built = (
        parse_version("1.2.3"),
        parse_version("v1.2.3"),
        parse_version("1.2.3+z"),
    )
    assert sorted([prefixed, built, plain]) == [plain, built, prefixed]
    assert plain != prefixed and plain < prefixed and prefixed > plain
    assert plain <= parse_version("1.2.3") and plain >= parse_version("1.2.3")
    assert plain == parse_version("1.2.3") and hash(plain) == hash(parse_version("1.2.3"))


def test_latest_release_skips_prereleases_unless_asked() -> None:
    versions = [parse_version(t) for t in ("v1.0.0", "v1.1.0", "v1.2.0-rc.1", "v0.9.0")]
    assert latest_release(versions) == parse_version("v1.1.0")
    assert latest_release(versions, include_prereleases=True) == parse_version("v1.2.0-rc.1")
    assert latest_release([]) is None
    assert latest_release([parse_version("1.0.0-rc.1")]) is None


@pytest.mark.parametrize(
    ("current", "bump", "expected"),
    [
        ("v1.2.3", "patch", "v1.2.4"),
        ("v1.2.3", "minor", "v1.3.0"),
        ("v1.2.3", "major", "v2.0.0"),
        ("v1.2.3", "pre", "v1.2.4-rc.1"),
        ("v1.2.4-rc.1", "pre", "v1.2.4-rc.2"),
        ("v1.2.4-rc.9", "pre", "v1.2.4-rc.10"),
        ("v1.2.4-rc", "pre", "v1.2.4-rc.1"),
        ("v1.2.4-beta.3", "pre", "v1.2.4-rc.1"),
        ("v1.2.4-rc.1", "patch", "v1.2.4"),
        ("v1.3.0-rc.1", "minor", "v1.3.0"),
        ("v1.2.4-rc.1", "minor", "v1.3.0"),
        ("v2.0.0-rc.1", "major", "v2.0.0"),
        ("v2.1.0-rc.1", "major", "v3.0.0"),
        ("v1.2.3+build.7", "patch", "v1.2.4"),
        (None, "patch", "v0.0.1"),
        (None, "minor", "v0.1.0"),
        (None, "major", "v1.0.0"),
        (None, "pre", "v0.0.1-rc.1"),
    ],
)
def test_next_version(current: str | None, bump: str, expected: str) -> None:
    base = parse_version(current) if current else None
    new = next_version(base, bump)
    assert new == parse_version(expected)
    if base is not None:
        assert new.newer_than(base)


def test_next_version_prefix_and_token() -> None:
    assert next_version(parse_version("1.2.3"), "pre", prefix="", pre_token="beta").git_tag == (
        "1.2.4-beta.1"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"bump": "micro"},
            "tag: 'micro' is not a known bump; use one of: patch, minor, major, pre",
        ),
        ({"bump": "patch", "prefix": "release-"}, "not a supported tag prefix"),
        ({"bump": "pre", "pre_token": "1x"}, "not a usable prerelease name"),
    ],
)
def test_next_version_refuses_bad_input(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(VersionError, match=re.escape(message)):
        next_version(parse_version("1.2.3"), **kwargs)


def test_pre_refuses_a_token_that_would_sort_backwards() -> None:
    with pytest.raises(VersionError, match=re.escape("would sort before 1.2.4-beta.3")):
        next_version(parse_version("1.2.4-beta.3"), "pre", pre_token="alpha")


# -- property tests -------------------------------------------------------------------------

_number = st.integers(min_value=0, max_value=10**6).map(str)
_alnum = st.from_regex(r"[0-9A-Za-z-]*[A-Za-z-][0-9A-Za-z-]*", fullmatch=True).filter(bool)
_identifier = st.one_of(_number, _alnum.map(lambda s: s[:12]))
_prerelease = st.lists(_identifier, min_size=1, max_size=4).map(".".join)
_build = st.lists(st.from_regex(r"[0-9A-Za-z-]{1,6}", fullmatch=True), min_size=1, max_size=3)


@st.composite
def version_texts(draw: st.DrawFn) -> str:
    core = ".".join(str(draw(st.integers(0, 20))) for _ in range(3))
    pre = draw(st.none() | _prerelease)
    build = draw(st.none() | _build.map(".".join))
    return core + (f"-{pre}" if pre else "") + (f"+{build}" if build else "")


@given(st.lists(version_texts(), min_size=1, max_size=12), st.booleans())
def test_ordering_agrees_with_semver_precedence(texts: list[str], prefixed: bool) -> None:
    parsed = [parse_version(("v" if prefixed else "") + t) for t in texts]
    ours = [v.version for v in sorted(parsed)]
    theirs = sorted((semver.Version.parse(t) for t in texts), key=lambda v: v.replace(build=None))
    assert [str(v.replace(build=None)) for v in ours] == [
        str(v.replace(build=None)) for v in theirs
    ]
    for a in parsed:
        for b in parsed:
            assert a.newer_than(b) == (a.version.compare(b.version) > 0)
            if a.version.compare(b.version) != 0:
                assert (a < b) == (a.version.compare(b.version) < 0)


@given(version_texts(), st.sampled_from(["patch", "minor", "major", "pre"]))
def test_next_version_is_always_newer(text: str, bump: str) -> None:
    current = parse_version("v" + text)
    try:
        new = next_version(current, bump)
    except VersionError:
        assert bump == "pre" and current.prerelease  # only a foreign prerelease token
        return
    assert new.newer_than(current)
    assert parse_version(new.git_tag) == new
    assert new.version.build is None


@given(version_texts())
def test_text_round_trips(text: str) -> None:
    parsed = parse_version(text)
    assert parsed.text == text
    assert parse_version(parsed.image_tag).image_tag == parsed.image_tag


@given(st.permutations(VECTOR_DATA.get("precedence", {}).get("ordered_ascending", [])), st.data())
def test_any_shuffle_of_the_precedence_chain_sorts_back(
    shuffled: list[str], data: st.DataObject
) -> None:
    prefixes = data.draw(
        st.lists(st.sampled_from(["", "v"]), min_size=len(shuffled), max_size=len(shuffled))
    )
    parsed = sorted(parse_version(p + t) for p, t in zip(prefixes, shuffled, strict=True))
    assert [v.text for v in parsed] == VECTOR_DATA["precedence"]["ordered_ascending"]
