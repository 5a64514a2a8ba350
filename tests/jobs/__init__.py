"""Tests of jacs_desktop.jobs."""
