"""Step 1, Version: which tag to release, and whether the repo is fit to release it.

Every rule comes from ``ProjectRepo.check_release``; this screen only shows the results and offers
to cut (and push) the next tag computed by ``core.version.next_version``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Button, Checkbox, RadioButton, RadioSet, Static

from core.errors import DockyardError
from tui.draft import Draft
from tui.themes import tone
from tui.widgets import ConfirmModal, StepScreen, describe_error, status_line

if TYPE_CHECKING:
    from collections.abc import Callable

    from textual.worker import Worker

    from core.repo import RuleResult
    from core.version import ReleaseVersion
    from tui.services import Services

_SHOWN_TAGS = 6


@dataclass(frozen=True)
class Candidate:
    """A tag the user may release: one already on HEAD, or a proposed next version."""

    version: ReleaseVersion
    label: str
    exists: bool


@dataclass(frozen=True)
class RepoState:
    root: str
    commit: str
    short: str
    remote: str | None
    tags: tuple[ReleaseVersion, ...]
    at_head: tuple[str, ...]
    dirty: tuple[str, ...]
    candidates: tuple[Candidate, ...]


class RepoRead(Message):
    """The repository's state; ``prefer`` is the tag to select (one just cut), if any."""

    def __init__(self, state: RepoState, prefer: str | None) -> None:
        super().__init__()
        self.state = state
        self.prefer = prefer


class RulesChecked(Message):
    """The release rules' results for one tag."""

    def __init__(self, tag: str, rules: list[RuleResult]) -> None:
        super().__init__()
        self.tag = tag
        self.rules = rules


class TagCut(Message):
    """The tag now exists (and is pushed when asked)."""

    def __init__(self, tag: str) -> None:
        super().__init__()
        self.tag = tag


def candidates_for(tags: list[ReleaseVersion], at_head: list[str]) -> list[Candidate]:
    """Tags on HEAD first, then the next patch/minor/major/prerelease not already taken.

    A HEAD already released gets no second release proposed: ``refuse_second_release`` is the
    rule ``dockyard tag`` and the Cut button both obey.
    """
    # semver and GitPython's module: the first step paints before they load
    from core.repo import refuse_second_release
    from core.version import BUMPS, latest_release, next_version, parse_version

    found: list[Candidate] = []
    for name in at_head:
        try:
            found.append(Candidate(parse_version(name), "tag on HEAD", True))
        except DockyardError:
            continue
    newest = latest_release(tags, include_prereleases=True)
    prefix = "" if newest is not None and not newest.git_tag.startswith("v") else "v"
    taken = {tag.git_tag for tag in tags} | {c.version.git_tag for c in found}
    for bump in BUMPS:
        proposed = next_version(newest, bump, prefix=prefix)
        try:
            refuse_second_release(at_head, proposed)
        except DockyardError:
            continue
        if proposed.git_tag not in taken:
            taken.add(proposed.git_tag)
            found.append(Candidate(proposed, f"next {'prerelease' if bump == 'pre' else bump}",
                                   False))
    return found


class VersionScreen(StepScreen):
    STEP = "Version"
    AUTO_FOCUS = "#candidates"
    HELP = (
        "Pick the release tag. A version tag already on HEAD is offered first; otherwise pick the "
        "next patch, minor, major or prerelease and cut it (an annotated tag at HEAD, pushed to "
        "the remote when ticked). Each release rule is shown with its fix; Next is enabled once "
        "every rule passes."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "cut", "Cut/push tag", id="version.cut"),
        Binding("r", "reload", "Reload", id="version.reload"),
    ]

    def __init__(self, draft: Draft, services: Services) -> None:
        super().__init__(draft, services)
        self.state: RepoState | None = None
        self.selected: Candidate | None = None
        self.rules: list[RuleResult] = []

    def compose_body(self) -> ComposeResult:
        yield Static("Reading the repository…", id="repo-info")
        yield Static(Text("Release tag", style="bold"), classes="section")
        yield RadioSet(id="candidates")
        yield Checkbox("Push the tag to the remote after cutting it", True, id="push")
        yield Static(Text("Release rules", style="bold"), classes="section")
        yield Static("", id="rules")

    def compose_actions(self) -> ComposeResult:
        yield Button("Cut tag", id="cut", variant="warning", disabled=True)

    def on_mount(self) -> None:
        self.query_one("#back", Button).disabled = True
        self.query_one("#next", Button).disabled = True
        self.query_one("#push", Checkbox).display = False
        # After the first paint: importing GitPython in the worker would otherwise slow it.
        self.call_after_refresh(self.load_repo,
                                self.draft.version.git_tag if self.draft.version else None)

    def commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        return [
            ("Cut or push the release tag", "Create the selected tag at HEAD (and push it)",
             self.action_cut),
            ("Reload repository", "Read tags and rules again", self.action_reload),
        ]

    # -- workers -------------------------------------------------------------------------------

    @work(thread=True, exit_on_error=False, exclusive=True, group="repo")
    def load_repo(self, prefer: str | None) -> None:
        repo = self.services.open_repo(self.draft.root)
        tags = repo.version_tags()
        at_head = repo.tags_at_head()
        state = RepoState(
            root=str(repo.root),
            commit=repo.head_commit(),
            short=repo.short_commit(),
            remote=repo.remote_name(),
            tags=tuple(tags),
            at_head=tuple(at_head),
            dirty=tuple(repo.dirty_paths()),
            candidates=tuple(candidates_for(tags, at_head)),
        )
        self.post_message(RepoRead(state, prefer))

    @work(thread=True, exit_on_error=False, exclusive=True, group="rules")
    def check_rules(self, tag: str) -> None:
        repo = self.services.open_repo(self.draft.root)
        self.post_message(RulesChecked(tag, list(repo.check_release(tag))))

    @work(thread=True, exit_on_error=False, exclusive=True, group="repo")
    def cut_and_push(self, candidate: Candidate, push: bool, remote: str | None) -> None:
        repo = self.services.open_repo(self.draft.root)
        if not candidate.exists:
            repo.cut_tag(candidate.version, f"Release {candidate.version.text}")
        if push and remote is not None:
            repo.push_tag(candidate.version.git_tag, remote)
        self.post_message(TagCut(candidate.version.git_tag))

    def worker_failed(self, worker: Worker[object], error: BaseException) -> None:
        """A repo that cannot be read says so where "Reading the repository…" stood."""
        if worker.group == "repo" and self.state is None:
            _, problem, valid = describe_error(error)
            text = Text()
            text.append_text(status_line(False, "repository", problem, valid))
            text.append("\nr reads it again", style="dim")
            self.query_one("#repo-info", Static).update(text)
        super().worker_failed(worker, error)

    # -- results -------------------------------------------------------------------------------

    async def on_repo_read(self, message: RepoRead) -> None:
        message.stop()
        await self.show_repo(message.state, message.prefer)

    def on_rules_checked(self, message: RulesChecked) -> None:
        message.stop()
        if self.selected is not None and message.tag == self.selected.version.git_tag:
            self.rules = message.rules
            self.show_rules()

    def on_tag_cut(self, message: TagCut) -> None:
        message.stop()
        self.notify(f"Tag {message.tag} is ready", title="Version")
        self.load_repo(message.tag)

    async def show_repo(self, state: RepoState, prefer: str | None) -> None:
        self.state = state
        info = Text()
        info.append("Project  ", style="bold")
        info.append(f"{state.root}\n")
        info.append("HEAD     ", style="bold")
        info.append(f"{state.short}")
        info.append(f"   remote: {state.remote or 'none'}\n")
        newest = sorted(state.tags, reverse=True)[:_SHOWN_TAGS]
        info.append("Latest   ", style="bold")
        info.append(", ".join(t.git_tag for t in newest) or "no version tags yet")
        info.append("\nOn HEAD  ", style="bold")
        info.append(", ".join(state.at_head) or "no tag")
        if state.dirty:
            info.append(f"\nChanged  {', '.join(state.dirty[:5])}", style=tone("warning"))
        self.query_one("#repo-info", Static).update(info)
        push = self.query_one("#push", Checkbox)
        push.display = state.remote is not None
        push.label = f"Push the tag to {state.remote} after cutting it"
        radios = self.query_one("#candidates", RadioSet)
        await radios.remove_children()
        chosen = 0
        buttons = []
        for index, candidate in enumerate(state.candidates):
            label = f"{candidate.version.git_tag:<16} {candidate.label}"
            if prefer == candidate.version.git_tag:
                chosen = index
            buttons.append(RadioButton(label, id=f"candidate-{index}"))
        await radios.mount(*buttons)
        if buttons:
            buttons[chosen].value = True
            self.select(state.candidates[chosen])

    def select(self, candidate: Candidate) -> None:
        self.selected = candidate
        self.rules = []
        self.query_one("#rules", Static).update(Text("checking…", style="dim"))
        self.refresh_buttons()
        self.check_rules(candidate.version.git_tag)

    @on(RadioSet.Changed, "#candidates")
    def candidate_changed(self, event: RadioSet.Changed) -> None:
        if self.state is None or event.pressed.id is None:
            return
        index = int(event.pressed.id.rsplit("-", 1)[1])
        self.select(self.state.candidates[index])

    def retone(self) -> None:
        if self.rules:
            self.show_rules()

    def show_rules(self) -> None:
        text = Text()
        for number, rule in enumerate(self.rules):
            if number:
                text.append("\n")
            text.append_text(status_line(rule.ok, rule.rule, rule.message, rule.fix))
        self.query_one("#rules", Static).update(text)
        self.refresh_buttons()

    def refresh_buttons(self) -> None:
        candidate = self.selected
        ok = bool(self.rules) and all(rule.ok for rule in self.rules)
        self.query_one("#next", Button).disabled = not (candidate and candidate.exists and ok)
        cut = self.query_one("#cut", Button)
        if candidate is None:
            cut.disabled = True
        elif not candidate.exists:
            cut.label, cut.disabled = f"Cut {candidate.version.git_tag}", False
        else:
            unpushed = any(rule.rule == "pushed" and not rule.ok for rule in self.rules)
            cut.label, cut.disabled = f"Push {candidate.version.git_tag}", not unpushed

    # -- actions -------------------------------------------------------------------------------

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cut":
            event.stop()
            self.action_cut()
        else:
            super().on_button_pressed(event)

    def action_reload(self) -> None:
        self.load_repo(self.selected.version.git_tag if self.selected else None)

    def action_cut(self) -> None:
        candidate, state = self.selected, self.state
        if candidate is None or state is None or self.query_one("#cut", Button).disabled:
            return
        push = state.remote is not None and (
            candidate.exists or self.query_one("#push", Checkbox).value)
        tag = candidate.version.git_tag
        if candidate.exists:
            question = f"Push tag {tag} to {state.remote}?"
        else:
            question = f"Create annotated tag {tag} at {state.short}"
            question += f" and push it to {state.remote}?" if push else "?"

        def answered(yes: bool | None) -> None:
            if yes:
                self.query_one("#cut", Button).disabled = True
                self.cut_and_push(candidate, push, state.remote)

        self.app.push_screen(ConfirmModal(question, yes="Push" if candidate.exists else "Cut tag"),
                             answered)

    def next_draft(self) -> Draft | None:
        if self.state is None or self.selected is None:
            return None
        return dataclasses.replace(
            self.draft,
            version=self.selected.version,
            known=self.state.tags,
            commit=self.state.commit,
        )
