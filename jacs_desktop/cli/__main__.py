"""``python -m jacs_desktop.cli``: the same as ``jacs-desktop-cli``."""

import sys

from .app import main

if __name__ == "__main__":
    sys.exit(main())
