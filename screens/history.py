"""An image's release history in the browser: ``dockyard history`` as a table, one version a row
with the aliases that point at it now, and the highlighted version in full below.

Newest first, unlike the command's oldest-first text (whose newest line ends where the terminal
prompt is): a maintainer asking "what is latest, what came just before" finds it on the first
rows without scrolling, and the cursor starts on the newest version, where a rollback or a
compare usually begins. The read (one HEAD per tag, one GET per distinct image) runs in a thread
worker through ``Services.history``; the screen never talks to the registry itself.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static
from textual.worker import Worker, WorkerState

import assets
from core.rendering import human_size, human_time, short_digest
from tui.table import Table
from tui.widgets import HelpModal, readable_error, show_status

if TYPE_CHECKING:
    from core.history import History, Run, Version
    from core.reference import ImageName
    from core.rollback import RollbackPlan, RollbackResult
    from tui.services import Services

#: The screens a row action opens, handed in by the app (screens never import each other):
#: the confirmation of a rollback plan, and the comparison of two versions (a, b).
Confirm = Callable[["RollbackPlan"], Screen[bool]]
Compare = Callable[[str, str], Screen[None]]

ASSETS = Path(assets.__file__).resolve().parent
MARK = "◆"  # the version marked as the other side of a compare
REVISION_CHARS = 12


class HistoryScreen(Screen[None]):
    """Every version tag of one image, newest first, with its aliases, image and local runs."""

    CSS_PATH = ASSETS / "history.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "point_aliases", "Point aliases here", id="history.rollback"),
        Binding("m", "mark", "Mark (compare)", id="history.mark"),
        Binding("c", "compare", "Compare with mark", id="history.compare"),
        Binding("r", "reload", "Reload", id="history.reload"),
        Binding("escape", "close", "Back", id="history.close"),
        Binding("q", "close", "Back", show=False, id="history.quit"),
        Binding("question_mark,f1", "help", "Help", id="history.help"),
    ]

    HELP = (
        "Every version tag the registry holds for this image, newest first: the aliases that "
        "point at it now (latest, 1.2, ...), its digest, platforms, size, creation time and git "
        "revision. Prereleases say 'pre'. Below the table: the highlighted version's platforms "
        "with their digests and sizes, the runs this machine's reports record for it (what "
        "moved from where to where) and any problem found reading it. Tags that are no version "
        "are listed in the status line. a points the highlighted version's aliases (its X.Y, X "
        "and latest) at it: the version is verified first and the moves are shown for "
        "confirmation; nothing is deleted, so rolling forward is the same key on the newer "
        "version. m marks the highlighted version (◆) as the other side of a compare; m on it "
        "again clears the mark; c compares the marked version with the highlighted one."
    )

    class Loaded(Message):
        """The worker's result for one load (``generation``), so a stale one is dropped."""

        def __init__(self, generation: int, history: History) -> None:
            super().__init__()
            self.generation = generation
            self.history = history

    class Planned(Message):
        """A rollback plan to confirm."""

        def __init__(self, plan: RollbackPlan) -> None:
            super().__init__()
            self.plan = plan

    class RolledBack(Message):
        def __init__(self, result: RollbackResult) -> None:
            super().__init__()
            self.result = result

    def __init__(self, image: ImageName, services: Services, *,
                 report_dir: Path | None = None, confirm: Confirm | None = None,
                 compare: Compare | None = None) -> None:
        super().__init__()
        self.image = image
        self.services = services
        self.report_dir = report_dir
        self._confirm = confirm
        self._compare = compare
        self._busy = False  # a rollback is being planned or run
        self._outcome: tuple[str, bool] | None = None  # the last rollback's (words, failed)
        self.history: History | None = None
        self.rows: list[Version] = []  # as shown: newest first
        self.marked: str | None = None  # the marked version's tag
        self.status = ""
        self._generation = 0
        self._worker: Worker[None] | None = None

    def compose(self) -> ComposeResult:
        yield Static(f"Release history — {self.image}", id="title")
        yield Table(id="versions", cursor_type="row", zebra_stripes=True)
        yield Static("", id="detail")
        yield Static("", id="status")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#versions", DataTable)
        table.add_column("Mark", key="mark")
        table.add_columns("Version", "Aliases", "Digest", "Platforms", "Size", "Created",
                          "Revision")
        self.action_reload()

    # ---- what the lead's row actions read ------------------------------------------------

    @property
    def selected_version(self) -> Version | None:
        """The highlighted version (what "point aliases here" would target)."""
        row = self.query_one("#versions", DataTable).cursor_row
        return self.rows[row] if self.rows and 0 <= row < len(self.rows) else None

    @property
    def marked_version(self) -> Version | None:
        """The version marked with ``m`` (the other side of "compare with...")."""
        return next((v for v in self.rows if v.version.image_tag == self.marked), None)

    # ---- actions ---------------------------------------------------------------------------

    def action_reload(self) -> None:
        self._generation += 1
        self.query_one("#versions", DataTable).loading = True
        self._set_status(f"reading the history of {self.image}…")
        self._worker = self._read(self._generation)

    def action_mark(self) -> None:
        selected = self.selected_version
        if selected is None:
            return
        tag = selected.version.image_tag
        self.marked = None if self.marked == tag else tag
        table = self.query_one("#versions", DataTable)
        for version in self.rows:
            mark = MARK if version.version.image_tag == self.marked else ""
            table.update_cell(version.version.image_tag, "mark", mark)
        self._render_status()
        self.refresh_bindings()

    def action_point_aliases(self) -> None:
        selected = self.selected_version
        if selected is None or self._busy:
            return
        self._busy = True
        self.refresh_bindings()
        tag = selected.version.image_tag
        self._set_status(f"verifying {self.image}:{tag} and reading its aliases…")
        self._plan_rollback(tag)

    def action_compare(self) -> None:
        selected, marked = self.selected_version, self.marked_version
        if self._compare is None or selected is None or marked is None:
            return
        self.app.push_screen(self._compare(marked.version.image_tag,
                                           selected.version.image_tag))

    def action_close(self) -> None:
        self.dismiss(None)

    def action_help(self) -> None:
        keys = [(b.binding.key_display or b.binding.key, b.binding.description)
                for b in self.active_bindings.values() if b.binding.description]
        self.app.push_screen(HelpModal("Release history — help", self.HELP,
                                       list(dict.fromkeys(keys))))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Marking needs a version to mark; a rollback a version and no other one under way;
        a compare a marked version other than the highlighted one."""
        if action == "mark":
            return bool(self.rows) or None
        if action == "point_aliases":  # hidden where the app offers no confirmation
            return self._confirm is not None and ((bool(self.rows) and not self._busy) or None)
        if action == "compare":
            selected, marked = self.selected_version, self.marked_version
            return self._compare is not None and ((selected is not None and marked is not None
                                                   and marked is not selected) or None)
        return True

    # ---- the worker ------------------------------------------------------------------------

    @work(thread=True, exit_on_error=False, exclusive=True, group="history",
          description="read history")
    def _read(self, generation: int) -> None:
        self.post_message(self.Loaded(generation, self.services.history(self.image,
                                                                          self.report_dir)))

    @work(thread=True, exit_on_error=False, group="rollback", description="plan rollback")
    def _plan_rollback(self, tag: str) -> None:
        self.post_message(self.Planned(self.services.plan_rollback(self.image, tag)))

    @work(thread=True, exit_on_error=False, group="rollback", description="rollback")
    def _rollback(self, plan: RollbackPlan) -> None:
        self.post_message(self.RolledBack(self.services.rollback(plan,
                                                                 report_dir=self.report_dir)))

    def on_history_screen_planned(self, message: Planned) -> None:
        plan = message.plan
        assert self._confirm is not None

        def answered(confirmed: bool | None) -> None:
            if confirmed and not plan.nothing_to_do:
                self._set_status(f"moving {len(plan.pending)} alias(es) to "
                                 f"{plan.version.image_tag}…")
                self._rollback(plan)
                return
            self._busy = False
            self.refresh_bindings()
            self._outcome = ("nothing moved", False)
            self._render_status()

        self.app.push_screen(self._confirm(plan), answered)

    def on_history_screen_rolled_back(self, message: RolledBack) -> None:
        result = message.result
        self._busy = False
        where = f"; report {result.report}" if result.report else ""
        target = result.plan.version.image_tag
        if result.ok:
            self._outcome = (f"moved {', '.join(result.moved) or 'nothing'} to {target}{where}",
                             False)
        else:
            moved = f" (moved before it stopped: {', '.join(result.moved)})" if result.moved else ""
            self._outcome = (f"rollback to {target} failed: {result.error}{moved}{where}", True)
        self.action_reload()  # the registry read again: the aliases as they are now

    def on_history_screen_loaded(self, message: Loaded) -> None:
        if message.generation != self._generation:
            return
        table = self.query_one("#versions", DataTable)
        keep = self.selected_version
        self.history = message.history
        self.rows = list(reversed(message.history.versions))
        if self.marked_version is None:
            self.marked = None
        table.loading = False
        table.clear()
        for version in self.rows:
            table.add_row(*self._cells(version), key=version.version.image_tag)
        tags = [v.version.image_tag for v in self.rows]
        if keep is not None and keep.version.image_tag in tags:
            table.move_cursor(row=tags.index(keep.version.image_tag))
        elif self.rows:
            table.move_cursor(row=0)
        self._render_detail()
        self._render_status()
        self.refresh_bindings()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR or event.worker.error is None:
            return
        if event.worker is self._worker:
            self.query_one("#versions", DataTable).loading = False
        elif event.worker.group == "rollback":  # refused (a target failing verification...)
            self._busy = False
            self.refresh_bindings()
        else:
            return
        self._set_status(readable_error(event.worker.error), error=True)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._render_detail()
        self.refresh_bindings()  # compare needs a highlighted version other than the mark

    # ---- what is shown ---------------------------------------------------------------------

    def _cells(self, version: Version) -> tuple[str | Text, ...]:
        tag = version.version.image_tag
        shown = Text(tag)
        if version.version.prerelease:
            shown.append(" pre", style="italic")
        platforms = ", ".join(p.platform for p in version.platforms)
        if version.problems:
            platforms = f"⚠ {platforms}" if platforms else f"⚠ {version.problems[0]}"
        return (MARK if tag == self.marked else "", shown, _aliases(version),
                short_digest(version.digest), platforms,
                human_size(sum(p.size for p in version.platforms)) if version.platforms else "—",
                human_time(version.created),
                version.revision[:REVISION_CHARS] if version.revision else "—")

    def _render_detail(self) -> None:
        widget = self.query_one("#detail", Static)
        version = self.selected_version
        if version is None:
            widget.update("")
            return
        text = Text()
        text.append(f"{self.image}:{version.version.image_tag}", style="bold")
        if version.version.prerelease:
            text.append("  prerelease", style="italic")
        if version.aliases:
            text.append(f"  ← {_aliases(version)}")
        text.append(f"\n{version.digest}  revision {version.revision or '—'}")
        for platform in version.platforms:
            text.append(f"\n  {platform.platform:<16} {platform.digest}  "
                        f"{human_size(platform.size):>9}  created {human_time(platform.created)}")
        names = self._names()
        if version.runs:
            text.append("\nruns recorded on this machine:")
        for run in version.runs:
            text.append(f"\n  {_run_line(run, names)}")
        for problem in version.problems:
            text.append(f"\n  ⚠ {problem}")
        widget.update(text)

    def _names(self) -> dict[str, str]:
        """Digest → the highest version naming it, so a move reads "1.1.0 → 1.1.1"."""
        return {v.digest: v.version.image_tag for v in reversed(self.rows)}

    def _render_status(self) -> None:
        if self.history is None:
            return
        count = len(self.rows)
        text = (f"{count} version{'s' if count != 1 else ''} in {self.image}" if count
                else f"no version tags in {self.image}")
        if self.history.other_tags:
            text += f"; other tags: {', '.join(self.history.other_tags)}"
        if self.marked:
            text += f"; marked {self.marked}"
        if self._outcome is not None:
            words, failed = self._outcome
            self._set_status(f"{words} — {text}", error=failed)
            return
        self._set_status(text)

    def _set_status(self, text: str, *, error: bool = False) -> None:
        self.status = text
        show_status(self.query_one("#status", Static), text, error=error)


def _aliases(version: Version) -> str:
    """``latest`` first (what most pulls ask for), then the series, narrowest last."""
    return ", ".join(sorted(version.aliases, key=lambda alias: alias != "latest"))


def _run_line(run: Run, names: dict[str, str]) -> str:
    """``release 2026-11-22 09:41 UTC ok from /src/app (commit 0123456789ab): moved 1.1 1.1.0 →
    1.1.1``; a digest no version names now is shown short."""
    def name(digest: str | None, absent: str) -> str:
        return names.get(digest, short_digest(digest)) if digest else absent

    line = f"{run.mode or 'run'} {human_time(run.started)} {'ok' if run.ok else 'failed'}"
    if run.checkout:
        line += f" from {run.checkout}"
    if run.commit:
        line += f" (commit {run.commit[:REVISION_CHARS]})"
    moves = ", ".join(f"{alias} {name(was, 'new')} → {name(to, '—')}"
                      for alias, was, to in run.moved)
    return f"{line}: moved {moves or 'nothing'}"
