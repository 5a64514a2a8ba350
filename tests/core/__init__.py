"""Tests of jacs_desktop.core."""
