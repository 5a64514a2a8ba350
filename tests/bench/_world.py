"""Shared set-up for the benchmarks: a store of real jacs-made documents."""

import contextlib
import os
import sys
import tempfile
from pathlib import Path

PASSWORD = "Bench!Mark#2026xyz"


@contextlib.contextmanager
def jacs_env(root: Path):
    old_cwd, old_pw = os.getcwd(), os.environ.get("JACS_PRIVATE_KEY_PASSWORD")
    os.environ["JACS_PRIVATE_KEY_PASSWORD"] = PASSWORD
    os.chdir(root)
    try:
        yield
    finally:
        os.chdir(old_cwd)
        if old_pw is None:
            os.environ.pop("JACS_PRIVATE_KEY_PASSWORD", None)
        else:
            os.environ["JACS_PRIVATE_KEY_PASSWORD"] = old_pw


def make_agent(root: Path, name: str, algorithm: str):
    from jacs import SimpleAgent
    from jacs.client import JacsClient

    cfg = root / f"{name}.config.json"
    if not cfg.exists():
        SimpleAgent.create_agent(
            name=name, password=PASSWORD, algorithm=algorithm,
            data_directory=str(root / "jacs_data"), key_directory=str(root / "keys" / name),
            config_path=str(cfg), agent_type="ai", description="bench", domain="", default_storage="fs",
        )
    return JacsClient(str(cfg))


def bench_root() -> Path:
    d = os.environ.get("JACS_BENCH_DIR")
    if d:
        p = Path(d)
        p.mkdir(parents=True, exist_ok=True)
        return p
    return Path(tempfile.mkdtemp(prefix="jacs-bench-"))


def payload(i: int) -> dict:
    return {"invoice": f"INV-{i:05d}", "amount": 100 + i * 0.25, "currency": "EUR",
            "lines": [{"sku": f"S{j}", "qty": j, "note": "naïve café ✓"} for j in range(5)]}


# varied, real-world content (emoji and high keys, integral and tiny floats, deep nesting, long
# texts): tests/varied_json.py, shared with the property tests
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from varied_json import varied_payload  # noqa: E402, F401  (re-exported for the benchmarks)
