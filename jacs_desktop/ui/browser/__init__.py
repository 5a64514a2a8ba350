"""The browser window, made of panels (see window.py for how they are put together)."""

from .window import BrowserWindow

__all__ = ["BrowserWindow"]
