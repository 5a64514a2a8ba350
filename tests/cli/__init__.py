"""Tests of jacs_desktop.cli."""
