"""Render the Connect… dialog after a successful Test connection against a real S3 server
(moto, from the test extra) on loopback, offscreen, into resources/screenshots/connect-dialog.png.
Run: .venv/bin/python packaging/make_connect_screenshot.py"""

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    os.environ["JACS_DESKTOP_CONFIG_DIR"] = str(tmp / "cfg")
    os.environ["AWS_CONFIG_FILE"] = str(tmp / "none")  # no profiles of the user's in the picture
    from PySide6.QtWidgets import QApplication
    from s3servers import S3_KEY, S3_SECRET, moto_server

    from jacs_desktop.app import apply_theme
    from jacs_desktop.storage.s3 import S3Store
    from jacs_desktop.ui.connect import ConnectDialog

    app = QApplication([])
    apply_theme(app, "light")

    def settle(seconds: float) -> None:
        end = time.time() + seconds
        while time.time() < end:
            app.processEvents()
            time.sleep(0.02)

    with moto_server() as endpoint:
        S3Store("jacs-prod", endpoint_url=endpoint, access_key=S3_KEY, secret_key=S3_SECRET, create_bucket=True)
        d = ConnectDialog()
        d.show()
        d.set_values("s3", {"endpoint": endpoint, "bucket": "jacs-prod", "prefix": "stores/eu", "region": "us-east-1",
                            "access_key": S3_KEY, "secret_key": S3_SECRET})
        d.save_as.setText("prod")
        d.test_connection()
        deadline = time.time() + 60
        while d.test_result is None and time.time() < deadline:
            settle(0.05)
        settle(0.3)
        out = REPO / "resources" / "screenshots" / "connect-dialog.png"
        d.grab().save(str(out))
        print(out.relative_to(REPO))
        d.close()


if __name__ == "__main__":
    main()
