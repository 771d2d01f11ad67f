"""Styles and Dockerfile templates shipped with dockyard."""
