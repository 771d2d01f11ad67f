"""The interactive release assistant: one App running the wizard as a single coroutine.

``run_wizard`` pushes each step with ``push_screen_wait`` and reacts to what it returns (an updated
Draft, possibly asking for a dry run, or ``Nav.BACK``), so Back and Next are plain control flow.
"""

from __future__ import annotations

import asyncio
import importlib
import signal
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from core.errors import DockyardError
from tui.draft import Draft, Nav
from tui.keymap import apply_user_keymap
from tui.messages import OpenCredentials
from tui.services import Services
from tui.themes import THEMES
from tui.widgets import ConfirmModal, DockyardScreen, ErrorModal, StepScreen

if TYPE_CHECKING:
    from core.config import ProjectConfig
    from core.parts import Split

ASSETS = Path(__file__).resolve().parent.parent / "assets"
#: The wizard's styles; the modal styles every app shares come first, as they did in one file.
WIZARD_CSS: list[str | PurePath] = [ASSETS / "modal.tcss", ASSETS / "wizard.tcss"]
DARK, LIGHT = "dockyard-dark", "dockyard-light"


# The wizard steps as "module:Class", imported when first shown: start-up pays for one screen.
STEPS = (
    "screens.version:VersionScreen",
    "screens.images:ImagesScreen",
    "screens.platforms:PlatformsScreen",
    "screens.mode:ModeScreen",
    "screens.credentials_step:CredentialsStepScreen",
    "screens.review:ReviewScreen",
)


def step_screen(path: str) -> type[StepScreen]:
    module, name = path.split(":")
    screen: type[StepScreen] = getattr(importlib.import_module(module), name)
    return screen


class DockyardApp(App[int]):
    """The wizard from a version tag to a verified release; ``services`` are injectable."""

    TITLE = "dockyard"
    CSS_PATH: ClassVar[list[str | PurePath]] = WIZARD_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", priority=True, id="app.quit"),
        Binding("q", "quit", "Quit", show=False, id="app.quit_q"),
        Binding("f2", "toggle_theme", "Light/dark", id="app.toggle_theme"),
    ]

    def __init__(self, root: Path, services: Services | None = None, *,
                 stop_signals: bool = False, keymap_file: Path | None = None,
                 notices: Sequence[str] = (), split: Split | None = None) -> None:
        super().__init__()
        self.split = split  # `dockyard --part` / `--merge`: every draft carries it to Build
        self.notices = tuple(notices)  # shown on opening: what the launcher did before (demo)
        for theme in THEMES:
            self.register_theme(theme)
        self.keymap_file = keymap_file  # None: keymap.toml in the user's config directory
        self.root = root
        self.services = services or Services()
        self.stop_signals = stop_signals  # run_app: SIGTERM/SIGHUP cancel the build and quit
        self.draft: Draft | None = None
        # Set by the Build screen while a release runs: cancels it (really stops the engine).
        self.cancel_build: Callable[[], None] | None = None
        self.dry_run_text = ""  # printed to stdout by run_app once the screen is restored

    def on_mount(self) -> None:
        self.theme = DARK
        if self.stop_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGHUP):
                loop.add_signal_handler(sig, self.stop_on_signal, sig)
        self.use_keymap()
        self.call_after_refresh(self._show_notices)
        self.run_wizard()

    def _show_notices(self) -> None:
        """Notify once the first step is on screen: a toast raised while the first screen is
        still being pushed can land on neither screen (seen in a real terminal, 2 runs in 5)."""
        if len(self.screen_stack) < 2:
            self.call_after_refresh(self._show_notices)
            return
        for notice in self.notices:
            self.notify(notice, timeout=20)

    def stop_on_signal(self, signum: int) -> None:
        """SIGTERM (a CI runner, a service manager) or SIGHUP (the terminal closed): stop a
        running build as Cancel does (the release reports and cleans up), then quit with
        128 + the signal, without asking: nobody may be there to answer."""
        if self.cancel_build is not None:
            self.cancel_build()
        self.exit(128 + signum, return_code=128 + signum)

    def use_keymap(self) -> None:
        """The user's keymap.toml; a broken one is shown and the default keys kept."""
        problem = apply_user_keymap(self, self.keymap_file)
        if problem is not None:  # a toast: the first step is still to come and would cover a modal
            self.notify(f"{problem}. The default keys are used.", title="Your keymap",
                        severity="error", timeout=15)

    @property
    def build_running(self) -> bool:
        return self.cancel_build is not None

    @work(exclusive=True, group="wizard", exit_on_error=False)
    async def run_wizard(self) -> None:
        steps = STEPS
        # dockyard.toml is read while the Version step shows (it is needed from Images on), but
        # only after the first paint: its imports would otherwise compete with it for the GIL.
        reading: list[asyncio.Future[ProjectConfig]] = []

        def read_config() -> asyncio.Future[ProjectConfig]:
            if not reading:
                reading.append(asyncio.ensure_future(self._read_config()))
            return reading[0]

        self.call_after_refresh(read_config)
        draft = Draft(root=self.root, split=self.split)
        index = 0
        while True:
            while index < len(steps):
                self.draft = draft
                result = await self.push_screen_wait(step_screen(steps[index])(draft,
                                                                              self.services))
                if result is Nav.BACK:
                    index = max(0, index - 1)
                    continue
                assert isinstance(result, Draft)
                draft = result
                if draft.config is None:
                    draft = draft.with_config(await read_config())
                index += 1
                if draft.dry_run:
                    self.dry_run_text = self._dry_run_text(draft)
                    self.exit(0)
                    return
            assert draft.plan is not None
            # the last two steps load after the wizard, off the first paint
            from screens.build import BuildScreen
            from screens.summary import AGAIN, REVIEW, SummaryScreen

            outcome = await self.push_screen_wait(BuildScreen(draft, self.services))
            after = await self.push_screen_wait(SummaryScreen(draft, self.services, outcome))
            if after == REVIEW:
                index = len(steps) - 1
            elif after == AGAIN:
                # Another release from the same checkout: keep the choices, start at Version.
                draft = Draft.from_config(draft.root, draft.to_config())
                index = 0
            else:
                code = 0 if outcome.ok else 1
                self.exit(code, return_code=code)
                return

    async def _read_config(self) -> ProjectConfig:
        """dockyard.toml; a broken file is reported and the defaults used."""
        try:
            return await asyncio.to_thread(self.services.load_config, self.root)
        except DockyardError as err:
            self.push_screen(ErrorModal(err))
            from core.config import ProjectConfig  # semver: read after the first paint

            return ProjectConfig()

    @staticmethod
    def _dry_run_text(draft: Draft) -> str:
        from core.rendering import plan_text  # semver: only for a dry run

        assert draft.plan is not None
        return plan_text(draft.plan, draft.steps)

    def on_open_credentials(self, message: OpenCredentials) -> None:
        """A step asks for the credentials manager on one registry."""
        from screens.credentials import CredentialsScreen  # off the first paint

        message.stop()
        self.push_screen(CredentialsScreen(message.store, registry=message.registry),
                         message.done)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failure of the wizard itself is shown, not dumped as a traceback."""
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.push_screen(ErrorModal(event.worker.error))

    async def action_quit(self) -> None:
        """Quit at once, unless a build runs: then confirm, and stop the build first."""
        if not self.build_running:
            self.exit(0)
            return
        if isinstance(self.screen, ConfirmModal):
            return

        def answered(yes: bool | None) -> None:
            if yes and self.cancel_build is not None:
                self.cancel_build()
                self.exit(130, return_code=130)

        self.push_screen(
            ConfirmModal("A build is running. Stop it and quit?", yes="Stop and quit",
                         no="Keep going"),
            answered,
        )

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT if self.theme == DARK else DARK

    def watch_theme(self) -> None:
        """Text coloured in Python takes the new theme's colours too (CSS does on its own)."""
        for screen in self.screen_stack:
            if isinstance(screen, DockyardScreen):
                screen.retone()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Light/dark theme", "Switch between the light and dark theme",
                            self.action_toggle_theme)
        if isinstance(screen, StepScreen):
            yield SystemCommand("Next step", "Go on to the next step (ctrl+n)", screen.action_next)
            yield SystemCommand("Back", "Go back one step (escape)", screen.action_back)
            yield SystemCommand("Help", "What this screen does and its keys (?)",
                                screen.action_help)
            for title, help_text, callback in screen.commands():
                yield SystemCommand(title, help_text, callback)


def run_app(argv_root: Path | None = None, notices: Sequence[str] = (),
            split: Split | None = None) -> int:
    """Open the wizard on ``argv_root`` (default: the current directory); the exit code.
    ``notices`` are shown as notifications on opening (the terminal's own lines are hidden);
    ``split``: the wizard runs a leg of a split release or the merge of parts."""
    app = DockyardApp((argv_root or Path.cwd()).resolve(), stop_signals=True, notices=notices,
                      split=split)
    app.run()
    if app.dry_run_text:
        sys.stdout.write(app.dry_run_text)
    return app.return_code or 0
