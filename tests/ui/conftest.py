"""UI tests share one QApplication: a test that applies a theme (the app's main(), the theme
tests) must not change the colours the next test sees."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _restore_theme(qapp):
    from jacs_desktop.ui import theme

    palette, style = qapp.palette(), qapp.style().name()
    yield
    qapp.setPalette(palette)
    qapp.setStyle(style)
    theme.use_colors(theme.LIGHT)
