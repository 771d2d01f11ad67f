"""core.diff.config_changes: which run settings count as changed, and how each is keyed."""

from __future__ import annotations

from core.diff import config_changes


def test_every_setting_keyed_and_ordered() -> None:
    a = {"Labels": {"gone": "x", "v": "1"}, "Entrypoint": ["/init"], "Cmd": ["/app"],
         "Env": ["PATH=/bin", "MODE=a", "MODE=b"], "User": "app", "WorkingDir": "/srv",
         "ExposedPorts": {"80/tcp": {}, "443/tcp": {}}}
    b = {"Labels": {"v": "2", "new": "y"}, "Entrypoint": None, "Cmd": ["/app"],
         "Env": ["PATH=/bin", "MODE=b"], "User": "root", "ExposedPorts": {"443/tcp": {},
                                                                          "53/udp": {}}}
    changes = [(c.field, c.key, c.kind, c.a, c.b) for c in config_changes(a, b)]
    assert changes == [
        ("label", "gone", "removed", "x", None),
        ("label", "new", "added", None, "y"),
        ("label", "v", "changed", "1", "2"),
        ("entrypoint", None, "removed", ["/init"], None),
        ("user", None, "changed", "app", "root"),  # MODE: the last one wins on both sides
        ("workdir", None, "removed", "/srv", None),
        ("port", "53/udp", "added", None, "53/udp"),
        ("port", "80/tcp", "removed", "80/tcp", None),
    ]


def test_empty_means_unset() -> None:
    assert config_changes({"Cmd": [], "User": "", "Labels": None}, {}) == ()
