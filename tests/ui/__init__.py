"""Tests of jacs_desktop.ui."""
