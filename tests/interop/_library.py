"""Helpers for driving the real jacs library in tests: environment, working folder, agents."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def env(**values: str) -> Iterator[None]:
    """Set environment variables for the block, then put back what was there."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def cwd(path: Path) -> Iterator[None]:
    """Run the block in *path* (the library resolves its relative paths from there)."""
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


@contextlib.contextmanager
def library(root: Path, password: str) -> Iterator[None]:
    """The library's usual setting: the key password in its variable, the store as working folder."""
    with env(JACS_PRIVATE_KEY_PASSWORD=password), cwd(root):
        yield


def create_jacs_agent(root: Path, name: str, algorithm: str, password: str, description: str = "interop") -> Path:
    """An agent made by the library in *root* (config ``{name}.config.json``); returns the config path."""
    from jacs import SimpleAgent

    config = root / f"{name}.config.json"
    SimpleAgent.create_agent(
        name=name, password=password, algorithm=algorithm,
        data_directory=str(root / "jacs_data"), key_directory=str(root / "keys" / name),
        config_path=str(config), agent_type="ai", description=description, domain="", default_storage="fs",
    )
    return config


def create_jacs_agent_here(root: Path, name: str, algorithm: str, password: str, description: str = "interop") -> Path:
    """Like :func:`create_jacs_agent`, with the data and key folders relative to the config (run it inside
    :func:`library` for *root*): the store is self-contained (a copy of it works the same), and jacs
    writes nothing outside it (with absolute folders its create_agreement wrote to /documents)."""
    from jacs import SimpleAgent

    assert Path.cwd().resolve() == root.resolve(), "run inside library(root, ...)"
    SimpleAgent.create_agent(
        name=name, password=password, algorithm=algorithm, data_directory="jacs_data",
        key_directory=f"keys/{name}", config_path=f"{name}.config.json", agent_type="ai",
        description=description, domain="", default_storage="fs",
    )
    return root / f"{name}.config.json"
