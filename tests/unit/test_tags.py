"""Image tag sets: the default policy, options, the tag grammar and the never-backwards rule."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import TagPolicyError
from core.tags import TagPolicy, TagSet, compute_tags, hold_back, series_of, validate_tag
from core.version import ReleaseVersion, parse_version

COMMIT = "abc1234def5678abc1234def5678abc1234def56"


def versions(*tags: str) -> list[ReleaseVersion]:
    return [parse_version(t) for t in tags]


def test_default_policy_for_the_newest_release() -> None:
    got = compute_tags(parse_version("v1.2.3"), versions("v1.2.2", "v1.2.3"), TagPolicy(), COMMIT)
    assert got == TagSet("1.2.3", ("1.2", "1", "latest"), ())
    assert got.all == ("1.2.3", "1.2", "1", "latest")


def test_releasing_an_older_series_never_moves_major_or_latest() -> None:
    got = compute_tags(parse_version("v1.3.9"), versions("v1.3.8", "v1.4.0"), TagPolicy(), COMMIT)
    assert got.all == ("1.3.9", "1.3")
    assert got.withheld == (("1", "1.4.0 is newer"), ("latest", "1.4.0 is newer"))


def test_newer_major_withholds_only_latest() -> None:
    got = compute_tags(parse_version("1.9.0"), versions("1.8.0", "2.0.0"), TagPolicy(), COMMIT)
    assert got.all == ("1.9.0", "1.9", "1")
    assert got.withheld == (("latest", "2.0.0 is newer"),)


def test_the_newest_newer_version_is_named() -> None:
    got = compute_tags(parse_version("1.2.0"), versions("1.2.5", "1.2.7"), TagPolicy(), COMMIT)
    assert ("1.2", "1.2.7 is newer") in got.withheld


def test_prereleases_do_not_block_a_release() -> None:
    got = compute_tags(
        parse_version("1.2.3"), versions("1.2.4-rc.1", "2.0.0-beta"), TagPolicy(), COMMIT
    )
    assert got.all == ("1.2.3", "1.2", "1", "latest")


def test_a_prerelease_gets_only_its_full_version() -> None:
    got = compute_tags(parse_version("v2.0.0-rc.1+b7"), versions("v1.0.0"), TagPolicy(), COMMIT)
    assert got.all == ("2.0.0-rc.1",)
    assert [alias for alias, _ in got.withheld] == ["2.0", "2", "latest"]
    assert all(reason == "2.0.0-rc.1 is a prerelease" for _, reason in got.withheld)


def test_a_prerelease_keeps_its_git_tag_and_sha_when_enabled() -> None:
    policy = TagPolicy(git_tag=True, sha=True)
    got = compute_tags(parse_version("v2.0.0-rc.1"), [], policy, COMMIT)
    assert got.all == ("2.0.0-rc.1", "v2.0.0-rc.1", "sha-abc1234")


def test_equal_precedence_is_not_newer() -> None:
    got = compute_tags(parse_version("v1.2.3+b2"), versions("1.2.3+b1"), TagPolicy(), COMMIT)
    assert got.all == ("1.2.3", "1.2", "1", "latest")


def test_git_tag_only_when_it_differs() -> None:
    policy = TagPolicy(git_tag=True)
    assert compute_tags(parse_version("v1.0.0"), [], policy, COMMIT).aliases[-1] == "v1.0.0"
    assert "1.0.0" not in compute_tags(parse_version("1.0.0"), [], policy, COMMIT).aliases


def test_git_tag_with_build_metadata_is_withheld() -> None:
    got = compute_tags(parse_version("v1.0.0+b1"), [], TagPolicy(git_tag=True), COMMIT)
    assert got.all == ("1.0.0", "1.0", "1", "latest")
    assert got.withheld == (("v1.0.0+b1", "image tags cannot hold '+' build metadata"),)


def test_sha_tag_and_bad_commit() -> None:
    got = compute_tags(parse_version("1.0.0"), [], TagPolicy(sha=True), COMMIT)
    assert got.aliases[-1] == "sha-abc1234"
    with pytest.raises(TagPolicyError, match="is not a commit id"):
        compute_tags(parse_version("1.0.0"), [], TagPolicy(sha=True), "HEAD")


def test_extra_tags_follow_the_latest_rule_and_deduplicate() -> None:
    policy = TagPolicy(extra=("stable", "latest", "1.0.0"))
    newest = compute_tags(parse_version("1.0.0"), [], policy, COMMIT)
    assert newest.all == ("1.0.0", "1.0", "1", "latest", "stable")
    older = compute_tags(parse_version("1.0.0"), versions("1.1.0"), policy, COMMIT)
    assert older.all == ("1.0.0", "1.0")
    assert ("stable", "1.1.0 is newer") in older.withheld
    assert [alias for alias, _ in older.withheld].count("latest") == 1


def test_switched_off_aliases_are_neither_given_nor_withheld() -> None:
    policy = TagPolicy(minor=False, major=False, latest=False)
    got = compute_tags(parse_version("1.0.0"), versions("2.0.0"), policy, COMMIT)
    assert got == TagSet("1.0.0", (), ())


def test_the_version_tag_cannot_be_turned_off() -> None:
    with pytest.raises(TagPolicyError, match="version tag cannot be turned off"):
        TagPolicy(version=False)


def test_policy_validates_extra_tags() -> None:
    with pytest.raises(TagPolicyError, match="'-x' is not a valid image tag"):
        TagPolicy(extra=("-x",))
    with pytest.raises(TagPolicyError, match="tuple"):
        TagPolicy(extra=["stable"])  # type: ignore[arg-type]


def test_a_version_too_long_for_a_tag_is_refused() -> None:
    long = parse_version("1.0.0-" + "a" * 130)
    with pytest.raises(TagPolicyError, match="is not a valid image tag"):
        compute_tags(long, [], TagPolicy(), COMMIT)


@pytest.mark.parametrize(
    "tag", ["latest", "1.2.3", "_x", "A", "a" * 128, "1.2.3-rc.1", "sha-abc1234", "v1.0.0__x--y"]
)
def test_valid_tags(tag: str) -> None:
    assert validate_tag(tag) == tag


@pytest.mark.parametrize(
    "tag", ["", ".x", "-x", "a" * 129, "1.2.3+b", "a/b", "a:b", "é", "a b", "x\n", "ａ"]
)
def test_invalid_tags(tag: str) -> None:
    with pytest.raises(TagPolicyError) as caught:
        validate_tag(tag)
    message = str(caught.value)
    assert message.startswith("tags: ") and "\n" not in message
    assert "1 to 128 ASCII letters, digits" in message


# -- property tests -------------------------------------------------------------------------

_releases = st.builds(
    lambda a, b, c, pre: parse_version(f"{a}.{b}.{c}" + (f"-rc.{pre}" if pre else "")),
    st.integers(0, 3),
    st.integers(0, 3),
    st.integers(0, 3),
    st.none() | st.integers(1, 3),
)


@given(st.lists(_releases, max_size=15), _releases)
def test_never_backwards(known: list[ReleaseVersion], version: ReleaseVersion) -> None:
    got = compute_tags(version, known, TagPolicy(git_tag=True, sha=True, extra=("stable",)), COMMIT)
    major, minor = version.version.major, version.version.minor
    releases = [k for k in known if not k.prerelease]
    series = {
        f"{major}.{minor}": [
            k for k in releases if (k.version.major, k.version.minor) == (major, minor)
        ],
        f"{major}": [k for k in releases if k.version.major == major],
        "latest": releases,
        "stable": releases,
    }
    assert got.version_tag == version.image_tag
    for alias, members in series.items():
        no_newer = not any(k.newer_than(version) for k in members)
        given_alias = alias in got.aliases
        assert given_alias == (no_newer and not version.prerelease)
        # a moved alias never ends up below a version the registry already knows for it
        if given_alias:
            assert all(not k.newer_than(version) for k in members)
        else:
            assert alias in dict(got.withheld)
    assert got.aliases[-1] == "sha-abc1234"  # unique to the commit, so always given
    assert version.git_tag not in got.aliases  # same as the version tag, so not repeated
    for tag in got.all:
        validate_tag(tag)
    assert len(set(got.all)) == len(got.all)


# -- the rule against what the registry holds (core/published.py reads it) ----------------------


def _tags(version: str, *aliases: str) -> TagSet:
    return TagSet(parse_version(version).image_tag, aliases, ())


def test_a_published_newer_release_holds_latest_and_major_back() -> None:
    """A shallow CI checkout knows only v1.0.1; the registry knows 1.1.0 was released."""
    version = parse_version("v1.0.1")
    held = hold_back(_tags("v1.0.1", "1.0", "1", "latest"), version, [parse_version("1.1.0")])
    assert held.aliases == ("1.0",)
    assert dict(held.withheld) == {"1": "1.1.0 is published", "latest": "1.1.0 is published"}


def test_published_releases_of_other_series_only_hold_what_they_share() -> None:
    version = parse_version("v1.4.2")
    held = hold_back(_tags("v1.4.2", "1.4", "1", "latest", "stable"), version,
                     [parse_version("2.0.0"), parse_version("1.3.9"), parse_version("1.4.1")])
    assert held.aliases == ("1.4", "1")
    assert dict(held.withheld) == {"latest": "2.0.0 is published",
                                   "stable": "2.0.0 is published"}


def test_what_an_alias_points_at_counts_even_out_of_its_series() -> None:
    """Someone pointed `1` at a 2.x image by hand: releasing 1.5.0 does not take it back."""
    version = parse_version("v1.5.0")
    held = hold_back(_tags("v1.5.0", "1.5", "1"), version, [],
                     {"1": parse_version("2.0.0"), "1.5": None})
    assert held.aliases == ("1.5",)
    assert held.withheld == (("1", "2.0.0 is published"),)


def test_published_prereleases_neither_take_nor_block() -> None:
    version = parse_version("v1.2.0")
    held = hold_back(_tags("v1.2.0", "1.2", "1", "latest"), version,
                     [parse_version("1.3.0-rc.1"), parse_version("2.0.0-beta.2")],
                     {"latest": parse_version("2.0.0-beta.2")})
    assert held.aliases == ("1.2", "1", "latest")


def test_an_equal_version_does_not_hold_an_alias_back() -> None:
    """A re-run of 1.2.0 (its version tag is published) still moves its aliases."""
    version = parse_version("v1.2.0")
    held = hold_back(_tags("v1.2.0", "1.2", "latest"), version, [parse_version("1.2.0")],
                     {"latest": parse_version("1.2.0")})
    assert held.aliases == ("1.2", "latest")


def test_tags_naming_this_release_alone_are_never_held() -> None:
    version = parse_version("v1.0.1")
    tags = _tags("v1.0.1", "v1.0.1", "sha-0123abc", "latest")
    held = hold_back(tags, version, [parse_version("9.0.0")])
    assert held.aliases == ("v1.0.1", "sha-0123abc")
    assert series_of("v1.0.1", version) is None and series_of("sha-0123abc", version) is None


@given(st.lists(_releases, max_size=8), _releases)
def test_hold_back_never_lets_an_alias_go_backwards(
    published: list[ReleaseVersion], version: ReleaseVersion
) -> None:
    tags = _tags(version.git_tag, f"{version.version.major}.{version.version.minor}",
                 f"{version.version.major}", "latest")
    held = hold_back(tags, version, published)
    for alias in held.aliases:
        in_series = series_of(alias, version)
        assert in_series is not None
        assert not any(in_series(k) and k.newer_than(version) and not k.prerelease
                       for k in published)
    assert set(held.aliases) | {a for a, _ in held.withheld} == set(tags.aliases)
