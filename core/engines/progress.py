"""Turn builder progress output (buildx plain/rawjson, podman) into dockyard events."""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from core.events import Event, LogLine, StepFailed, StepFinished, StepStarted

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
    """Feed one output line, get the events it means."""

    def feed(self, line: str) -> list[Event]: ...


@dataclass
class _Step:
    step: str
    name: str
    platform: str
    started: float  # monotonic (plain) or epoch seconds (rawjson)
    done: bool = False


@dataclass
class PlainParser:
    """buildx ``--progress=plain``: ``#N name`` opens a step, ``#N DONE 0.1s``/``CACHED``/
    ``ERROR: ...`` closes it, ``#N 0.083 text`` is a log line of that step."""

    steps: dict[str, _Step] = field(default_factory=dict)
    pushed: list[tuple[str, str]] = field(default_factory=list)  # (image ref, digest)
    _block_start: bool = True

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
