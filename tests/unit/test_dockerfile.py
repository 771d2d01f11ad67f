"""The Dockerfile reader: stages, ARG scoping per stage, expansion forms, heredocs, COPY forms."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.dockerfile import expand, parse_dockerfile
from core.errors import DockerfileError
from core.platforms import Platform

ARM7 = Platform("linux", "arm", "v7")
AMD64 = Platform("linux", "amd64")


def _sources(text: str, platform: Platform, build_args: dict[str, str] | None = None
             ) -> list[str]:
    """Each COPY source of every stage, expanded as the build of ``platform`` sees it."""
    parsed = parse_dockerfile(text)
    found = []
    for stage in parsed.stages:
        for copy in stage.copies:
            env = parsed.stage_env(stage, copy.instruction, platform, build_args or {})
            found += [expand(source, env).text for source in copy.sources]
    return found


@pytest.mark.parametrize(("word", "env", "expected"), [
    ("${A}", {"A": "x"}, "x"),
    ("$A/b", {"A": "x"}, "x/b"),
    ("${A:-d}", {}, "d"),
    ("${A:-d}", {"A": ""}, "d"),
    ("${A-d}", {"A": ""}, ""),
    ("${A:+alt}", {"A": "x"}, "alt"),
    ("${A:+alt}", {"A": ""}, ""),
    ("${A+alt}", {"A": ""}, "alt"),
    ("${A:-${B}}", {"B": "nested"}, "nested"),
    ("\\$A", {"A": "x"}, "$A"),
    ("$", {}, "$"),
    ("$AB", {"A": "x"}, ""),
])
def test_expansion_forms(word: str, env: dict[str, str], expected: str) -> None:
    assert expand(word, env).text == expected


def test_expansion_refuses_what_it_cannot_read() -> None:
    with pytest.raises(DockerfileError, match="unterminated"):
        expand("${A", {})
    with pytest.raises(DockerfileError, match="modifier"):
        expand("${A%%.*}", {"A": "x"})


def test_platform_args_only_where_declared_and_global_args_only_when_redeclared() -> None:
    text = (
        "ARG DIST=dist\n"
        "ARG BASE=scratch\n"
        "FROM ${BASE} AS one\n"
        "COPY ${DIST}/${TARGETARCH}/a /a\n"  # neither declared in this stage: both empty
        "FROM scratch\n"
        "ARG DIST\n"
        "ARG TARGETARCH\n"
        "ARG TARGETVARIANT\n"
        "COPY ${DIST}/${TARGETARCH}${TARGETVARIANT}/b /b\n"
    )
    assert _sources(text, ARM7) == ["//a", "dist/armv7/b"]
    assert _sources(text, AMD64, {"DIST": "out"}) == ["//a", "out/amd64/b"]
    parsed = parse_dockerfile(text)
    assert parsed.global_env(ARM7, {})["BASE"] == "scratch"


def test_platform_reaches_sources_through_arg_defaults_and_env() -> None:
    text = (
        "FROM scratch\nARG TARGETARCH\nARG BIN=target/${TARGETARCH}/app\n"
        "ENV CONF=conf/${TARGETARCH:-none}.toml\n"
        "COPY ${BIN} ${CONF} /\n"
    )
    assert _sources(text, AMD64) == ["target/amd64/app", "conf/amd64.toml"]


def test_env_is_inherited_from_a_base_stage_but_args_are_not() -> None:
    text = (
        "FROM scratch AS base\nARG TARGETARCH\nENV DIR=d/${TARGETARCH}\n"
        "FROM base\nCOPY ${DIR}/x ${TARGETARCH}y /\n"
    )
    assert _sources(text, AMD64) == ["d/amd64/x", "y"]


def test_continuations_comments_heredocs_and_json_form() -> None:
    text = (
        "# escape=\\\n"
        "FROM --platform=$BUILDPLATFORM alpine AS build\n"
        "RUN <<EOF\n"
        "FROM not-a-stage\n"
        "COPY not/a/source /x\n"
        "EOF\n"
        "COPY <<-CONF /etc/app.conf\n"
        "\tkey = 1\n"
        "\tCONF\n"
        "FROM scratch\n"
        "ARG TARGETARCH\n"
        "COPY --from=build --chown=1:1 /out /out\n"
        "COPY --chown=65532:65532 \\\n"
        "  # a comment inside the instruction\n"
        "\n"
        "  dist/${TARGETARCH}/app \\\n"
        "  /app\n"
        'ADD ["dist/${TARGETARCH}/data", "/data"]\n'
        "ADD https://example.invalid/${TARGETARCH}.tgz /\n"
    )
    parsed = parse_dockerfile(text)
    assert [(s.name, s.base, s.platform) for s in parsed.stages] == [
        ("build", "alpine", "$BUILDPLATFORM"), (None, "scratch", None)]
    (heredoc_copy,) = parsed.stages[0].copies
    assert heredoc_copy.sources == () and heredoc_copy.heredoc_sources == ("CONF",)
    assert parsed.stages[0].instructions[0].heredocs[0].body == "FROM not-a-stage\n" \
        "COPY not/a/source /x\n"
    assert heredoc_copy.instruction.heredocs[0].body == "key = 1\n"
    from_build, app, data, url = parsed.stages[1].copies
    assert from_build.from_stage == "build"
    assert app.line == 13 and app.sources == ("dist/${TARGETARCH}/app",)
    assert app.instruction.flags() == {"chown": "65532:65532"}
    assert data.sources == ("dist/${TARGETARCH}/data",) and data.destination == "/data"
    assert url.sources == ("https://example.invalid/${TARGETARCH}.tgz",)


def test_stage_graph_and_unused_stages() -> None:
    text = (
        "FROM alpine AS unused\n"
        "FROM alpine AS deps\n"
        "FROM deps AS build\nRUN --mount=type=cache,from=tools,target=/t true\n"
        "FROM alpine AS tools\n"
        "FROM scratch\nCOPY --from=build /out /out\n"
    )
    parsed = parse_dockerfile(text)
    assert [s.label for s in parsed.reachable()] == ["deps", "build", "4"]
    assert [s.label for s in parsed.reachable("tools")] == ["tools"]
    with pytest.raises(DockerfileError, match="no stage 'nope'"):
        parsed.target("nope")


@pytest.mark.parametrize(("text", "problem"), [
    ("RUN true\nFROM scratch\n", "RUN comes before the first FROM"),
    ("FROM a b\n", "is not a FROM line"),
])
def test_malformed_dockerfiles(text: str, problem: str) -> None:
    with pytest.raises(DockerfileError, match=problem):
        parse_dockerfile(text, Path("Dockerfile"))
