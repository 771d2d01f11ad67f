"""Step 6, Review: core validates the whole draft into a Plan and renders the exact commands.

Nothing is pushed from here: Next starts the build, "Dry run" prints the plan and exits, and the
choices are written to dockyard.toml only when the box is ticked.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Button, Checkbox, Static

from tui.draft import Draft
from tui.themes import tone
from tui.widgets import StepScreen

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tui.services import Services


class PlanReady(Message):
    """The plan made from the draft, and its text with the exact commands."""

    def __init__(self, draft: Draft, text: str) -> None:
        super().__init__()
        self.draft = draft
        self.text = text


class ChoicesSaved(Message):
    """dockyard.toml is written; the wizard goes on with ``draft``."""

    def __init__(self, draft: Draft, path: Path) -> None:
        super().__init__()
        self.draft = draft
        self.path = path


class ReviewScreen(StepScreen):
    STEP = "Review"
    AUTO_FOCUS = ""  # Build & push is focused once the plan is valid
    HELP = (
        "The whole plan as core validated it, and the exact commands the engine will run. "
        "Build & push runs it: the version tag is pushed and verified before any alias moves. "
        "Dry run prints this plan to the terminal and exits without changing anything."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "dry_run", "Dry run & exit", id="review.dry_run"),
    ]

    def __init__(self, draft: Draft, services: Services) -> None:
        super().__init__(draft, services)
        self.plan_draft: Draft | None = None
        self.text = ""

    def compose_body(self) -> ComposeResult:
        yield Static(Text("validating the plan…", style="dim"), id="plan")
        yield Checkbox("Remember these choices in dockyard.toml (commit it afterwards)",
                       self.draft.save_config,
                       id="save")

    def compose_actions(self) -> ComposeResult:
        yield Button("Dry run & exit", id="dry-run", disabled=True)

    def on_mount(self) -> None:
        split = self.draft.split
        self.query_one("#next", Button).label = (
            "Merge & publish ▶" if split and split.parts
            else "Build & push part ▶" if split else "Build & push ▶")
        self.query_one("#next", Button).disabled = True
        self.make_plan()

    def commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        return [("Dry run", "Print the plan and the commands, then exit", self.action_dry_run)]

    @work(thread=True, exit_on_error=False, exclusive=True, group="plan")
    def make_plan(self) -> None:
        from core.rendering import plan_text  # semver, and the engines (httpx) to run

        plan = self.services.make_plan(self.draft.to_request())
        split = self.draft.split
        steps = [] if split and split.parts else self.services.plan_steps(plan)
        header = ""
        if split:  # a leg of a split release, or the merge of the legs' parts
            split = split.for_plan(plan, Path.cwd())
            steps = split.steps(plan, steps)
            header = "\n".join(split.describe(plan)) + "\n\n"
        draft = dataclasses.replace(self.draft, plan=plan, split=split,
                                    steps=tuple(tuple(step) for step in steps))
        self.post_message(PlanReady(draft, header + plan_text(plan, steps)))

    @work(thread=True, exit_on_error=False, exclusive=True, group="save")
    def save_choices(self, draft: Draft) -> None:
        path = self.services.save_config(draft.root, draft.to_config())
        self.post_message(ChoicesSaved(draft, path))

    def worker_failed(self, worker: Any, error: BaseException) -> None:
        if worker.group == "plan":
            text = Text("The plan is not valid yet:\n", style=tone("error", bold=True))
            text.append(str(error))
            text.append("\nGo back (escape) and fix it.", style=tone("warning"))
            self.query_one("#plan", Static).update(text)
        super().worker_failed(worker, error)

    def on_plan_ready(self, message: PlanReady) -> None:
        message.stop()
        self.plan_draft, self.text = message.draft, message.text
        self.query_one("#plan", Static).update(self.text)
        self.query_one("#next", Button).disabled = False
        self.query_one("#dry-run", Button).disabled = False
        if self.focused is None:
            self.query_one("#next", Button).focus()

    def on_choices_saved(self, message: ChoicesSaved) -> None:
        message.stop()
        self.notify(f"Saved {message.path.name}", title="Review")
        self.dismiss(message.draft)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "dry-run":
            event.stop()
            self.action_dry_run()
        else:
            super().on_button_pressed(event)

    def action_dry_run(self) -> None:
        if self.plan_draft is not None:
            self.dismiss(dataclasses.replace(self.plan_draft, dry_run=True))

    def next_draft(self) -> Draft | None:
        if self.plan_draft is None:
            return None
        save = self.query_one("#save", Checkbox).value
        draft = dataclasses.replace(self.plan_draft, save_config=save)
        if save and draft.to_config() != draft.config:
            self.query_one("#next", Button).disabled = True
            self.save_choices(draft)
            return None  # dismissed once dockyard.toml is written
        return draft
