"""Turn builder progress output (buildx plain/rawjson, podman) into dockyard events."""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from core.events import Event, LogBatch, LogLine, StepFailed, StepFinished, StepStarted

# "[linux/arm64 2/2] COPY ...", "[linux/arm/v7 builder 1/3] RUN ...": the OS part starts with a
# letter, which keeps "[2/2] RUN" (a stage counter) and "[internal] load" out.
_PLATFORM_PREFIX = re.compile(r"^\[([a-z][a-z0-9]*/[a-z0-9][a-z0-9_.-]*(?:/[a-z0-9]+)?)[\s\]]")
_PLAIN_LINE = re.compile(r"^#(\d+) (.*)$")
_PLAIN_DONE = re.compile(r"^DONE (\d+(?:\.\d+)?)s$")
_PLAIN_LOG = re.compile(r"^\d+\.\d+ (.*)$")
_PUSHED = re.compile(r"pushing manifest for (\S+)@(sha256:[0-9a-f]{64})")


def platform_of(name: str) -> str:
    """The platform a buildx step name is prefixed with, or "" for shared/internal steps."""
    match = _PLATFORM_PREFIX.match(name)
    return match.group(1) if match else ""


class ProgressParser(Protocol):
    """Feed one output line, get the events it means; or a read of many lines, get them with the
    log lines gathered in LogBatch events."""

    def feed(self, line: str) -> list[Event]: ...

    def feed_batch(self, lines: Sequence[str]) -> list[Event]: ...


def shown_line(event: LogLine) -> str:
    """``[platform] step text``, with the platform once: podman's step ids ("[linux/arm64] 2/3")
    and some texts ("linux/arm64: emulated") already lead with it."""
    line = f"{event.step} {event.text}" if event.step else event.text
    platform = event.platform
    if not platform or line.startswith((f"[{platform}", f"{platform}:")):
        return line
    return f"[{platform}] {line}"


def step_line(event: Event) -> str:
    """A step event as buildx's plain printer writes it, for a log of output that was not text."""
    if isinstance(event, StepStarted):
        return f"{event.step} {event.name}"
    if isinstance(event, StepFinished):
        return f"{event.step} {'CACHED' if event.cached else f'DONE {event.seconds:.1f}s'}"
    if isinstance(event, StepFailed):
        return f"{event.step} ERROR: {event.error}"
    return ""


def gather(parser: ProgressParser, lines: Sequence[str], *, verbatim: bool) -> list[Event]:
    """``parser.feed`` over a read of lines, its log lines gathered into LogBatch events, cut only
    where a step event must come between them (a headless log keeps its order). ``verbatim``:
    the printed lines are text worth keeping as they are; otherwise the log gets what they say."""
    events: list[Event] = []
    printed: list[str] = []
    shown: list[str] = []
    for line in lines:
        if verbatim:
            printed.append(line)
        for event in parser.feed(line):
            if type(event) is LogLine:
                text = shown_line(event)
                shown.append(text)
                if not verbatim:
                    printed.append(text)
                continue
            if not verbatim:
                printed.append(step_line(event))
            events.append(LogBatch(tuple(printed), tuple(shown)))
            printed, shown = [], []
            events.append(event)
    if printed:
        events.append(LogBatch(tuple(printed), tuple(shown)))
    return events


@dataclass
class _Step:
    step: str
    name: str
    platform: str
    started: float  # monotonic (plain) or epoch seconds (rawjson)
    done: bool = False


# A plain line that needs a look of its own: anything but ``#N `` and a log line (what
# ``PlainParser._step_line`` turns into a LogLine and nothing else).
_PLAIN_SPECIAL = re.compile(
    r"^(?!#\d+ (?!DONE |ERROR:|CACHED$|\.\.\.$)(?!.*pushing manifest)).*$", re.M)
_PLAIN_HEAD = re.compile(r"^(#\d+) ", re.M)
# A block as the printer writes it when it goes back to a step: the header, log lines, the end.
_PLAIN_BLOCK = re.compile(
    r"(#\d+) ([^\n]*)\n"
    r"((?:\1 (?!DONE |ERROR:|CACHED$|\.\.\.$)(?![^\n]*pushing manifest)[^\n]*\n)*)"
    r"\1 (?:DONE (\d+(?:\.\d+)?)s|CACHED)$", re.M)
_PLAIN_LEAD = re.compile(r"^(#\d+) (?:\d+\.\d+ )?", re.M)


class _Batch:
    """The events of one read being gathered: shown lines pile up; a step event closes a
    LogBatch holding every printed line up to the one that meant it."""

    def __init__(self, lines: Sequence[str]) -> None:
        self.lines = lines
        self.events: list[Event] = []
        self.shown: list[str] = []
        self.start = 0  # the first printed line not in a LogBatch yet

    def add(self, events: list[Event], index: int) -> None:
        """The events ``lines[index]`` meant."""
        for event in events:
            if type(event) is LogLine:
                self.shown.append(shown_line(event))
            else:
                self.close(event, index)

    def close(self, event: Event, index: int) -> None:
        """A step event ``lines[index]`` meant: the lines so far go before it."""
        self.events.append(LogBatch(tuple(self.lines[self.start:index + 1]), tuple(self.shown)))
        self.start, self.shown = index + 1, []
        self.events.append(event)

    def done(self) -> list[Event]:
        if self.start < len(self.lines):
            self.events.append(LogBatch(tuple(self.lines[self.start:]), tuple(self.shown)))
        return self.events


@dataclass
class PlainParser:
    """buildx ``--progress=plain``: ``#N name`` opens a step, ``#N DONE 0.1s``/``CACHED``/
    ``ERROR: ...`` closes it (once: a repeated DONE or CACHED is no second end), ``#N 0.083
    text`` is a log line of that step."""

    steps: dict[str, _Step] = field(default_factory=dict)
    pushed: list[tuple[str, str]] = field(default_factory=list)  # (image ref, digest)
    _block_start: bool = True
    _leads: dict[str, tuple[re.Pattern[str], str, str]] = field(default_factory=dict)

    def feed_batch(self, lines: Sequence[str]) -> list[Event]:
        """``gather``, made for floods: regexes over the whole read find what needs a look of
        its own (blank lines, step ends, lines of no step...). The runs of a known step's log
        lines between them, most of a flood, are shown in one substitution each, and a whole
        block the printer went back to (its header again, log lines, DONE) in one match."""
        batch = _Batch(lines)
        text = "\n".join(lines)
        steps = self.steps
        index = position = 0  # the line at ``position`` in ``text`` is ``lines[index]``
        while index < len(lines):
            line = lines[index]
            if not line.strip():
                self._block_start = True
            elif self._block_start:
                block = _PLAIN_BLOCK.match(text, position)
                step = steps.get(block.group(1)) if block is not None else None
                if block is not None and step is not None and block.group(2) == step.name:
                    index = self._block(batch, block, step, index)
                    position = block.end() + 1
                    continue
                batch.add(self.feed(line), index)  # a header, new or not: a look of its own
            else:
                special = _PLAIN_SPECIAL.search(text, position)
                end = special.start() if special is not None else len(text) + 1
                if end > position:
                    index = self._run(batch, text[position:end - 1], index)
                    position = end
                    continue
                head, _, rest = line.partition(" ")
                step = steps.get(head)
                done = _PLAIN_DONE.match(rest) if step is not None else None
                if step is not None and done is not None and step.done:
                    pass  # a step ends once (see _step_line)
                elif step is not None and done is not None:
                    # A step's DONE: the event ``feed`` makes, without its detours.
                    step.done = True
                    batch.close(StepFinished(step.step, step.name, step.platform,
                                             seconds=float(done.group(1))), index)
                else:
                    batch.add(self.feed(line), index)
            index += 1
            position += len(line) + 1
        return batch.done()

    def _block(self, batch: _Batch, block: re.Match[str], step: _Step, index: int) -> int:
        """A whole block from ``lines[index]``: the header repeated, log lines, DONE or CACHED.
        Returns the index after it."""
        body = block.group(3)
        if body:
            pattern, prefix, _ = self._shown(step.step)
            batch.shown += pattern.sub(prefix, body[:-1]).split("\n")
        end = index + 1 + body.count("\n")
        seconds = block.group(4)
        self._block_start = False
        if step.done:
            return end + 1  # a step ends once (see _step_line)
        step.done = True
        batch.close(StepFinished(step.step, step.name, step.platform, cached=True)
                    if seconds is None else
                    StepFinished(step.step, step.name, step.platform, seconds=float(seconds)),
                    end)
        return end + 1

    def _run(self, batch: _Batch, run: str, index: int) -> int:
        """Lines ``index``... (``run``, joined) are all ``#N `` and a log line, inside a block:
        show them in one go when every ``#N`` is a known step. Returns the next index."""
        count = run.count("\n") + 1
        head = run[:run.index(" ")]
        if head in self.steps and run.count(f"\n{head} ") == count - 1:
            pattern, prefix, _ = self._shown(head)  # one step's lines: the usual run
            shown = pattern.sub(prefix, run)
        elif set(_PLAIN_HEAD.findall(run)) <= self.steps.keys():
            shown = _PLAIN_LEAD.sub(lambda match: self._shown(match.group(1))[2], run)
        else:  # a step opening without a blank line before it
            for number in range(index, index + count):
                batch.add(self.feed(batch.lines[number]), number)
            return index + count
        batch.shown += shown.split("\n")
        return index + count

    def _shown(self, head: str) -> tuple[re.Pattern[str], str, str]:
        """What leads a log line of step ``head`` (``#9 0.137 ``), and what is shown instead
        (as a substitution's template, and as it is)."""
        found = self._leads.get(head)
        if found is None:
            step = self.steps[head]
            prefix = f"[{step.platform}] {head} " if step.platform else f"{head} "
            found = (re.compile(rf"^{re.escape(head)} (?:\d+\.\d+ )?", re.M),
                     prefix.replace("\\", "\\\\"), prefix)
            self._leads[head] = found
        return found

    def feed(self, line: str) -> list[Event]:
        if not line.strip():
            self._block_start = True
            return []
        match = _PLAIN_LINE.match(line)
        if match is None:
            self._block_start = False
            return [LogLine(text=line)]
        step_id, rest = f"#{match.group(1)}", match.group(2)
        known = self.steps.get(step_id)
        opens_block, self._block_start = self._block_start, False
        if known is None:
            if step_id == "#0":  # "#0 building with ... driver": a banner, not a step
                return [LogLine(text=rest, step=step_id)]
            known = _Step(step_id, rest, platform_of(rest), time.monotonic())
            self.steps[step_id] = known
            return [StepStarted(step=step_id, name=rest, platform=known.platform)]
        if opens_block and rest == known.name:
            return []  # the printer repeats the header when it switches back to a step
        return self._step_line(known, rest)

    def _step_line(self, step: _Step, rest: str) -> list[Event]:
        # Most lines are a step's log output: cheap prefix and substring tests keep the regexes
        # for the few lines that can match them (the Build screen parses ~10^5 lines a second).
        done = _PLAIN_DONE.match(rest) if rest.startswith("DONE ") else None
        if (done or rest == "CACHED") and step.done:
            return []  # a step ends once, as in RawJsonParser: a repeated end changes nothing
        if done:
            step.done = True
            seconds = float(done.group(1))
            return [StepFinished(step.step, step.name, step.platform, seconds=seconds)]
        if rest == "CACHED":
            step.done = True
            return [StepFinished(step.step, step.name, step.platform, cached=True)]
        if rest.startswith("ERROR:"):
            step.done = True
            return [
                StepFailed(
                    step.step, step.name, rest.removeprefix("ERROR:").strip(), step.platform,
                    seconds=round(time.monotonic() - step.started, 3),
                )
            ]
        if rest == "...":
            return []  # the printer switched to another step; this one goes on
        pushed = _PUSHED.search(rest) if "pushing manifest" in rest else None
        if pushed and (pushed.group(1), pushed.group(2)) not in self.pushed:
            self.pushed.append((pushed.group(1), pushed.group(2)))
        log = _PLAIN_LOG.match(rest)
        text = log.group(1) if log else rest
        return [LogLine(text=text, step=step.step, platform=step.platform)]


def _epoch(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp).timestamp()
    except ValueError:
        return None


@dataclass
class _Vertex:
    step: str
    name: str
    platform: str
    inputs: tuple[str, ...] = ()
    started: float | None = None
    announced: bool = False
    closed: bool = False


@dataclass
class RawJsonParser:
    """buildx ``--progress=rawjson``: one ``{"vertexes", "statuses", "logs"}`` object a line.

    Steps are numbered ``#N`` in order of first appearance, like the plain printer does. A step
    whose name has no platform (``[2/2] RUN``) inherits it from its inputs, which the JSON carries
    and the plain output does not. A vertex can run more than once (buildx re-opens internal
    loads); it gets one StepStarted and one closing event, with the time from its first start.
    """

    vertices: dict[str, _Vertex] = field(default_factory=dict)
    pushed: list[tuple[str, str]] = field(default_factory=list)

    def feed_batch(self, lines: Sequence[str]) -> list[Event]:
        return gather(self, lines, verbatim=False)  # JSON with base64 logs is no log to read

    def feed(self, line: str) -> list[Event]:
        if not line.strip():
            return []
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            return [LogLine(text=line)]
        if not isinstance(message, dict):
            return [LogLine(text=line)]
        events: list[Event] = []
        latest: dict[str, dict[str, Any]] = {}
        for record in message.get("vertexes") or []:
            latest[record["digest"]] = record  # later records of a vertex supersede earlier ones
        for digest, record in latest.items():
            events += self._vertex(digest, record)
        for status in message.get("statuses") or []:
            events += self._status(status)
        for log in message.get("logs") or []:
            events += self._log(log)
        for warning in message.get("warnings") or []:
            events.append(LogLine(text=f"warning: {_decode(warning.get('short', ''))}"))
        return events

    def _vertex(self, digest: str, record: dict[str, Any]) -> list[Event]:
        vertex = self.vertices.get(digest)
        if vertex is None:
            name = str(record.get("name", ""))
            vertex = _Vertex(f"#{len(self.vertices) + 1}", name, platform_of(name))
            self.vertices[digest] = vertex
        if record.get("inputs"):
            vertex.inputs = tuple(record["inputs"])
        if not vertex.platform:
            vertex.platform = self._inherited_platform(vertex)
        events: list[Event] = []
        started = _epoch(record.get("started"))
        if started is not None and not vertex.announced:
            vertex.announced, vertex.started = True, started
            events.append(StepStarted(vertex.step, vertex.name, vertex.platform))
        completed = _epoch(record.get("completed"))
        error = record.get("error")
        if vertex.closed or (completed is None and not error):
            return events
        if not vertex.announced:  # cached vertices can complete without a separate start
            vertex.announced = True
            events.append(StepStarted(vertex.step, vertex.name, vertex.platform))
        vertex.closed = True
        first = vertex.started if vertex.started is not None else started
        seconds = round(completed - first, 3) if completed is not None and first else 0.0
        if error:
            events.append(
                StepFailed(vertex.step, vertex.name, str(error), vertex.platform, seconds=seconds)
            )
        else:
            cached = bool(record.get("cached"))
            events.append(
                StepFinished(vertex.step, vertex.name, vertex.platform, seconds, cached=cached)
            )
        return events

    def _inherited_platform(self, vertex: _Vertex) -> str:
        found = {
            self.vertices[d].platform
            for d in vertex.inputs
            if d in self.vertices and self.vertices[d].platform
        }
        return found.pop() if len(found) == 1 else ""

    def _status(self, status: dict[str, Any]) -> list[Event]:
        text = str(status.get("id", ""))
        pushed = _PUSHED.search(text)
        if pushed and (pushed.group(1), pushed.group(2)) not in self.pushed:
            self.pushed.append((pushed.group(1), pushed.group(2)))
        if not status.get("completed"):
            return []  # only the finished sub-task is worth a line, as in the plain printer
        vertex = self.vertices.get(str(status.get("vertex", "")))
        step, platform = (vertex.step, vertex.platform) if vertex else ("", "")
        return [LogLine(text=f"{text} done", step=step, platform=platform)]

    def _log(self, log: dict[str, Any]) -> list[Event]:
        vertex = self.vertices.get(str(log.get("vertex", "")))
        step, platform = (vertex.step, vertex.platform) if vertex else ("", "")
        stream = "stdout" if log.get("stream") == 1 else "stderr"
        text = _decode(log.get("data", ""))
        return [
            LogLine(text=part, step=step, platform=platform, stream=stream)
            for part in text.splitlines()
        ]


def _decode(data: str) -> str:
    try:
        return base64.b64decode(data, validate=True).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return data


_PODMAN_STEP = re.compile(r"^(?:\[([a-z][a-z0-9]*/[^\]\s]+)\] )?STEP (\d+)/(\d+): (.*)$")
_PODMAN_PLATFORM = re.compile(r"^\[([a-z][a-z0-9]*/[^\]\s]+)\] (.*)$")
_PODMAN_AT_STEP = re.compile(r'building at STEP "(.*?)": (.*)$')


@dataclass
class PodmanParser:
    """``podman build --platform A,B``: ``[linux/amd64] STEP 2/3: COPY ...`` opens a step, the
    next STEP or COMMIT of that platform closes it, ``--> Using cache`` marks it cached, and
    ``Error: building at STEP "NAME": why`` (alone or as ``* ...`` items of ``Error: 2 errors
    occurred:``) fails the open steps of that name. Platforms build in parallel and ``-->`` lines
    carry no platform: they belong to the platform that printed last. With one platform podman
    prints no ``[platform]`` prefix at all: ``platform`` names it."""

    platform: str = ""
    open: dict[str, tuple[_Step, bool]] = field(default_factory=dict)  # platform -> (step, cached)
    current: str = ""

    def __post_init__(self) -> None:
        self.current = self.current or self.platform

    def feed_batch(self, lines: Sequence[str]) -> list[Event]:
        return gather(self, lines, verbatim=True)

    def feed(self, line: str) -> list[Event]:
        if not line.strip():
            return []
        step = _PODMAN_STEP.match(line)
        if step:
            prefix, number, total, name = step.groups()
            platform = prefix or self.platform
            events = self._close(platform)
            opened = _Step(f"[{platform}] {number}/{total}", name, platform, time.monotonic())
            self.open[platform], self.current = (opened, False), platform
            return [*events, StepStarted(opened.step, name, platform)]
        prefixed = _PODMAN_PLATFORM.match(line)
        if prefixed:
            self.current, rest = prefixed.group(1), prefixed.group(2)
            closing = self._close(self.current) if rest.split(" ", 1)[0] == "COMMIT" else []
            return [*closing, LogLine(rest, platform=self.current)]
        if line.startswith("COMMIT"):
            return [*self._close(self.current), LogLine(line, platform=self.current)]
        if line.startswith("--> Using cache") and self.current in self.open:
            opened, _ = self.open[self.current]
            self.open[self.current] = (opened, True)
        failed = _PODMAN_AT_STEP.search(line)
        if failed and (line.startswith(("Error:", "\t*", "*", "error"))):
            return [LogLine(line), *self._fail(failed.group(1), failed.group(2))]
        if line.startswith("Error:") and self.open and "errors occurred" not in line:
            return [LogLine(line), *self._fail(None, line.removeprefix("Error:").strip())]
        entry = self.open.get(self.current)
        return [LogLine(line, step=entry[0].step if entry else "", platform=self.current)]

    def _close(self, platform: str) -> list[Event]:
        entry = self.open.pop(platform, None)
        if entry is None:
            return []
        opened, cached = entry
        seconds = round(time.monotonic() - opened.started, 3)
        return [StepFinished(opened.step, opened.name, platform, seconds, cached=cached)]

    def _fail(self, name: str | None, error: str) -> list[Event]:
        matching = [p for p, (s, _) in self.open.items() if name is None or s.name == name]
        events: list[Event] = []
        for platform in matching or list(self.open):
            opened, _ = self.open.pop(platform)
            seconds = round(time.monotonic() - opened.started, 3)
            events.append(StepFailed(opened.step, opened.name, error, platform, seconds))
        return events
