"""Image references: distribution/reference's conformance vectors plus dockyard's name rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.errors import ImageRefError, TagPolicyError
from core.reference import (
    DOCKER_HUB,
    DOCKER_HUB_AUTH_KEY,
    ImageName,
    Reference,
    api_host,
    auth_key,
    canonical_registry,
    check_registry_host,
    parse_image_name,
    parse_reference,
    split_reference,
)
from core.tags import validate_tag

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "vectors" / "vectors-reference.json"
SHA256 = "sha256:" + "f" * 64


def _group(name: str) -> list[Any]:
    """Vector cases as pytest params; one skipped param when ../shared is absent (see conftest)."""
    if not VECTORS.is_file():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{VECTORS} not found"))]
    cases = json.loads(VECTORS.read_text())[name]
    return [pytest.param(case, id=_case_id(case)) for case in cases]


def _case_id(case: dict[str, Any]) -> str:
    text = str(case.get("input", case.get("inputs", [""])[0]))
    return text if len(text) <= 60 else text[:57] + "..."


# Each upstream error, as the words dockyard's message uses for it.
ERROR_WORDS = {
    "ErrNameEmpty": "is empty",
    "ErrReferenceInvalidFormat": "is not a valid image reference",
    "ErrNameContainsUppercase": "must be lowercase",
    "ErrNameTooLong": "characters long",
    "digest.ErrDigestInvalidLength": "hex characters",
    "digest.ErrDigestUnsupported": "is not supported",
}


@pytest.mark.parametrize("case", _group("parse"))
def test_parse_vectors(case: dict[str, Any]) -> None:
    text = case["input"]
    if text.startswith("validname@sha512:"):
        # Upstream's test binary links no sha512 hasher, so it calls this unsupported; the OCI
        # image spec registers sha512, and dockyard accepts a well-formed one.
        assert not case["valid"]
        assert split_reference(text) == ("", "validname", None, text.split("@", 1)[1])
        return
    if not case["valid"]:
        with pytest.raises(ImageRefError) as caught:
            split_reference(text)
        message = str(caught.value)
        assert message.startswith("image: ")
        assert "\n" not in message
        assert ERROR_WORDS[case["error"]] in message
        return
    domain, path, tag, digest = split_reference(text)
    assert domain == case["domain"]
    assert (f"{domain}/{path}" if domain else path) == case["name"]
    assert (tag or "") == case["tag"]
    assert (digest or "") == case["digest"]


@pytest.mark.parametrize("case", _group("normalize"))
def test_normalize_vectors(case: dict[str, Any]) -> None:
    for text in case["inputs"]:
        name = parse_image_name(text)
        assert str(name) == case["full_name"], text
        assert (name.domain, name.path) == (case["domain"], case["path"])
        assert name.familiar == case["familiar_name"]
        assert parse_reference(text) == Reference(name, None, None)


@pytest.mark.parametrize("case", _group("normalized_validity"))
def test_normalized_validity_vectors(case: dict[str, Any]) -> None:
    if case["valid"]:
        assert isinstance(parse_image_name(case["input"]), ImageName)
    else:
        with pytest.raises(ImageRefError):
            parse_image_name(case["input"])


def test_a_tag_in_an_image_name_is_refused() -> None:
    with pytest.raises(ImageRefError) as caught:
        parse_image_name("ghcr.io/acme/app:1.0")
    assert str(caught.value) == (
        "image: 'ghcr.io/acme/app:1.0' has a tag; give the name only (dockyard computes the tags),"
        " e.g. ghcr.io/acme/app"
    )


@pytest.mark.parametrize(
    ("text", "what", "base"),
    [
        (f"ghcr.io/acme/app@{SHA256}", "a digest", "ghcr.io/acme/app"),
        (f"alpine:3.19@{SHA256}", "a tag and a digest", "alpine"),
        ("localhost:5000/app:latest", "a tag", "localhost:5000/app"),
    ],
)
def test_digests_are_refused_too(text: str, what: str, base: str) -> None:
    with pytest.raises(ImageRefError) as caught:
        parse_image_name(text)
    assert str(caught.value) == (
        f"image: {text!r} has {what}; give the name only (dockyard computes the tags), e.g. {base}"
    )


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [
        ("ghcr.io/Acme/App", "ghcr.io/acme/app"),
        ("Alpine", "alpine"),
        ("acme/App:V1", "acme/app:V1"),
        ("localhost:5000/Team/app", "localhost:5000/team/app"),
        # capitals made Docker read "Acme" as a registry; the user meant the Hub namespace
        ("Acme/App", "acme/app"),
        ("GHCR.io/Acme/app", "ghcr.io/acme/app"),
    ],
)
def test_uppercase_gets_a_lowercase_hint(text: str, suggestion: str) -> None:
    with pytest.raises(ImageRefError) as caught:
        parse_reference(text)
    assert str(caught.value) == f"image: {text!r} must be lowercase; e.g. {suggestion}"


def test_registry_address_without_repository() -> None:
    with pytest.raises(ImageRefError) as caught:
        parse_image_name("127.0.0.1:5000")
    assert str(caught.value) == (
        "image: '127.0.0.1:5000' looks like a registry address without a repository; "
        "add the repository path, e.g. 127.0.0.1:5000/acme/app"
    )


def test_url_gets_a_scheme_hint() -> None:
    with pytest.raises(ImageRefError, match=r"drop the scheme, e.g. ghcr\.io/acme/app$"):
        parse_image_name("https://ghcr.io/acme/app")


def test_image_id_is_not_a_name() -> None:
    with pytest.raises(ImageRefError, match=r"is an image ID \(64 hex characters\)"):
        parse_image_name("a" * 64)
    assert parse_image_name("docker.io/" + "a" * 64).path == "library/" + "a" * 64


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_name(text: str) -> None:
    with pytest.raises(ImageRefError, match=r"^image: image reference is empty; "):
        parse_image_name(text)


def test_path_limit_counts_the_normalised_path() -> None:
    assert len(parse_image_name("ghcr.io/" + "a" * 255).path) == 255
    with pytest.raises(ImageRefError, match="is 256 characters long; at most 255"):
        parse_image_name("ghcr.io/" + "a" * 256)
    # Docker Hub's implicit library/ prefix is part of the path the registry sees.
    with pytest.raises(ImageRefError, match="is 258 characters long"):
        parse_image_name("a" * 250)


@pytest.mark.parametrize(
    ("digest", "problem"),
    [
        ("sha256:" + "f" * 63, "the sha256 digest has 63 hex characters; a sha256 digest has"),
        ("sha512:" + "f" * 64, "the sha512 digest has 64 hex characters"),
        ("sha256:" + "F" * 64, "the sha256 digest is not lowercase"),
        ("md5:" + "f" * 32, "digest algorithm 'md5' is not supported"),
    ],
)
def test_bad_digests(digest: str, problem: str) -> None:
    with pytest.raises(ImageRefError) as caught:
        parse_reference(f"ghcr.io/acme/app@{digest}")
    assert problem in str(caught.value)


def test_reference_keeps_tag_and_digest() -> None:
    reference = parse_reference(f"index.docker.io/acme/app:1.2.3@{SHA256}")
    assert reference.name == ImageName("docker.io", "acme/app")
    assert reference.tag == "1.2.3"
    assert reference.digest == SHA256
    assert str(reference) == f"docker.io/acme/app:1.2.3@{SHA256}"
    assert str(parse_reference("alpine")) == "docker.io/library/alpine"


@pytest.mark.parametrize(
    ("text", "host"),
    [
        ("alpine", "registry-1.docker.io"),
        ("docker.io/acme/app", "registry-1.docker.io"),
        ("ghcr.io/acme/app", "ghcr.io"),
        ("127.0.0.1:5000/acme/app", "127.0.0.1:5000"),
        ("[::1]:5000/app", "[::1]:5000"),
    ],
)
def test_api_host(text: str, host: str) -> None:
    assert parse_image_name(text).api_host == host


def test_with_tag() -> None:
    name = parse_image_name("ghcr.io/acme/app")
    assert name.with_tag("1.2.3") == "ghcr.io/acme/app:1.2.3"
    assert name.with_tag("sha-abc1234") == "ghcr.io/acme/app:sha-abc1234"
    for bad in ("", ".hidden", "-x", "a" * 129, "1.2.3+build", "tag/x"):
        with pytest.raises(TagPolicyError, match="is not a valid image tag"):
            name.with_tag(bad)


@pytest.mark.parametrize("tag", ["1.2.3", "_x", "A" * 128, "", ".hidden", "-x", "a" * 129,
                                 "1.2.3+build", "é", "v1.0-rc.1", "x" * 127 + "."])
def test_one_tag_grammar(tag: str) -> None:
    """A tag in a reference parses exactly when core.tags accepts it: one grammar, not two."""
    try:
        validate_tag(tag)
        valid = True
    except TagPolicyError:
        valid = False
    try:
        parsed = split_reference(f"ghcr.io/acme/app:{tag}")
    except ImageRefError:
        parsed = None
    assert (parsed is not None and parsed[2] == tag) == valid


@pytest.mark.parametrize("case", _group("normalize"))
def test_registry_of_each_normalised_name(case: dict[str, Any]) -> None:
    """Every spelling of one name has one registry, and Hub names share Hub's API host."""
    hub = case["domain"] == "docker.io"
    for text in case["inputs"]:
        name = parse_image_name(text)
        assert name.registry == canonical_registry(case["domain"])
        assert name.registry == (DOCKER_HUB if hub else case["domain"].lower())
        assert name.api_host == ("registry-1.docker.io" if hub else case["domain"])


def test_registry_1_is_a_name_of_its_own_but_hubs_registry() -> None:
    """distribution folds only index.docker.io into a name's docker.io (the vectors' meta says
    so; docker shows registry-1.docker.io/acme/app as written); for logins and the API every Hub
    host is docker.io, since BuildKit looks registry-1.docker.io's login up under Hub's key."""
    name = parse_image_name("registry-1.docker.io/acme/app")
    assert (name.domain, name.path) == ("registry-1.docker.io", "acme/app")
    assert name.familiar == "registry-1.docker.io/acme/app"
    assert parse_image_name("registry-1.docker.io/alpine").path == "alpine"  # no library/
    assert name.registry == DOCKER_HUB
    assert name.api_host == api_host(name.domain) == "registry-1.docker.io"
    assert auth_key(name.registry) == auth_key("index.docker.io") == DOCKER_HUB_AUTH_KEY
    legacy = parse_image_name("index.docker.io/alpine")
    assert (legacy.domain, legacy.path) == (DOCKER_HUB, "library/alpine")


def test_familiar_names() -> None:
    assert parse_image_name("docker.io/library/alpine").familiar == "alpine"
    assert parse_image_name("acme/app").familiar == "acme/app"
    assert parse_image_name("ghcr.io/acme/app").familiar == "ghcr.io/acme/app"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("my_registry.example.com/acme/app", "'_' is not allowed in DNS names"),
        ("my_registry.example.com:5000/acme/app", "'_' is not allowed in DNS names"),
        ("localhost:99999/acme/app", "registry port 99999 "),
        ("localhost:65536/acme/app", "registry port 65536 "),
        ("localhost:0/acme/app", "registry port 0 "),
        ("127.0.0.1:000000080/acme/app", "is out of range"),
    ],
)
def test_registry_hosts_follow_the_grammar_and_ports_fit(text: str, problem: str) -> None:
    """distribution's grammar has no '_' in a host, so Docker would give such a name an empty
    registry; dockyard refuses it, and ports outside 1-65535 (99999 would wrap to 34463)."""
    with pytest.raises(ImageRefError, match=problem):
        parse_image_name(text)


@pytest.mark.parametrize("text", ["localhost:1/a", "localhost:65535/a", "[::1]:5000/a",
                                  "foo_bar/app", "LOCALDOMAIN/fooo/bar"])
def test_hosts_and_ports_at_the_edges_are_accepted(text: str) -> None:
    parse_image_name(text)


def test_check_registry_host_alone() -> None:
    assert check_registry_host("registry.example.com:5000") == "registry.example.com:5000"
    for bad in ("", "http://x", "my_host", "x:65536", "[::1]:0"):
        with pytest.raises(ImageRefError):
            check_registry_host(bad)
