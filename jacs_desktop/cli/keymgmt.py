"""``identity rotate-keys --config CONFIG [--algorithm pq2025] [--json]``: rotate the agent's keys as
jacs's ``rotate_keys`` does (a new agent version signed by the new key, its rotation proof signed by
the old one, the old key archived, the config re-signed), or finish a rotation that stopped before
the config was re-signed (also one made by jacs's Python ``rotate_keys``, which leaves it so)."""

from __future__ import annotations

import argparse

from ..core.errors import JacsError
from .output import EXIT_ERROR, EXIT_OK, err, print_json

__all__ = ["add_rotate_parser", "cmd_rotate_keys"]


def add_rotate_parser(acts: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rk = acts.add_parser("rotate-keys", help="rotate the agent's keys, as jacs's rotate_keys (password: "
                         "JACS_PRIVATE_KEY_PASSWORD or a prompt; the new key gets the same password)")
    rk.add_argument("--config", required=True, help="the agent's jacs.config.json")
    rk.add_argument("--algorithm", metavar="ALG", help="pq2025 to move to post-quantum keys (default: keep the "
                    "current algorithm; pq2025 to Ed25519 is refused)")
    rk.add_argument("--json", action="store_true", help="print the result as JSON")
    rk.set_defaults(func=cmd_rotate_keys)


def cmd_rotate_keys(args: argparse.Namespace) -> int:
    from ..core.identity import Identity
    from ..jobs.keymgmt import rotate_keys
    from .prompts import password_for

    try:
        identity = Identity.load(args.config)
        result = rotate_keys(identity, password_for(identity), args.algorithm)
    except JacsError as exc:
        err(str(exc))
        return EXIT_ERROR
    except OSError as exc:
        err(f"the rotation could not write its files: {exc.strerror or exc}; run it again to finish it")
        return EXIT_ERROR
    if args.json:
        print_json(result.to_dict())
        return EXIT_OK
    if result.finished_interrupted:
        print(f"finished the interrupted rotation of {result.agent_id}: the config now names version "
              f"{result.new_version}")
    else:
        print(f"rotated the keys of {result.agent_id}: version {result.old_version} → {result.new_version}")
    print(f"  key {result.old_key_hash[:16]}… → {result.new_key_hash[:16]}… ({result.algorithm})")
    print(f"  new agent version: {result.agent_file}")
    return EXIT_OK
