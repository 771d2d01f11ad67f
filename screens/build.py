"""Build & push: the release runs in a worker thread; this screen shows it live.

The worker only iterates the release events (parsing happens in the engine, whose output arrives
as one LogBatch event per read of its pipe), writes every line to the full log file as it comes
(flushed at least every FLUSH_SECONDS) and appends the events to an inbox; a 50 ms timer drains
the inbox in one go: step rows updated once per drain however many events touched them, the
newest log lines into a capped ``Log`` in one write (a burst beyond LOG_BATCH lines is shown by
its last lines and a count). A line under the progress bar says what the run is doing and how
long it has been silent.
"""

from __future__ import annotations

import contextlib
import gc
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Footer, Log, ProgressBar, Static
from textual.widgets.data_table import ColumnKey
from textual.worker import Worker, get_current_worker

from core.engines.progress import shown_line as format_line
from core.events import (
    AliasMoved,
    AliasWithheld,
    Event,
    LogBatch,
    LogLine,
    PhaseFinished,
    PhaseStarted,
    ReleaseFailed,
    ReleaseFinished,
    StepFailed,
    StepFinished,
    StepStarted,
    VerifyReported,
    format_event,
)
from core.release import default_report_dir, phases_for
from tui.draft import BuildOutcome, Draft
from tui.messages import BuildDone
from tui.table import Table
from tui.themes import tone
from tui.widgets import ConfirmModal, DockyardScreen, StepBar, describe_error

if TYPE_CHECKING:
    from tui.services import Services

LOG_CAP = 5000
# The most log lines one write to a full panel takes: more than any terminal shows at once.
# Writing a Log line costs the UI ~10 µs, so a bigger burst would hold keys up for no visible
# gain. Beyond it the screen says how many lines it left to the log file, which has every line.
LOG_BATCH = 300
DRAIN_SECONDS = 0.05  # how often queued events reach the screen
# While lines flood in (more than BURST_LINES waiting to be shown), the log panel is written at
# most every PAINT_SECONDS: each write costs a frame, and nobody reads a flood line by line.
PAINT_SECONDS = 0.2
BURST_LINES = 50
FLUSH_SECONDS = 0.2  # the full log file is never further behind than this
SLICE_SECONDS = 0.015  # the most one drain holds the UI before letting keys through
# The worker waits while the screen is this far behind (bounded memory): queued events (a LogBatch
# is one) and the log lines in them.
INBOX_MAX = 20_000
BACKLOG_LINES = 200_000
QUIET_SECONDS = 10.0  # silence after which the activity line says how long nothing came
_STEP_EVENTS = (StepStarted, StepFinished, StepFailed)
_STATE, _TIME = ColumnKey("state"), ColumnKey("time")
_DOING = {"preflight": "checking", "resolve": "resolving", "build": "building",
          "verify": "verifying", "tag": "tagging", "aliases": "moving aliases",
          "verify-aliases": "verifying aliases"}
_NAME_WIDTH = 60
_STATE_WIDTH = 20  # "failed: <cause>" is cut here; f3 shows every cause in full


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


@dataclass
class StepRow:
    platform: str
    step: str
    name: str
    state: str = "running"
    seconds: float | None = None
    drawn: tuple[str, str] | None = None  # (state, time) as the table shows them


def default_log_dir() -> Path:
    """Next to the release reports, outside the project so the tree stays clean."""
    return default_report_dir().parent / "logs"


class RunStop(threading.Event):
    """The run's cancel: set by the user (x, quitting), and also set once Textual cancels the
    worker running the release (the screen removed, the app gone), so the engine's reader stops
    the engine process instead of leaving it to run unseen."""

    def __init__(self) -> None:
        super().__init__()
        self.worker: Worker[None] | None = None

    def is_set(self) -> bool:
        return super().is_set() or (self.worker is not None and self.worker.is_cancelled)


class BuildScreen(DockyardScreen[BuildOutcome]):
    STEP = "Build"
    AUTO_FOCUS = "#build-log"
    HELP = (
        "The release runs: build and push the version tag, verify it in the registry, then move "
        "the aliases and verify them. The log shows the last lines; the whole log is in the file "
        "named below it. Cancel (x) stops the engine process itself; aliases only move after the "
        "version tag is verified, so a cancelled run leaves them where they were."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("x", "cancel", "Cancel build", id="build.cancel"),
        Binding("ctrl+n", "finish", "Continue", priority=True, id="build.finish"),
        Binding("f", "follow", "Follow log", id="build.follow"),
    ]

    def __init__(self, draft: Draft, services: Services, *, log_dir: Path | None = None) -> None:
        super().__init__(draft, services)
        assert draft.plan is not None
        self.plan = draft.plan
        split = draft.split
        self.phases = phases_for(part=bool(split and split.part), merge=bool(split and split.parts))
        self.log_dir = log_dir or services.log_dir
        # Log lines arrive already formatted (plain str: cheap, and not tracked by the GC);
        # every other event as itself.
        self.inbox: deque[str | Event] = deque()
        self.cancel_event = RunStop()
        self.outcome = BuildOutcome()
        self.steps: dict[str, StepRow] = {}
        self.phase_state: dict[str, str] = {}
        self.started = time.monotonic()
        self.done = False
        self._catching_up = False
        self.lines_seen = 0  # log lines the drain has taken (the UI thread alone counts them)
        self.lines_queued = 0  # log lines the worker has queued (the worker alone counts them)
        self.heard = time.monotonic()  # when the run last said anything (the worker sets it)
        self.last_line = ""  # the newest log line, for what the activity line says
        self._log_file: Any = None  # the full log: the worker writes it, the drain may flush it
        self._unflushed = False
        self._flushed = 0.0  # monotonic time of the last flush
        self._panel: deque[str] = deque(maxlen=LOG_CAP)  # newest lines not in the panel yet
        self._panel_count = 0  # how many lines they stand for
        self._painted = 0.0  # monotonic time the panel was last written

    def compose(self) -> ComposeResult:
        yield StepBar(self.STEP)
        with Horizontal(id="build-top"):
            yield Static("", id="phases")
            with Vertical(id="progress-box"):
                yield ProgressBar(total=len(self.phases), show_eta=False, id="progress")
                yield Static("elapsed 0:00", id="elapsed")
                yield Static("", id="activity")
                yield Static("", id="result")
        yield Table(id="steps", cursor_type="none", zebra_stripes=True)
        yield Log(max_lines=LOG_CAP, id="build-log")
        yield Static("", id="log-path")
        with Horizontal(classes="nav"):
            yield Button("Cancel build (x)", id="cancel", variant="error")
            yield Button("Continue ▶", id="next", variant="primary", disabled=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#steps", DataTable)
        for key in ("platform", "step", "name", "state", "time"):
            table.add_column(key, key=key)
        self.show_phases()
        self.set_interval(DRAIN_SECONDS, self.drain)
        self.set_interval(1.0, self.tick)
        self.app_cancel(set_it=True)
        # Everything alive now lives as long as the app; frozen, full collections skip it and
        # stay short while hundreds of thousands of events stream through.
        gc.freeze()
        self.run_release()

    def app_cancel(self, *, set_it: bool) -> None:
        """Let the App's quit confirmation stop this build."""
        if hasattr(self.app, "cancel_build"):
            self.app.cancel_build = self.cancel_event.set if set_it else None

    # -- the worker ----------------------------------------------------------------------------

    @work(thread=True, exit_on_error=False, group="release")
    def run_release(self) -> None:
        self.cancel_event.worker = get_current_worker()
        directory = self.log_dir or default_log_dir()
        directory.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S")
        path = directory / f"{self.plan.version.image_tag}-{stamp}.log"
        self.outcome.log_path = str(path)
        self.app.call_from_thread(self.show_log_path)

        inbox = self.inbox
        # Binary and buffered: one write per batch, a flush every FLUSH_SECONDS; while the worker
        # waits for the engine the drain flushes (buffered binary files are safe across threads;
        # text files are not).
        with path.open("wb", buffering=1 << 20) as log:
            self._log_file = log
            for event in self.services.release(self.plan, self.cancel_event, self.draft.split):
                self.heard = time.monotonic()
                if isinstance(event, LogBatch):
                    if event.lines:
                        log.write(("\n".join(event.lines) + "\n").encode(errors="replace"))
                    self.lines_queued += len(event.shown)
                elif isinstance(event, LogLine):
                    line = format_line(event)
                    log.write((line + "\n").encode(errors="replace"))
                    self.lines_queued += 1
                    inbox.append(line)  # already as shown: a plain str costs the drain least
                    continue
                elif not isinstance(event, _STEP_EVENTS):  # a step's own line is in its batch
                    text = format_event(event)
                    if text is not None:
                        log.write((text + "\n").encode(errors="replace"))
                now = self.heard
                if now - self._flushed >= FLUSH_SECONDS:
                    log.flush()
                    self._flushed, self._unflushed = now, False
                else:
                    self._unflushed = True
                inbox.append(event)
                while (len(inbox) > INBOX_MAX or self.lines_queued - self.lines_seen >
                       BACKLOG_LINES) and not self.done:
                    time.sleep(0.002)
        self.post_message(BuildDone())

    def worker_failed(self, worker: Any, error: BaseException) -> None:
        _, problem, valid = describe_error(error)
        self.outcome.error = problem + (f"; {valid}" if valid else "")
        self.outcome.failed_phase = self.outcome.failed_phase or "start"
        self.finish(ok=False)
        super().worker_failed(worker, error)

    def on_build_done(self, message: BuildDone) -> None:
        message.stop()
        self.settle()

    def settle(self) -> None:
        """Finish once the worker has ended and every queued event is on screen."""
        if self.inbox:
            self.drain()
            self.set_timer(DRAIN_SECONDS, self.settle)
            return
        self.finish(ok=self.outcome.ok)

    # -- draining ------------------------------------------------------------------------------

    def drain(self) -> None:
        """Apply queued events for at most one slice: one update per touched step row, the log
        panel written at most every PAINT_SECONDS in a flood (each write costs a frame). A
        backlog is picked up again right after, so keys are handled in between."""
        if self._unflushed and time.monotonic() - self._flushed >= FLUSH_SECONDS:
            self._unflushed = False  # the worker is waiting for the engine: flush for it
            with contextlib.suppress(ValueError):  # closed: the worker has finished it
                self._log_file.flush()
        inbox = self.inbox
        if not inbox:
            self.paint()
            return
        # Only the newest lines can reach the panel (see paint): older ones are only counted.
        lines = self._panel
        count = 0
        touched: dict[str, None] = {}  # insertion order: rows appear as steps start
        phases = False
        popleft = inbox.popleft
        deadline = time.perf_counter() + SLICE_SECONDS
        while inbox:
            for _ in range(min(len(inbox), 256)):
                event = popleft()
                if isinstance(event, LogBatch):
                    lines.extend(event.shown)
                    count += len(event.shown)
                elif isinstance(event, str):
                    lines.append(event)
                    count += 1
                elif isinstance(event, _STEP_EVENTS):
                    self._step(event)
                    touched[event.step] = None
                else:
                    more: list[str] = []
                    phases = self._other(event, more) or phases
                    lines.extend(more)
                    count += len(more)
            if time.perf_counter() > deadline:
                break
        self.lines_seen += count
        self._panel_count += count
        self.paint()
        if touched:
            self.show_steps(touched)
            if any(self.steps[key].state.startswith("failed") for key in touched):
                self.refresh_bindings()  # f3 "Full errors" now has something to show
        if phases:
            self.show_phases()
            self.show_activity()
        if inbox and not self._catching_up:
            # A short timer (not call_later) so the loop really yields: keys get through.
            self._catching_up = True
            self.set_timer(0.001, self._catch_up)

    def paint(self, *, now: bool = False) -> None:
        """Write the newest lines to the panel, in a flood only when it is time (or ``now``): a
        burst beyond LOG_BATCH lines is shown by its last lines and a count. While the panel is
        not full yet it takes as many as it has room for: each write that makes it longer costs
        the whole screen a layout pass."""
        lines = self._panel
        if not lines or not (now or self.done or self._panel_count <= BURST_LINES
                             or time.monotonic() - self._painted >= PAINT_SECONDS):
            return
        self.last_line = lines[-1]
        log = self.query_one("#build-log", Log)
        room = max(LOG_BATCH, LOG_CAP - log.line_count)
        shown = list(lines)[-room:]
        if self._panel_count > len(shown):
            skipped = self._panel_count - len(shown)
            shown.insert(0, f"… {skipped:,} more lines here are in the full log file")
        lines.clear()
        self._panel_count = 0
        self._painted = time.monotonic()
        log.write_lines(shown)

    def _catch_up(self) -> None:
        self._catching_up = False
        self.drain()

    def _step(self, event: StepStarted | StepFinished | StepFailed) -> None:
        row = self.steps.get(event.step)
        if isinstance(event, StepStarted) or row is None:
            row = StepRow(event.platform or "all", event.step, event.name)
            self.steps[event.step] = row
        if isinstance(event, StepFinished):
            row.state = "cached" if event.cached else "done"
            row.seconds = event.seconds
        elif isinstance(event, StepFailed):
            row.state = f"failed: {event.error}"
            row.seconds = event.seconds

    def _other(self, event: Event, lines: list[str]) -> bool:
        """Phase, digest, verify, alias and end events; True when the phase list changed.

        Their log text is the headless CLI's, so both front ends read the same."""

        text = format_event(event)
        if text is not None:
            lines.extend(text.splitlines())
        outcome = self.outcome
        if isinstance(event, PhaseStarted):
            self.phase_state[event.phase] = "running"
            return True
        if isinstance(event, PhaseFinished):
            self.phase_state[event.phase] = f"ok {event.seconds:.1f}s" if event.ok else "failed"
            self.query_one("#progress", ProgressBar).advance(1)
            return True
        if isinstance(event, VerifyReported):
            outcome.verify.append(event.report)
        elif isinstance(event, AliasMoved):
            outcome.moved.append(event)
        elif isinstance(event, AliasWithheld):
            outcome.withheld.append(event)
        elif isinstance(event, ReleaseFailed):
            outcome.failed_phase, outcome.error = event.phase, event.error
            outcome.registry_state = event.registry_state
            outcome.cancelled = self.cancel_event.is_set()
            self.phase_state[event.phase] = "failed"
            return True
        elif isinstance(event, ReleaseFinished):
            outcome.ok, outcome.report_path = event.ok, event.report_path
        return False

    # -- display -------------------------------------------------------------------------------

    def show_log_path(self) -> None:
        self.query_one("#log-path", Static).update(f"full log: {self.outcome.log_path}")

    def show_steps(self, touched: dict[str, None], *, redraw: bool = False) -> None:
        """Rows of the touched steps; a row already showing its state and time is left alone
        (a flood finishes the same steps over and over), and a column is only widened when the
        new text needs it (widening costs the table a measuring pass)."""
        table = self.query_one("#steps", DataTable)
        # The time column stays on screen at 80 columns: the name gives way (the log has it all).
        name_width = max(16, min(_NAME_WIDTH, self.size.width - 54))
        for key in touched:
            row = self.steps[key]
            seconds = "" if row.seconds is None else f"{row.seconds:.1f}s"
            drawn = (row.state, seconds)
            if row.drawn == drawn and not redraw:
                continue
            row.drawn = drawn
            cut = _cut(row.state, _STATE_WIDTH)
            state = Text(cut, style=tone("error") if row.state.startswith("failed") else
                         tone("success") if row.state in ("done", "cached") else
                         tone("warning") if row.state == "running" else "dim")
            if key in table.rows:
                columns = table.columns
                table.update_cell(key, "state", state,
                                  update_width=len(cut) > columns[_STATE].content_width)
                table.update_cell(key, "time", seconds,
                                  update_width=len(seconds) > columns[_TIME].content_width)
            else:
                table.add_row(row.platform, row.step, _cut(row.name, name_width), state, seconds,
                              key=key)

    def retone(self) -> None:
        self.show_phases()
        self.show_steps(dict.fromkeys(self.steps), redraw=True)

    def show_phases(self) -> None:
        text = Text()
        for number, phase in enumerate(self.phases):
            if number:
                text.append("\n")
            state = self.phase_state.get(phase, "")
            mark, style = ("·", "dim")
            if state == "running":
                mark, style = "▶", tone("warning")
            elif state.startswith("ok"):
                mark, style = "✔", tone("success")
            elif state == "failed":
                mark, style = "✘", tone("error", bold=True)
            text.append(f"{mark} {phase:<15}", style=style)
            text.append(state, style="dim")
        self.query_one("#phases", Static).update(text, layout=False)  # always len(PHASES) lines

    def tick(self) -> None:
        if self.done:
            return
        seconds = int(time.monotonic() - self.started)
        self.query_one("#elapsed", Static).update(f"elapsed {seconds // 60}:{seconds % 60:02d}",
                                                  layout=False)  # one line, always
        self.show_activity()

    def activity(self) -> str:
        """What the run is doing ("pushing linux/arm64"), and for how long it has been silent
        once that is long enough to matter: a hung push must not look like a slow build."""
        running = [phase for phase, state in self.phase_state.items() if state == "running"]
        if not running:
            return ""
        phase = running[-1]
        doing = _DOING.get(phase, phase)
        if phase == "build":
            rows = [row for row in self.steps.values() if row.state == "running"]
            row = rows[-1] if rows else None
            said = f"{row.name if row else ''} {self.last_line}".lower()
            if "push" in said or "upload" in said or "copying blob" in said:
                doing = "pushing"
            elif "exporting" in said:
                doing = "exporting"
            where = row.platform if row and row.platform != "all" else ", ".join(
                str(p) for p in self.plan.platforms)
            doing = f"{doing} {where}"
        quiet = int(time.monotonic() - self.heard)
        return f"{doing} — no progress for {quiet} s" if quiet >= QUIET_SECONDS else doing

    def show_activity(self) -> None:
        text = self.activity()
        quiet = "no progress" in text
        self.query_one("#activity", Static).update(
            Text(text, style=tone("warning", bold=True) if quiet else ""), layout=False)

    def finish(self, *, ok: bool) -> None:
        if self.done:
            return
        self.done = True
        self.app_cancel(set_it=False)
        self.outcome.seconds = round(time.monotonic() - self.started, 1)
        if self.outcome.cancelled or (self.cancel_event.is_set() and not ok):
            self.outcome.cancelled = True
            result = Text("Cancelled", style=tone("warning", bold=True))
        elif ok:
            result = Text("Release verified", style=tone("success", bold=True))
        else:
            result = Text(f"Failed in {self.outcome.failed_phase or '?'}",
                          style=tone("error", bold=True))
        self.query_one("#result", Static).update(result)
        self.query_one("#activity", Static).update("")
        self.paint(now=True)
        self.query_one("#build-log", Log).scroll_end(animate=False)  # the outcome lines
        self.close_open_steps("cancelled" if self.outcome.cancelled else "not finished")
        self.query_one("#cancel", Button).display = False
        self.refresh_bindings()  # "Cancel build" leaves the footer
        nxt = self.query_one("#next", Button)
        nxt.disabled = False
        nxt.focus()

    def close_open_steps(self, state: str) -> None:
        """Steps the run left without an end are not shown as still running."""
        open_steps = {key: None for key, row in self.steps.items() if row.state == "running"}
        for key in open_steps:
            self.steps[key].state = state
        if open_steps:
            self.show_steps(open_steps)

    # -- actions -------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return not self.done
        if action == "finish":
            return self.done
        return super().check_action(action, parameters)

    def full_errors(self) -> list[str]:
        found = [f"{row.platform} {row.step} {row.name}: {row.state.removeprefix('failed: ')}"
                 for row in self.steps.values() if row.state.startswith("failed")]
        if self.outcome.error:
            phase = self.outcome.failed_phase or "release"
            found.append(f"{phase}: {self.outcome.error}")
        return found

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "cancel":
            self.action_cancel()
        elif event.button.id == "next":
            self.action_finish()

    def action_cancel(self) -> None:
        if self.done or self.cancel_event.is_set():
            return

        def answered(yes: bool | None) -> None:
            if yes and not self.done:
                self.cancel_event.set()
                self.query_one("#result", Static).update(Text("cancelling…", style=tone("warning")))
                self.query_one("#cancel", Button).disabled = True

        self.app.push_screen(
            ConfirmModal("Stop the build? The engine process is stopped and no alias moves.",
                         yes="Stop build", no="Keep building"),
            answered,
        )

    def action_follow(self) -> None:
        log = self.query_one("#build-log", Log)
        log.auto_scroll = True
        log.scroll_end(animate=False)

    def action_finish(self) -> None:
        if self.done:
            self.dismiss(self.outcome)

    def commands(self) -> list[tuple[str, str, Any]]:
        return [("Cancel the build", "Stop the engine process (asks first)", self.action_cancel)]
