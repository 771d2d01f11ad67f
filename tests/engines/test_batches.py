"""The engine's reader hands over whole reads, and the parsers turn each into LogBatch events that
mean what their line-by-line ``feed`` means. Real processes, real recorded buildx output."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from core.engines.process import BuildCancelled, stream_batches, stream_lines
from core.engines.progress import PlainParser, PodmanParser, RawJsonParser, shown_line, step_line
from core.events import Event, LogBatch, LogLine
from tests.support.flood import FLOOD_LINES, RECORDING, write_flood

RECORDINGS = RECORDING.parent
pytestmark = pytest.mark.skipif(not RECORDINGS.is_dir(), reason=f"{RECORDINGS} not found")


def _sizes(seed: int):
    chooser = random.Random(seed)
    return [lambda: 1, lambda: 2, lambda: 7, lambda: 1_000_000, lambda: chooser.randint(1, 40)]


def by_line(parser, lines: list[str]) -> list[object]:
    """What ``feed`` means, line by line: shown lines and the other events, in order."""
    meant: list[object] = []
    for line in lines:
        for event in parser.feed(line):
            meant.append(shown_line(event) if type(event) is LogLine else event)
    return meant


def by_batch(parser, lines: list[str], size) -> tuple[list[object], list[str]]:
    """The same through ``feed_batch`` in reads of ``size()`` lines, and the lines for the log."""
    meant: list[object] = []
    printed: list[str] = []
    index = 0
    while index < len(lines):
        count = size()
        for event in parser.feed_batch(lines[index:index + count]):
            if isinstance(event, LogBatch):
                meant += event.shown
                printed += event.lines
            else:
                meant.append(event)
        index += count
    return meant, printed


def same(left: list[object], right: list[object]) -> bool:
    """Equal but for the seconds a step took where the parser measures them itself."""
    def key(item: object) -> object:
        if isinstance(item, str):
            return item
        fields = dict(vars(item))
        if not isinstance(item, LogBatch) and "seconds" in fields and fields["seconds"]:
            fields["seconds"] = round(fields["seconds"])
        return type(item).__name__, fields
    return [key(x) for x in left] == [key(x) for x in right]


def plain_recordings() -> list[Path]:
    return sorted([*RECORDINGS.glob("*plain*.stderr"), *RECORDINGS.parent.glob("plain*.log")])


@pytest.mark.parametrize("path", plain_recordings(), ids=lambda p: p.name)
def test_plain_batches_mean_what_plain_lines_mean(path: Path) -> None:
    recorded = path.read_text().splitlines()
    # Repeated (steps known, headers repeated), and with the blank lines gone (a step opening
    # straight after another's line), and odd lines a printer might send.
    odd = ["#99 new step", "#99 1.0 x", "", "#99 new step", "#99 DONE 1.0s", "  ", "#5 1.2 ",
           "#5", "#x y", "#12 .. ", "#3 1.5 pushing manifest for a/b@sha256:" + "a" * 64]
    for lines in (recorded * 3, [line for line in recorded if line.strip()] * 2 + odd):
        for size in _sizes(len(lines)):
            meant, printed = by_batch(PlainParser(), lines, size)
            assert printed == lines  # every printed line, for the full log
            assert same(meant, by_line(PlainParser(), lines))


def test_rawjson_batches_log_what_the_json_says() -> None:
    lines = (RECORDINGS / "build-push-rawjson.stderr").read_text().splitlines()
    meant, printed = by_batch(RawJsonParser(), lines, lambda: 5)
    assert same(meant, by_line(RawJsonParser(), lines))
    steps = [event for event in meant if isinstance(event, Event)]
    # The log gets text, not JSON: what was shown and each step's start and end, as plain does.
    assert not [line for line in printed if line.startswith("{")]
    assert sorted(printed) == sorted([line for line in meant if isinstance(line, str)]
                                     + [step_line(event) for event in steps])
    assert any(line.endswith("tick 20") for line in printed)


def test_podman_batches_keep_podmans_lines_as_printed() -> None:
    lines = ["[linux/amd64] STEP 1/2: FROM scratch", "[linux/arm64] STEP 1/2: FROM scratch",
             "[linux/amd64] STEP 2/2: COPY app /app", "--> Using cache 1234",
             "[linux/amd64] COMMIT demo", "Error: building at STEP \"COPY app /app\": no app"]
    meant, printed = by_batch(PodmanParser(), lines, lambda: 4)
    assert printed == lines
    assert same(meant, by_line(PodmanParser(), lines))


def test_a_flood_arrives_in_a_few_batches_every_line_in_order(tmp_path: Path) -> None:
    flood = write_flood(tmp_path / "flood.log")
    batches = list(stream_batches(["cat", str(flood)]))
    lines = [line for batch in batches for line in batch]
    assert len(lines) == FLOOD_LINES
    assert lines == flood.read_text().split("\n")[:-1]
    assert len(batches) < FLOOD_LINES / 1000  # one item per read of the pipe, not per line


def test_line_endings_and_long_lines_come_through_whole(tmp_path: Path) -> None:
    wide = "ä€" * 300_000  # longer than one read, multi-byte characters across read boundaries
    source = tmp_path / "out"
    source.write_bytes(f"one\r\ntwo\n\n{wide}\nlast, no newline".encode())
    expected = ["one", "two", "", wide, "last, no newline"]
    assert [line for batch in stream_batches(["cat", str(source)]) for line in batch] == expected
    assert list(stream_lines(["cat", str(source)])) == expected


class Once:
    """A stop flag that is not a threading.Event: set once a batch was seen."""

    def __init__(self) -> None:
        self.seen = False

    def is_set(self) -> bool:
        return self.seen


def _running(marker: str) -> bool:
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker.encode() in cmdline.read_bytes():
                return True
        except OSError:
            continue
    return False


def test_any_stop_flag_stops_the_engine() -> None:
    flag = Once()
    with pytest.raises(BuildCancelled):
        for _ in stream_batches(["sh", "-c", "echo ready; exec sleep 63.5"], cancel=flag, grace=2):
            assert _running("63.5")
            flag.seen = True
    assert not _running("63.5")  # the group was stopped, not left to sleep on
