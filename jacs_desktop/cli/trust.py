"""``trust list | add | remove | repin | check``: the jacs library's trust store, in its own format."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import JacsError
from .output import EXIT_ERROR, EXIT_OK, err, print_json, warn

if TYPE_CHECKING:
    from ..jobs.trust import TrustStore

__all__ = ["add_parser", "cmd_trust"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    t = sub.add_parser("trust", help="the jacs trust store: which agents are trusted, at which key")
    t.add_argument("--trust-store", metavar="DIR", help="default: JACS_TRUST_STORE_DIR or the library's folder")
    acts = t.add_subparsers(dest="trust_action", required=True)
    ls = acts.add_parser("list", help="the trusted agents, with version, key and since when")
    ls.add_argument("--all", action="store_true", help="also untrusted and unreadable entries")
    ls.add_argument("--json", action="store_true")
    add = acts.add_parser("add", help="trust an agent version of a store (its key is pinned)")
    add.add_argument("store", help="the store that holds the agent document and its public key")
    add.add_argument("agent", help="AGENT_ID or AGENT_ID:VERSION (default: the agent's first version in the store)")
    rm = acts.add_parser("remove", help="untrust an agent (as jacs does: it stays refused from then on)")
    rm.add_argument("agent", help="AGENT_ID or AGENT_ID:VERSION")
    rp = acts.add_parser("repin", help="move a trusted agent's pin to its new key along the verified rotation chain")
    rp.add_argument("store", help="the store that holds the agent's versions and keys")
    rp.add_argument("agent", help="AGENT_ID")
    ck = acts.add_parser("check", help="verify a store and give every verdict its trust line (never changes it)")
    ck.add_argument("store", help="a store folder or URL")
    ck.add_argument("--json", action="store_true")
    for p in (ls, add, rm, rp, ck):
        p.set_defaults(func=cmd_trust)


def _store(args: argparse.Namespace) -> TrustStore:
    from ..jobs.trust import TrustStore, default_trust_dir

    return TrustStore(Path(args.trust_store) if args.trust_store else default_trust_dir())


def cmd_trust(args: argparse.Namespace) -> int:
    try:
        ts = _store(args)
        if args.trust_action == "list":
            rows = ts.entries() if args.all else ts.trusted()
            if args.json:
                print_json({"trust_store": str(ts.root), "agents": [e.to_dict() for e in rows]}, ensure_ascii=False)
                return EXIT_OK
            for e in rows:
                name = f" '{e.name}'" if e.name else ""
                print(f"{e.state:<10} {e.agent_id}:{e.version}{name}  key {e.key_hash[:16]}… "
                      f"({e.algorithm or '?'}) since {e.trusted_at or '?'}")
                if e.problem:
                    print(f"    ! {e.problem}")
            print(f"{len(rows)} agent(s) in {ts.root}")
            return EXIT_OK
        if args.trust_action == "add":
            return _add(ts, args)
        if args.trust_action == "check":
            return _check(ts, args)
        if args.trust_action == "remove":
            denied = ts.remove(args.agent)
            print(f"untrusted {args.agent.split(':', 1)[0]} (key {', '.join(h[:16] + '…' for h in denied)})")
            warn("jacs keeps this decision: it fails what the agent signs and will not trust it again")
            return EXIT_OK
        return _repin(ts, args)
    except JacsError as exc:
        err(str(exc))
        return EXIT_ERROR


def _check(ts: TrustStore, args: argparse.Namespace) -> int:
    """Every verdict of ``verify`` with its trust line beside it; the exit code is verify's."""
    from ..jobs.trust import apply_trust
    from ..jobs.verify_all import verify_store
    from ..storage.opener import open_store
    from .output import MARK

    store = open_store(args.store)
    try:
        report = verify_store(store, workers=1)
        directory = store.agent_directory()
        for v in report.results:
            if v.kind != "config" and v.signer:
                apply_trust(v, ts, directory)
    finally:
        store.close()
    if args.json:
        print_json(report.to_dict(), ensure_ascii=False)
        return report.exit_code
    for v in report.results:
        name = f"{v.id}:{v.version}" if v.id else (v.path or "?")
        print(f"{MARK.get(v.status, '?')} {v.status:<12} {v.trust or '-':<19} {v.kind:<8} {name}")
        if v.trust not in (None, "trusted"):
            print(f"      trust: {v.trust_reason}")
    for e in report.errors:
        print(f"! {e}")
    return report.exit_code


def _agent_version(store_url: str, agent: str) -> tuple[dict[str, object], bytes, bytes, str]:
    """(agent document, its bytes, public key, algorithm) of AGENT[:VERSION] in the store."""
    from ..jobs.trust import TrustError
    from ..storage.opener import open_store

    aid, _, ver = agent.partition(":")
    store = open_store(store_url)
    try:
        directory = store.agent_directory()
        record = directory.agent(aid) if directory is not None else None
        if record is None:
            raise TrustError(f"the store has no agent {aid}")
        chain = sorted((v for v in record.versions if v.anchored), key=lambda v: (v.date, v.version))
        pick = [v for v in chain if v.version == ver] if ver else chain[:1]
        if not pick:
            raise TrustError(f"the store has no verified version {ver or ''} of agent {aid}")
        v = pick[0]
        if not v.key_hash:
            raise TrustError("the agent version names no key")
        pk = store.keys().resolve(v.key_hash)
        if pk is None:
            raise TrustError(f"the public key {v.key_hash[:16]}… is not in the store")
        raw = store.read(store.layout.agent_key(aid, v.version))
        sig = v.doc.get("jacsSignature")
        alg = pk.algorithm or (sig.get("signingAlgorithm") if isinstance(sig, dict) else None)
        if not isinstance(alg, str):
            raise TrustError("the key's algorithm is not known")
        return v.doc, raw, pk.key, alg
    finally:
        store.close()


def _add(ts: TrustStore, args: argparse.Namespace) -> int:
    doc, raw, key, alg = _agent_version(args.store, args.agent)
    e = ts.add(doc, key, alg, raw=raw)
    print(f"trusted {e.agent_id}:{e.version}" + (f" '{e.name}'" if e.name else "") + f" with key {e.key_hash[:16]}…")
    return EXIT_OK


def _repin(ts: TrustStore, args: argparse.Namespace) -> int:
    from ..jobs.trust import TrustError
    from ..storage.opener import open_store

    store = open_store(args.store)
    try:
        directory = store.agent_directory()
        record = directory.agent(args.agent) if directory is not None else None
        if directory is None or record is None:
            raise TrustError(f"the store has no agent {args.agent}")
        chain = sorted((v for v in record.versions if v.anchored and v.key_hash), key=lambda v: (v.date, v.version))
        if not chain:
            raise TrustError(f"the store has no verified version of agent {args.agent}")
        latest = chain[-1]
        assert latest.key_hash is not None
        pk = store.keys().resolve(latest.key_hash)
        if pk is None:
            raise TrustError(f"the public key {latest.key_hash[:16]}… is not in the store")
        sig = latest.doc.get("jacsSignature")
        alg = pk.algorithm or (sig.get("signingAlgorithm") if isinstance(sig, dict) else None)
        if not isinstance(alg, str):
            raise TrustError("the key's algorithm is not known")
        if ts.pin(args.agent) == latest.key_hash:
            print(f"agent {args.agent} is already pinned to its latest key {latest.key_hash[:16]}…")
            return EXIT_OK
        path = ts.repin(args.agent, directory, latest.key_hash, pk.key, alg)
    finally:
        store.close()
    print(f"re-pinned {args.agent} to key {latest.key_hash[:16]}… along agent version(s) {', '.join(path)}")
    return EXIT_OK
