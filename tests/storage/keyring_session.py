"""Run inside ``dbus-run-session``: start a real gnome-keyring Secret Service,
then exercise jacs_desktop's secrets wrapper against it. Prints one JSON line."""

import json
import os
import subprocess
import sys


def main() -> int:
    daemon = subprocess.run(
        ["gnome-keyring-daemon", "--unlock", "--components=secrets"],
        input=b"test-keyring-password", capture_output=True, timeout=30,
    )
    for line in daemon.stdout.decode().splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            os.environ[k] = v
    from jacs_desktop.storage.secrets import Secrets, keyring_status

    out = {"status": keyring_status().__dict__}
    s = Secrets("keyring")
    s.set("connection:prod:secret_key", "s3cr3t-ünïcode")
    out["backend"] = s.backend
    out["get"] = s.get("connection:prod:secret_key")
    # a second wrapper (a new app start) sees the same secret
    out["get_again"] = Secrets("auto").get("connection:prod:secret_key")
    s.delete("connection:prod:secret_key")
    out["after_delete"] = s.get("connection:prod:secret_key")
    import keyring

    out["keyring_backend"] = f"{type(keyring.get_keyring()).__module__}"
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
