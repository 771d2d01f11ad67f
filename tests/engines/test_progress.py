"""Progress parsing on the real recorded buildx output (../shared/fixtures/buildx)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from core.engines.progress import PlainParser, RawJsonParser, platform_of
from core.events import Event, LogLine, StepFailed, StepFinished, StepStarted
from tests.engines.conftest import recorded_pow_lines

DIGEST_1 = "sha256:b5cb6ab415dabb468720f5d30a58fa202c6ed7e9c00097880c7752a2e4c6715a"


def feed_all(parser: PlainParser | RawJsonParser, lines: list[str]) -> list[Event]:
    events: list[Event] = []
    for line in lines:
        events += parser.feed(line)
    return events


def of(events: list[Event], kind: type) -> list:
    return [e for e in events if isinstance(e, kind)]


def test_platform_is_taken_from_the_step_name_prefix() -> None:
    assert platform_of("[linux/arm64 2/2] COPY dist/arm64/app /app") == "linux/arm64"
    assert platform_of("[linux/arm/v7 builder 1/3] RUN make") == "linux/arm/v7"
    assert platform_of("[2/2] RUN echo hi") == ""
    assert platform_of("[internal] load build context") == ""
    assert platform_of("exporting to image") == ""


def test_plain_log_steps_timings_and_platforms(buildx_fixtures: Path) -> None:
    parser = PlainParser()
    events = feed_all(parser, (buildx_fixtures / "plain.log").read_text().splitlines())
    started = of(events, StepStarted)
    finished = of(events, StepFinished)
    assert [e.step for e in started] == [f"#{n}" for n in range(1, 9)]  # "#0" is a banner
    assert [e.step for e in finished] == [f"#{n}" for n in range(1, 9)]
    by_step = {e.step: e for e in started}
    assert by_step["#5"].name == "[linux/amd64 1/1] COPY dist/amd64/app /app"
    assert by_step["#5"].platform == "linux/amd64"
    assert by_step["#6"].platform == "linux/arm64"
    assert by_step["#1"].platform == ""
    assert {e.step: e.seconds for e in finished}["#7"] == 0.2
    assert not any(e.cached for e in finished)
    assert not of(events, StepFailed)
    assert parser.pushed == [("127.0.0.1:5000/demo:1.2.3", DIGEST_1)]
    exports = [e.text for e in of(events, LogLine) if e.step == "#7"]
    assert "exporting layers 0.1s done" in exports


def test_plain_run_log_lines_belong_to_their_step(buildx_fixtures: Path) -> None:
    events = feed_all(PlainParser(), (buildx_fixtures / "plain-run.log").read_text().splitlines())
    logs = [(e.step, e.text) for e in of(events, LogLine)]
    assert ("#7", "x86_64") in logs
    assert ("#7", "built-for-amd64") in logs
    assert ("#8", "aarch64") in logs
    # plain output does not say which platform "[2/2] RUN" ran for: left empty, not guessed
    run_steps = [e for e in of(events, StepStarted) if "RUN" in e.name]
    assert [e.platform for e in run_steps] == ["", ""]


def test_plain_interleaved_step_is_started_once_and_finished_with_its_time(
    buildx_fixtures: Path,
) -> None:
    events = feed_all(PlainParser(), recorded_pow_lines(buildx_fixtures, "slow"))
    assert [e.step for e in of(events, StepStarted)].count("#7") == 1  # header repeated after "..."
    finished = {e.step: e.seconds for e in of(events, StepFinished)}
    assert finished["#7"] == 3.2
    assert finished["#8"] == 3.1
    ticks = [e.text for e in of(events, LogLine) if e.step == "#7"]
    assert ticks == ["tick-1-arm64", "tick-2-arm64", "tick-3-arm64"]


def test_plain_failure_fails_both_platform_steps(buildx_fixtures: Path) -> None:
    events = feed_all(PlainParser(), recorded_pow_lines(buildx_fixtures, "fail"))
    failed = of(events, StepFailed)
    assert [e.step for e in failed] == ["#7", "#8"]
    assert failed[0].error == (
        'process "/bin/busybox sh -c echo about-to-fail; exit 3" did not complete '
        "successfully: exit code: 3"
    )
    assert not [e for e in of(events, StepFinished) if e.step in ("#7", "#8")]
    tail = [e for e in of(events, LogLine) if not e.step]
    assert tail[-1].text.startswith("ERROR: failed to build")


def test_rawjson_steps_have_platforms_and_timings(buildx_fixtures: Path) -> None:
    parser = RawJsonParser()
    events = feed_all(parser, (buildx_fixtures / "rawjson.log").read_text().splitlines())
    started = of(events, StepStarted)
    names = [e.name for e in started]
    assert len(names) == len({e.step for e in started})  # one start per vertex
    copy_amd = next(e for e in started if e.name.startswith("[linux/amd64"))
    assert copy_amd.platform == "linux/amd64"
    finished = {e.step: e for e in of(events, StepFinished)}
    assert set(finished) == {e.step for e in started}  # every step closed exactly once
    assert len(of(events, StepFinished)) == len(started)
    # 06:04:02.453044419 -> 06:04:02.480294101
    assert finished[copy_amd.step].seconds == 0.027
    pushed = [digest for _, digest in parser.pushed]
    assert len(pushed) == 1 and pushed[0].startswith("sha256:")


def test_rawjson_run_steps_inherit_platform_and_decode_logs(buildx_fixtures: Path) -> None:
    lines = (buildx_fixtures / "rawjson-run.log").read_text().splitlines()
    events = feed_all(RawJsonParser(), lines)
    runs = {e.name.rsplit("built-for-", 1)[1].rstrip('"]'): e
            for e in of(events, StepStarted) if "RUN" in e.name}
    assert runs["amd64"].platform == "linux/amd64"  # from its input "[linux/amd64 1/2] COPY"
    assert runs["arm64"].platform == "linux/arm64"
    logs = [(e.text, e.platform, e.stream, e.step)
            for e in of(events, LogLine) if e.stream == "stdout"]
    assert ("x86_64", "linux/amd64", "stdout", runs["amd64"].step) in logs
    assert ("built-for-arm64", "linux/arm64", "stdout", runs["arm64"].step) in logs


def test_rawjson_cached_and_error_vertices(buildx_fixtures: Path) -> None:
    """The recordings hold neither a cached nor a failed vertex: take a real record and set the
    fields BuildKit's SolveStatus uses for them."""
    first = json.loads((buildx_fixtures / "rawjson.log").read_text().splitlines()[1])
    record = first["vertexes"][0]
    cached = {"vertexes": [{**record, "cached": True}]}
    parser = RawJsonParser()
    events = parser.feed(json.dumps(cached))
    assert isinstance(events[0], StepStarted)
    assert isinstance(events[1], StepFinished) and events[1].cached
    broken = {**record, "digest": "sha256:" + "0" * 64, "error": "exit code: 3"}
    events = RawJsonParser().feed(json.dumps({"vertexes": [broken]}))
    assert isinstance(events[-1], StepFailed) and events[-1].error == "exit code: 3"


def test_rawjson_non_json_lines_become_log_lines() -> None:
    events = RawJsonParser().feed("ERROR: failed to build: failed to solve")
    assert events == [LogLine(text="ERROR: failed to build: failed to solve")]
    data = base64.b64encode(b"a\nb\n").decode()
    parser = RawJsonParser()
    events = parser.feed(json.dumps({"logs": [{"vertex": "x", "stream": 2, "data": data}]}))
    assert [(e.text, e.stream) for e in events] == [("a", "stderr"), ("b", "stderr")]
