"""Step 4, Build mode: build in the Dockerfile, or copy prebuilt binaries (checked per platform).

Copy mode shows ``core.binaries.check_binaries``: for each platform the binary path, whether it
exists, its ELF machine and linking, mismatches shown as errors. Build mode offers cache and
attestations.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import (
    Button,
    Checkbox,
    DataTable,
    Input,
    Label,
    RadioButton,
    RadioSet,
    Static,
)

from core.errors import DockyardError
from core.platforms import parse_platforms
from tui.draft import Draft
from tui.table import Table
from tui.themes import tone
from tui.widgets import StepScreen

if TYPE_CHECKING:
    from collections.abc import Callable

    from core.binaries import BinaryCheck
    from core.staging import CopyPreflight
    from tui.services import Services


class DockerfileFound(Message):
    """Whether the Dockerfile named exists ("Create a Dockerfile" is offered when not)."""

    def __init__(self, exists: bool) -> None:
        super().__init__()
        self.exists = exists


class InitDone(Message):
    """What ``dockyard init`` wrote, or why it refused and whether a second press may replace."""

    def __init__(self, done: str | None, problem: str | None, replaceable: bool) -> None:
        super().__init__()
        self.done = done
        self.problem = problem
        self.replaceable = replaceable


class CopyChecked(Message):
    """Copy mode's preflight: the binaries and the Dockerfile's COPY lines."""

    def __init__(self, preflight: CopyPreflight) -> None:
        super().__init__()
        self.preflight = preflight


def _text(value: str) -> str | None:
    return value.strip() or None


class ModeScreen(StepScreen):
    STEP = "Mode"
    AUTO_FOCUS = "#mode"
    HELP = (
        "Build mode runs the Dockerfile for each platform (RUN steps of foreign platforms are "
        "emulated). Copy mode puts a prebuilt binary per platform into the image: give the path "
        "template ({arch}, {os}, {variant}, {triple}); each binary's ELF machine must match its "
        "platform, and the Dockerfile must COPY by TARGETARCH."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "check", "Check again", id="mode.check"),
    ]

    def __init__(self, draft: Draft, services: Services) -> None:
        super().__init__(draft, services)
        self.checks: list[BinaryCheck] | None = None
        self.check_problem: str = ""
        self.dockerfile_problem: str | None = None
        self._debounce: Timer | None = None
        self._checked: tuple[str, str, str] | None = None  # what the last check was for
        self._confirm_init = False  # a second press replaces what init would overwrite

    def compose_body(self) -> ComposeResult:
        draft = self.draft
        yield Static(Text("Mode", style="bold"), classes="section")
        with RadioSet(id="mode"):
            yield RadioButton("build — the Dockerfile compiles the program", draft.mode == "build",
                              id="mode-build")
            yield RadioButton("copy — prebuilt binaries, one per platform", draft.mode == "copy",
                              id="mode-copy")
        with Horizontal(classes="row"):
            yield Label("Dockerfile")
            yield Input(draft.dockerfile or "", placeholder="Dockerfile", id="dockerfile")
        with Horizontal(classes="row"):
            yield Label("Context")
            yield Input(draft.context or "", placeholder=".", id="context")
        with Horizontal(id="init-box", classes="row"):
            yield Label("")
            yield Button("Create a Dockerfile", id="create-dockerfile")
        with Vertical(id="copy-box", classes="row"):
            with Horizontal(classes="row"):
                yield Label("Binary template")
                yield Input(draft.binary or "", placeholder="dist/{arch}/app", id="binary")
            yield Table(id="binaries", cursor_type="row")
            yield Static("", id="copy-problems")
        with Vertical(id="build-box", classes="row"):
            with Horizontal(classes="row"):
                yield Label("Cache from")
                yield Input(draft.cache_from or "", placeholder="ghcr.io/acme/app-cache",
                            id="cache-from")
            with Horizontal(classes="row"):
                yield Label("Cache to")
                yield Input(draft.cache_to or "", placeholder="ghcr.io/acme/app-cache",
                            id="cache-to")
            with Horizontal(classes="row"):
                yield Label("Target stage")
                yield Input(draft.target or "", placeholder="(last stage)", id="target")
            yield Checkbox("Provenance attestation", draft.provenance, id="provenance")
            yield Checkbox("SBOM attestation (buildx only)", draft.sbom, id="sbom")

    def on_mount(self) -> None:
        self.query_one("#binaries", DataTable).add_columns(
            "platform", "binary", "found", "ELF machine", "linking", "problem")
        self.query_one("#init-box").display = False
        self.show_mode()
        self.look_for_dockerfile(self._dockerfile())

    def _dockerfile(self) -> str:
        return _text(self.query_one("#dockerfile", Input).value) or "Dockerfile"

    @on(Input.Changed, "#dockerfile")
    def dockerfile_changed(self) -> None:
        self._confirm_init = False
        self.look_for_dockerfile(self._dockerfile())

    @work(thread=True, exit_on_error=False, exclusive=True, group="dockerfile")
    def look_for_dockerfile(self, dockerfile: str) -> None:
        """"Create a Dockerfile" is offered only when there is none."""
        self.post_message(DockerfileFound((self.draft.root / dockerfile).exists()))

    @on(Button.Pressed, "#create-dockerfile")
    def create_pressed(self) -> None:
        binary = _text(self.query_one("#binary", Input).value) if self.mode == "copy" else None
        self.create_dockerfile(self.mode, binary, self._dockerfile(), self._confirm_init)

    @work(thread=True, exit_on_error=False, exclusive=True, group="init")
    def create_dockerfile(self, mode: str, binary: str | None, dockerfile: str,
                          force: bool) -> None:
        """``dockyard init`` for this project; a refusal (it would replace something) is data."""
        try:
            plan = self.services.init_project(self.draft.root, mode, binary, dockerfile, force)
        except DockyardError as err:
            replaceable = "--force" in err.valid  # it would overwrite: ask, then replace
            self.post_message(InitDone(None, str(err), replaceable))
            return
        self.post_message(InitDone(f"Wrote {dockerfile}: {plan.summary()}", None, False))

    def commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        return [("Check binaries again", "Re-read the binaries of copy mode", self.action_check)]

    @property
    def mode(self) -> str:
        return "copy" if self.query_one("#mode-copy", RadioButton).value else "build"

    @on(RadioSet.Changed, "#mode")
    def mode_changed(self) -> None:
        self.show_mode()

    def show_mode(self) -> None:
        copy = self.mode == "copy"
        self.query_one("#copy-box").display = copy
        self.query_one("#build-box").display = not copy
        if copy:
            self.check_now()

    @on(Input.Changed, "#binary, #dockerfile, #context")
    def paths_changed(self) -> None:
        if self.mode != "copy":
            return
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(0.3, self.check_now)

    def action_check(self) -> None:
        """Check the binaries again (ctrl+r re-reads the files even when nothing was edited)."""
        self.check_now(force=True)

    def check_now(self, *, force: bool = False) -> None:
        if self.mode != "copy":
            return
        args = (
            self.query_one("#binary", Input).value.strip(),
            _text(self.query_one("#dockerfile", Input).value) or "Dockerfile",
            _text(self.query_one("#context", Input).value) or ".",
        )
        if not force and args == self._checked:
            return
        self._checked = args
        self.checks = None
        self.query_one("#copy-problems", Static).update(Text("checking…", style="dim"))
        self.check_copy(*args)

    @work(thread=True, exit_on_error=False, exclusive=True, group="binaries")
    def check_copy(self, template: str, dockerfile: str, context: str) -> None:
        """Binary checks and the Dockerfile's COPY-by-TARGETARCH check; problems are data here."""
        root = self.draft.root
        self.post_message(CopyChecked(self.services.preflight_copy(
            template, root / dockerfile, root / context, parse_platforms(self.draft.platforms))))

    def on_dockerfile_found(self, message: DockerfileFound) -> None:
        message.stop()
        self.query_one("#init-box").display = not message.exists or self._confirm_init

    def on_init_done(self, message: InitDone) -> None:
        message.stop()
        self.init_done(message.done, message.problem, message.replaceable)

    def on_copy_checked(self, message: CopyChecked) -> None:
        message.stop()
        preflight = message.preflight
        self.checks = list(preflight.checks)
        self.check_problem = preflight.problem
        self.dockerfile_problem = preflight.dockerfile_problem
        self.show_checks()

    def init_done(self, done: str | None, problem: str | None, replaceable: bool) -> None:
        button = self.query_one("#create-dockerfile", Button)
        if problem is not None:
            # the one confirmation: the next press replaces what init refused to overwrite
            self._confirm_init = replaceable
            if replaceable:
                button.label = "Replace (press again to confirm)"
            self.notify(problem, title="Create a Dockerfile",
                        severity="warning" if replaceable else "error")
            return
        self._confirm_init = False
        button.label = "Create a Dockerfile"
        self.notify(done or "", title="Create a Dockerfile")
        self.look_for_dockerfile(self._dockerfile())
        self.check_now(force=True)

    def retone(self) -> None:
        if self.checks is not None:
            self.show_checks()

    def show_checks(self) -> None:
        table = self.query_one("#binaries", DataTable)
        table.clear()
        root = self.draft.root
        for check in self.checks or []:
            style = "" if check.ok else tone("error")
            elf = check.elf
            table.add_row(
                Text(str(check.platform), style=style),
                relative(check.path, root),
                Text("found" if check.found else "missing",
                     style=tone("success") if check.found else tone("error")),
                Text(elf.machine if elf else "—", style=style),
                (("static" if elf.static else f"dynamic ({elf.interpreter or '?'})")
                 if elf else "—"),
                Text(check.problem, style=tone("error")) if not check.ok
                else Text("ok", style=tone("success")),
            )
        lines = [p for p in (self.check_problem, self.dockerfile_problem) if p]
        self.query_one("#copy-problems", Static).update(Text("\n".join(lines), style=tone("error")))
        self.refresh_bindings()

    def full_errors(self) -> list[str]:
        root = self.draft.root
        found = [f"{check.platform} {relative(check.path, root)}: {check.problem}"
                 for check in self.checks or [] if not check.ok]
        return found + [p for p in (self.check_problem, self.dockerfile_problem) if p]

    def next_draft(self) -> Draft | None:
        mode = self.mode
        if mode == "copy":
            if self.checks is None:
                self.notify("Still checking the binaries", title="Mode")
                return None
            bad = [str(c.platform) for c in self.checks if not c.ok]
            problems = [p for p in (self.check_problem, self.dockerfile_problem) if p]
            if bad or problems or not self.checks:
                detail = "; ".join(problems) or f"binaries not usable for {', '.join(bad)}"
                self.notify(detail, title="Copy mode", severity="error")
                return None
        return dataclasses.replace(
            self.draft,
            mode=mode,
            binary=_text(self.query_one("#binary", Input).value) if mode == "copy"
            else self.draft.binary,
            dockerfile=_text(self.query_one("#dockerfile", Input).value),
            context=_text(self.query_one("#context", Input).value),
            cache_from=_text(self.query_one("#cache-from", Input).value),
            cache_to=_text(self.query_one("#cache-to", Input).value),
            target=_text(self.query_one("#target", Input).value),
            provenance=self.query_one("#provenance", Checkbox).value,
            sbom=self.query_one("#sbom", Checkbox).value,
        )


def relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
