"""Entry point of the PyInstaller bundle: the GUI, or the CLI when the executable
is ``jacs-desktop-cli``."""

import os
import sys


def run() -> int:
    name = os.path.basename(sys.argv[0]).lower()
    if name.startswith("jacs-desktop-cli"):
        from jacs_desktop.cli import main

        return main(sys.argv[1:])
    from jacs_desktop.app import main

    return main(sys.argv)


if __name__ == "__main__":
    sys.exit(run())
