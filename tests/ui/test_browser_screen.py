"""The registry browser against a real registry holding content pushed here through the HTTP API:
two multi-platform indexes with attestation entries (shaped like buildx's), an alias and a
single-platform image. All content is fixed, so digests and times are fixed too (snapshots)."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from textual.widgets import Button, DataTable, Input, Static

from core.inspect import order_tags
from core.reference import ImageName
from core.registry import OCI_INDEX, OCI_MANIFEST, RegistryClient
from core.rendering import human_size
from screens.browser import BrowserScreen, human_time
from tests.support.registry import RunningRegistry
from tests.ui.conftest import quiet
from tui.standalone import BrowserApp
from tui.widgets import HelpModal

REPO = "h7/browse"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"


@dataclass(frozen=True)
class Pushed:
    host: str
    digests: dict[str, str]  # tag -> manifest digest
    sizes: dict[str, int]  # tag -> sum of config + layer sizes over its platforms


class Pusher:
    """Blobs and manifests PUT straight through the Registry HTTP API v2."""

    def __init__(self, registry: RunningRegistry, repo: str) -> None:
        self.http = httpx.Client(base_url=registry.url, timeout=30)
        self.repo = repo

    def blob(self, data: bytes) -> tuple[str, int]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        start = self.http.post(f"/v2/{self.repo}/blobs/uploads/")
        assert start.status_code == 202, start.text
        location = start.headers["Location"]
        joiner = "&" if "?" in location else "?"
        done = self.http.put(f"{location}{joiner}digest={digest}", content=data,
                             headers={"Content-Type": "application/octet-stream"})
        assert done.status_code == 201, done.text
        return digest, len(data)

    def manifest(self, document: dict[str, Any], tag: str | None = None) -> tuple[str, int]:
        """PUT under ``tag``, or under its own digest when untagged."""
        raw = json.dumps(document, sort_keys=True).encode()
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        done = self.http.put(f"/v2/{self.repo}/manifests/{tag or digest}", content=raw,
                             headers={"Content-Type": document["mediaType"]})
        assert done.status_code == 201, done.text
        assert done.headers["Docker-Content-Digest"] == digest
        return digest, len(raw)

    def image(self, arch: str, created: str, payload: bytes,
              tag: str | None = None) -> tuple[str, int, int]:
        """A platform image; returns (manifest digest, manifest size, config + layer size)."""
        layer, layer_size = self.blob(payload)
        config = {"architecture": arch, "os": "linux", "created": created, "config": {},
                  "rootfs": {"type": "layers", "diff_ids": [layer]}}
        config_digest, config_size = self.blob(json.dumps(config, sort_keys=True).encode())
        digest, size = self.manifest(
            {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
             "config": {"mediaType": CONFIG_TYPE, "digest": config_digest, "size": config_size},
             "layers": [{"mediaType": LAYER_TYPE, "digest": layer, "size": layer_size}]},
            tag,
        )
        return digest, size, config_size + layer_size

    def attestation(self, subject: str) -> tuple[str, int]:
        statement, statement_size = self.blob(json.dumps(
            {"_type": "https://in-toto.io/Statement/v0.1", "subject": subject}).encode())
        empty, empty_size = self.blob(b"{}")
        return self.manifest({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": CONFIG_TYPE, "digest": empty, "size": empty_size},
            "layers": [{"mediaType": "application/vnd.in-toto+json", "digest": statement,
                        "size": statement_size,
                        "annotations": {"in-toto.io/predicate-type":
                                        "https://slsa.dev/provenance/v0.2"}}],
        })

    def index(self, tags: list[str], created: str, label: str) -> tuple[str, int]:
        """amd64 + arm64 images and one attestation each, like imagetools-raw.json."""
        entries: list[dict[str, Any]] = []
        attestations: list[dict[str, Any]] = []
        total = 0
        for arch in ("amd64", "arm64"):
            digest, size, content = self.image(arch, created, f"{label} {arch}\n".encode())
            total += content
            entries.append({"mediaType": OCI_MANIFEST, "digest": digest, "size": size,
                            "platform": {"architecture": arch, "os": "linux"}})
            att_digest, att_size = self.attestation(digest)
            attestations.append({
                "mediaType": OCI_MANIFEST, "digest": att_digest, "size": att_size,
                "annotations": {"vnd.docker.reference.digest": digest,
                                "vnd.docker.reference.type": "attestation-manifest"},
                "platform": {"architecture": "unknown", "os": "unknown"},
            })
        document = {"schemaVersion": 2, "mediaType": OCI_INDEX,
                    "manifests": entries + attestations}
        digest = ""
        for tag in tags:
            digest, _ = self.manifest(document, tag)
        return digest, total


@pytest.fixture(scope="module")
def pushed(registry: RunningRegistry) -> Iterator[Pushed]:
    pusher = Pusher(registry, REPO)
    digests: dict[str, str] = {}
    sizes: dict[str, int] = {}
    digest, size = pusher.index(["v1.0.0"], "2026-01-02T03:04:05.123456789Z", "one")
    digests["v1.0.0"], sizes["v1.0.0"] = digest, size
    digest, size = pusher.index(["v1.1.0", "latest"], "2026-02-03T04:05:06Z", "one-one")
    for tag in ("v1.1.0", "latest"):
        digests[tag], sizes[tag] = digest, size
    single, _, content = pusher.image("amd64", "2026-03-04T05:06:07Z", b"edge\n", "edge")
    digests["edge"], sizes["edge"] = single, content
    pusher.http.close()
    yield Pushed(registry.host, digests, sizes)


def real_client(name: ImageName) -> RegistryClient:
    return RegistryClient(name.api_host)


async def loaded(pilot: Any) -> BrowserScreen:
    """Wait until the listing and every requested tag detail have arrived."""
    app = pilot.app
    for _ in range(500):
        await pilot.pause(0.02)
        screen = app.screen
        if (isinstance(screen, BrowserScreen) and screen.tags
                and all(tag in screen.details for tag in screen.shown_tags())
                and not app.workers):
            await quiet(pilot)  # the table sizes its columns on idle
            return screen
        if isinstance(screen, BrowserScreen) and "error" in screen.query_one("#status").classes:
            return screen
    raise AssertionError("the browser never finished loading")


def make_app(image: str | None, *, page_size: int = 10, factory: Any = real_client) -> BrowserApp:
    return BrowserApp(image, client_factory=factory, page_size=page_size)


@pytest.mark.anyio
async def test_lists_tags_with_digest_platforms_attestations_size_and_time(
    pushed: Pushed,
) -> None:
    app = make_app(f"{pushed.host}/{REPO}")
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await loaded(pilot)
        assert screen.tags == ["edge", "latest", "v1.1.0", "v1.0.0"]
        one = screen.details["v1.0.0"]
        assert one.digest == pushed.digests["v1.0.0"]
        assert [p.platform for p in one.platforms] == ["linux/amd64", "linux/arm64"]
        assert len(one.attestations) == 2
        assert one.size == pushed.sizes["v1.0.0"]
        assert human_time(one.created) == "2026-01-02 03:04 UTC"
        assert screen.details["latest"].digest == screen.details["v1.1.0"].digest
        edge = screen.details["edge"]
        assert edge.digest == pushed.digests["edge"]
        assert [p.platform for p in edge.platforms] == ["linux/amd64"]
        assert edge.attestations == ()
        table = screen.query_one("#tags", DataTable)
        assert table.row_count == 4
        row = table.get_row("v1.0.0")
        assert row[2] == "linux/amd64, linux/arm64"
        assert row[3] == "2"
        assert row[4] == human_size(pushed.sizes["v1.0.0"])
        assert "4 tags" in screen.status


@pytest.mark.anyio
async def test_pages_details_and_loads_more(pushed: Pushed) -> None:
    app = make_app(f"{pushed.host}/{REPO}", page_size=2)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await loaded(pilot)
        assert screen.shown_tags() == ["edge", "latest"]
        assert set(screen.details) == {"edge", "latest"}  # only the shown page was read
        assert not screen.query_one("#more", Button).disabled
        await pilot.press("m")
        screen = await loaded(pilot)
        assert screen.shown_tags() == ["edge", "latest", "v1.1.0", "v1.0.0"]
        assert set(screen.details) == set(pushed.digests)
        assert screen.query_one("#more", Button).disabled


@pytest.mark.anyio
async def test_filter_by_tag_and_by_platform(pushed: Pushed) -> None:
    app = make_app(f"{pushed.host}/{REPO}")
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await loaded(pilot)
        await pilot.press("slash", *"v1.0")
        assert screen.shown_tags() == ["v1.0.0"]
        assert screen.query_one("#tags", DataTable).row_count == 1
        screen.query_one("#filter", Input).value = ""
        await pilot.press(*"arm64")
        await pilot.pause()
        assert screen.shown_tags() == ["latest", "v1.1.0", "v1.0.0"]
        assert "3 match 'arm64'" in screen.status


@pytest.mark.anyio
async def test_tag_in_the_reference_becomes_the_filter(pushed: Pushed) -> None:
    app = make_app(f"{pushed.host}/{REPO}:v1.1.0")
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await loaded(pilot)
        assert screen.query_one("#filter", Input).value == "v1.1.0"
        assert screen.shown_tags() == ["v1.1.0"]


@pytest.mark.anyio
async def test_detail_follows_the_cursor(pushed: Pushed) -> None:
    app = make_app(f"{pushed.host}/{REPO}")
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await loaded(pilot)
        await pilot.press("down", "down", "down")
        detail = str(screen.query_one("#detail", Static).render())
        assert pushed.digests["v1.0.0"] in detail
        assert "2 attestation manifest(s)" in detail
        assert f"docker pull {pushed.host}/{REPO}:v1.0.0" in detail


@pytest.mark.anyio
async def test_missing_repository_is_a_readable_error(pushed: Pushed) -> None:
    app = make_app(f"{pushed.host}/h7/nothing-here")
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await loaded(pilot)
        assert screen.status.startswith("registry: ")
        assert "repository not found" in screen.status
        assert "Traceback" not in screen.status
        assert "error" in screen.query_one("#status").classes
        # The user can correct the name in place and browse again.
        image = screen.query_one("#image", Input)
        image.value = f"{pushed.host}/{REPO}"
        image.focus()
        await pilot.press("enter")
        screen = await loaded(pilot)
        assert len(screen.tags) == 4


@pytest.mark.anyio
async def test_bad_image_name_is_refused_without_a_request(pushed: Pushed) -> None:
    calls: list[ImageName] = []

    def factory(name: ImageName) -> RegistryClient:
        calls.append(name)
        return real_client(name)

    app = make_app("Not//Valid", factory=factory)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, BrowserScreen)
        assert screen.status.startswith("image: ")
        assert calls == []


@pytest.mark.anyio
async def test_escape_closes_the_standalone_browser(pushed: Pushed) -> None:
    app = make_app(None)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        assert app.screen.focused is app.screen.query_one("#image", Input)
        await pilot.press("escape")  # first out of the text field
        await pilot.pause()
        assert app.screen.focused is app.screen.query_one("#tags", DataTable)
        assert app.is_running
        await pilot.press("escape")
        await pilot.pause()
    assert app.return_value == 0


def test_tag_order_names_first_then_newest_version() -> None:
    assert order_tags(["v1.0.0", "latest", "v1.10.0", "v1.2.0", "1.1.0-rc.1", "edge"]) == [
        "edge", "latest", "v1.10.0", "v1.2.0", "1.1.0-rc.1", "v1.0.0",
    ]


def test_human_time_and_size() -> None:
    assert human_time("2026-01-02T03:04:05.123456789Z") == "2026-01-02 03:04 UTC"
    assert human_time("2026-01-02T04:04:05+01:00") == "2026-01-02 03:04 UTC"
    assert human_time(None) == "—"
    assert human_time("yesterday") == "yesterday"
    assert human_size(999) == "999 B"
    assert human_size(1_500_000) == "1.5 MB"


# ---- snapshots: fixed content, and a fixed name instead of the registry's random port ----------

SNAP_IMAGE = f"registry.test/{REPO}"


def snapshot_app(pushed: Pushed, image: str) -> BrowserApp:
    def factory(name: ImageName) -> RegistryClient:
        return RegistryClient(pushed.host)

    return BrowserApp(image, client_factory=factory, page_size=3)


def test_snapshot_loaded(pushed: Pushed, snap_compare: Any) -> None:
    assert snap_compare(snapshot_app(pushed, SNAP_IMAGE), terminal_size=(120, 32),
                        run_before=loaded)


def test_snapshot_filtered(pushed: Pushed, snap_compare: Any) -> None:
    async def filtered(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.press("slash", *"arm64")
        await loaded(pilot)

    assert snap_compare(snapshot_app(pushed, SNAP_IMAGE), terminal_size=(120, 32),
                        run_before=filtered)


def test_snapshot_bad_name(pushed: Pushed, snap_compare: Any) -> None:
    assert snap_compare(snapshot_app(pushed, "acme//app"), terminal_size=(120, 32),
                        run_before=quiet)


@pytest.mark.anyio
async def test_while_listing_it_says_so_and_question_mark_opens_help(pushed: Pushed) -> None:
    """Never "0 tags" before the list has arrived (a slow registry), and ? explains the screen."""
    gate = threading.Event()

    class SlowList(RegistryClient):
        def list_tags(self, *args: Any, **kwargs: Any) -> Any:
            gate.wait(10)
            return super().list_tags(*args, **kwargs)

    app = make_app(f"{pushed.host}/{REPO}", factory=lambda name: SlowList(name.api_host))
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        await pilot.press("slash", *"v1")  # a filter change re-renders while still listing
        await pilot.pause(0.2)
        assert screen.status == f"listing the tags of {pushed.host}/{REPO}…"
        assert "0 tags" not in str(app.export_screenshot())
        gate.set()
        screen = await loaded(pilot)
        assert "2 match 'v1'" in screen.status
        screen.query_one("#tags", DataTable).focus()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpModal)
        assert "Every tag of one repository" in app.screen.body
