"""dockyard's release domain: plain Python, never imports textual, screens or tui."""

__version__ = "0.1.0"
