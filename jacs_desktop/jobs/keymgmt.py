"""Key management for a loaded identity: change the private key's password (as jacs's
``reencrypt_key``) and rotate its keys (as jacs's ``rotate_keys``).

**Password.** jacs 0.15 re-encrypts only the agent's signing key (``jacs_agent_private_key_filename``
in the key folder); the ecosystem key and archived (rotated-away) keys keep their old password, which
the library does not ask for when it loads the agent and signs.  The same is done here: the key is
decrypted with the old password, encrypted with the new one in the library's envelope (Argon2id +
AES-256-GCM), checked to decrypt again, and written in place atomically (0600).

**Rotation** writes what the library's ``rotate_with_mutex`` writes, in an order a crash cannot break:

1. the old key pair archived as ``jacs.private.{oldVersion}.pem.enc`` / ``jacs.public.{oldVersion}.pem``
   with the ``.obsolete.json`` note; the new public key in ``public_keys/``; staged under hidden names
   (which jacs does not read): the new key pair and the new agent version (``jacsPreviousVersion`` =
   the old one, ``jacsKeyRotationProof`` signed by the old key, the version signed by the new key; as
   jacs does, its signature names the old version).  Until here the agent is unchanged, and a later
   rotation drops what an attempt stopped here left staged.
2. the library's rotation journal ``{key folder}/.jacs_rotation_journal.json`` at stage
   ``agent_saved``, with the fields jacs writes (stage, timestamp, agent_id, old_version,
   old_key_hash, algorithm, config_path);
3. the staged agent version renamed to ``agent/{id}:{newVersion}.json``, the staged keys to
   ``jacs.private.pem.enc`` / ``jacs.public.pem``;
4. the config signed again by the new key, as a new config version naming ``{id}:{newVersion}``
   (and the new algorithm); then the journal is removed.

Interrupted after 3, jacs still loads the agent: it finds the journal, checks the new version and
its rotation proof against the old key, and signs the config itself.  Interrupted during 3 (three
renames), only :func:`finish_rotation` completes it; :func:`rotate_keys` calls it first whenever a
journal is left.

Why the app signs the config itself: after jacs 0.15's Python ``rotate_keys`` the config is
unchanged and the journal deleted (``rotate_with_mutex`` signs the config only when it is given the
config's path, which the Python binding evidently does not pass), and jacs then refuses to load the
agent ("Config is signed by historical key … but no rotation journal is present").
:func:`finish_rotation` repairs such an agent too: the config still names the old version, and the
child version signed by the current key carries a rotation proof signed by the old key.

The password stays the same (jacs encrypts the new key with the password it was given); the
archived key keeps the old envelope.  The target algorithm is the current one or ``pq2025``; a
change from pq2025 to Ed25519 is refused, as jacs refuses it.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..core.agents import transition_message
from ..core.crypto import generate_private_material, signer_from_private_material
from ..core.durable import fsync_dir
from ..core.errors import IdentityError, JacsError
from ..core.identity import AgentConfig, Identity, write_file_atomic
from ..core.jsontypes import JSONObject
from ..core.keys import check_password, decrypt_private_key, encrypt_private_key
from ..core.pubkey import normalize_algorithm, public_key_hash
from ..core.sign import AgentSigner, pretty_json, rfc3339_now
from ..core.verify import KeyRing, verify_document
from .common import Cancelled, CancelToken, ProgressFn, is_cancelled

__all__ = ["change_key_password", "rotate_keys", "finish_rotation", "RotationResult", "JOURNAL_NAME",
           "pending_rotation"]

JOURNAL_NAME = ".jacs_rotation_journal.json"
_STAGED_PRIVATE = ".jacs.rotation.private.pem.enc"
_STAGED_PUBLIC = ".jacs.rotation.public.pem"
_STAGED_AGENT = ".rotation."  # + "{id}:{version}.json" in the agent folder: jacs lists only "{id}:" names
_OBSOLETE_WARNING = ("This archived private key is OBSOLETE: it was superseded by a newer agent version's key "
                     "during rotation. It is retained for audit/recovery but is still decryptable with the OLD "
                     "password. Do not sign new documents with it; securely delete it if this rotation was "
                     "prompted by a suspected compromise.")


def change_key_password(identity: Identity, old_password: str, new_password: str) -> None:
    """Re-encrypt *identity*'s private key; the new password must meet the library's rules.
    Nothing is written unless the old password decrypts the key and the new file decrypts."""
    check_password(new_password)
    if new_password == old_password:
        raise JacsError("The new password is the same as the old one")
    path = identity.config.private_key_file
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IdentityError(f"Cannot read the private key {path}: {exc.strerror or exc}") from None
    material = decrypt_private_key(data, old_password)
    new = encrypt_private_key(material, new_password)
    if decrypt_private_key(new, new_password) != material:  # never: a broken envelope is not written
        raise JacsError("The re-encrypted key did not decrypt; nothing was changed")
    write_file_atomic(path, new, 0o600)
    identity.lock()


@dataclass
class RotationResult:
    agent_id: str
    old_version: str
    new_version: str
    old_key_hash: str
    new_key_hash: str
    algorithm: str
    agent_file: Path
    identity: Identity
    finished_interrupted: bool = False

    def to_dict(self) -> JSONObject:
        return {"agent_id": self.agent_id, "old_version": self.old_version, "new_version": self.new_version,
                "old_public_key_hash": self.old_key_hash, "new_public_key_hash": self.new_key_hash,
                "algorithm": self.algorithm, "agent_file": str(self.agent_file),
                "finished_interrupted": self.finished_interrupted}


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise IdentityError(f"Cannot read {what} {path}: {exc.strerror or exc}") from None


def _read_json(path: Path, what: str) -> JSONObject:
    try:
        doc = json.loads(_read(path, what))
    except (ValueError, RecursionError):
        raise IdentityError(f"{what} {path} is not valid JSON") from None
    if not isinstance(doc, dict):
        raise IdentityError(f"{what} {path} is not a JSON object")
    return doc


def _target_algorithm(current: str, requested: str | None) -> str:
    cur = normalize_algorithm(current)
    if requested is None or not requested.strip():
        target = cur
    else:
        target = normalize_algorithm(requested.strip())
        if target is None:
            raise JacsError(f"Unknown key algorithm {requested!r}: use pq2025 (or leave it out to keep "
                            f"{current})")
    if cur == "pq2025" and target == "ed25519":
        raise JacsError("A rotation from pq2025 to Ed25519 is refused (jacs refuses it too): the new key would "
                        "be weaker than the old one")
    return "pq2025" if target == "pq2025" else "ring-Ed25519"


def pending_rotation(config: AgentConfig) -> JSONObject | None:
    """The rotation journal beside *config*'s keys, when a rotation did not finish."""
    path = config.key_dir / JOURNAL_NAME
    if not path.exists():
        return None
    return _read_json(path, "The rotation journal")


def _signed_config(config: AgentConfig, signer: AgentSigner, new_version: str, algorithm: str) -> JSONObject:
    """The config as a new config version selecting ``{id}:{new_version}``, signed by *signer*."""
    body = {k: v for k, v in config.data.items() if k not in ("jacsSignature", "jacsSha256")}
    if isinstance(body.get("jacsVersion"), str):
        body["jacsPreviousVersion"] = body["jacsVersion"]
    body["jacsVersion"] = str(uuid.uuid4())
    body["jacsVersionDate"] = rfc3339_now()
    body["jacs_agent_id_and_version"] = f"{config.agent_id}:{new_version}"
    body["jacs_agent_key_algorithm"] = algorithm
    return signer.finish(body)


def _check_signed(doc: JSONObject, public_key: bytes, algorithm: str, what: str) -> None:
    """Our verifier must accept what is about to be written (it never fails; a guard, not a check)."""
    ring = KeyRing()
    ring.add(public_key, algorithm, "rotation")
    verdict = verify_document(doc, ring)
    if not verdict.valid:
        raise JacsError(f"The new {what} did not verify ({verdict.reason}); nothing was changed")


def _write_config(config: AgentConfig, doc: JSONObject) -> None:
    try:
        mode = config.path.stat().st_mode & 0o777
    except OSError:
        mode = 0o644
    write_file_atomic(config.path, pretty_json(doc), mode)


def rotate_keys(identity: Identity, password: str, algorithm: str | None = None, *,
                progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> RotationResult:
    """Rotate *identity*'s keys (see the module text); returns the rotated identity, loaded again.

    *password* opens the current key and encrypts the new one.  A wrong password, an unknown or
    weaker algorithm, or an agent whose files disagree changes nothing.  Cancelling is possible
    until the first file is written."""
    config = identity.config
    if pending_rotation(config) is not None:
        return finish_rotation(config.path, password)
    target = _target_algorithm(config.algorithm, algorithm)

    def step(n: int, msg: str) -> None:
        if progress is not None:
            progress(n, 5, msg)

    step(0, "reading the agent")
    old_doc = _read_json(config.agent_file, "The agent document")
    if old_doc.get("jacsId") != config.agent_id or old_doc.get("jacsVersion") != config.agent_version:
        raise IdentityError(f"{config.agent_file} is not agent version {config.agent_id}:{config.agent_version}")
    old_pub = _read(config.public_key_file, "the public key")
    old_hash = public_key_hash(old_pub)
    sig = old_doc.get("jacsSignature")
    if not isinstance(sig, dict) or sig.get("publicKeyHash") != old_hash:
        raise IdentityError(
            f"The config names agent version {config.agent_version}, which is not signed by the key in "
            f"{config.public_key_file.name}: an earlier rotation did not finish. Run the rotation again to "
            "finish it (it re-signs the config for the current key).")
    old_family = normalize_algorithm(config.algorithm)
    if old_family is None:  # never: AgentConfig.load refuses such a config
        raise IdentityError(f"Unsupported key algorithm {config.algorithm!r}")
    old_enc = _read(config.private_key_file, "the private key")
    old_signer = signer_from_private_material(old_family, decrypt_private_key(old_enc, password), old_pub)

    step(1, "making the new key")
    new_family = normalize_algorithm(target)
    assert new_family is not None
    material, new_pub = generate_private_material(new_family)
    new_signer = signer_from_private_material(new_family, material, new_pub)
    new_hash = public_key_hash(new_pub)
    new_enc = encrypt_private_key(material, password, check=False)
    if decrypt_private_key(new_enc, password) != material:  # never
        raise JacsError("The new key's envelope did not decrypt; nothing was changed")

    step(2, "signing the new agent version")
    stamp = rfc3339_now()
    message = transition_message(config.agent_id, old_hash, new_hash, stamp)
    proof = {"newPublicKeyHash": new_hash, "oldPublicKeyHash": old_hash,
             "signature": base64.b64encode(old_signer.sign(message.encode("utf-8"))).decode("ascii"),
             "signingAlgorithm": old_signer.algorithm, "timestamp": stamp, "transitionMessage": message}
    new_version = str(uuid.uuid4())
    body = {k: v for k, v in old_doc.items() if k not in ("jacsSignature", "jacsSha256", "jacsKeyRotationProof")}
    body.update({"jacsPreviousVersion": config.agent_version, "jacsVersion": new_version,
                 "jacsVersionDate": rfc3339_now(), "jacsKeyRotationProof": proof})
    # as jacs: the new version's self-signature names the version it replaces
    new_doc = AgentSigner(new_signer, config.agent_id, config.agent_version, new_pub).finish(body)
    _check_signed(new_doc, new_pub, target, "agent version")
    new_config = _signed_config(config, AgentSigner(new_signer, config.agent_id, new_version, new_pub),
                                new_version, target)
    _check_signed(new_config, new_pub, target, "config")
    if is_cancelled(cancel):
        raise Cancelled(None)

    step(3, "writing the new agent version")
    kd, old_v = config.key_dir, config.agent_version
    _drop_abandoned(config)
    archived = kd / f"jacs.private.{old_v}.pem.enc"
    for p, content in ((archived, old_enc), (kd / f"jacs.public.{old_v}.pem", old_pub)):
        if p.exists() and _read(p, "the archived key") != content:
            raise IdentityError(f"{p} already exists: this agent version was rotated before; nothing was changed")
        write_file_atomic(p, content, 0o600)  # (the same bytes again after an attempt that stopped early)
    note = {"archivedPrivateKey": str(archived), "jacsKeyObsolescence": "v1", "obsoletedAtVersion": old_v,
            "reason": "superseded-by-rotation", "rotatedAt": stamp, "warning": _OBSOLETE_WARNING}
    write_file_atomic(kd / f"{archived.name}.obsolete.json", json.dumps(note, indent=2).encode("utf-8"), 0o600)
    write_file_atomic(config.public_keys_dir / f"{new_hash}.pem", new_pub, 0o644)
    write_file_atomic(config.public_keys_dir / f"{new_hash}.enc_type", target.encode("ascii"), 0o644)
    agent_file = config.data_dir / "agent" / f"{config.agent_id}:{new_version}.json"
    if agent_file.exists():  # never: a fresh version id
        raise IdentityError(f"{agent_file} already exists; nothing was changed")
    write_file_atomic(agent_file.with_name(_STAGED_AGENT + agent_file.name), pretty_json(new_doc), 0o644)
    write_file_atomic(kd / _STAGED_PRIVATE, new_enc, 0o600)
    write_file_atomic(kd / _STAGED_PUBLIC, new_pub, 0o600)

    step(4, "switching to the new key")
    journal = {"stage": "agent_saved", "timestamp": stamp, "agent_id": config.agent_id, "old_version": old_v,
               "old_key_hash": old_hash, "algorithm": target, "config_path": str(config.path)}
    write_file_atomic(kd / JOURNAL_NAME, json.dumps(journal, indent=2).encode("utf-8"), 0o600)
    _swap_staged(config)
    _write_config(config, new_config)
    (kd / JOURNAL_NAME).unlink()
    fsync_dir(kd)
    identity.lock()
    step(5, "done")
    return RotationResult(config.agent_id, old_v, new_version, old_hash, new_hash, target, agent_file,
                          Identity.load(config.path))


def _staged_agents(config: AgentConfig) -> list[Path]:
    try:
        return sorted((config.data_dir / "agent").glob(f"{_STAGED_AGENT}{config.agent_id}:*.json"))
    except OSError:
        return []


def _drop_abandoned(config: AgentConfig) -> None:
    """Staged files of an attempt that stopped before its journal was written (nothing used them)."""
    for p in [config.key_dir / _STAGED_PRIVATE, config.key_dir / _STAGED_PUBLIC, *_staged_agents(config)]:
        p.unlink(missing_ok=True)


def _swap_staged(config: AgentConfig) -> None:
    """Move the staged agent version and key pair into place (the journal is on disk)."""
    kd = config.key_dir
    for p in _staged_agents(config):
        os.replace(p, p.with_name(p.name[len(_STAGED_AGENT):]))
    fsync_dir(config.data_dir / "agent")
    for staged, final in ((kd / _STAGED_PRIVATE, config.private_key_file), (kd / _STAGED_PUBLIC,
                                                                             config.public_key_file)):
        if staged.exists():
            os.replace(staged, final)
    fsync_dir(kd)


def finish_rotation(config_path: str | os.PathLike[str], password: str) -> RotationResult:
    """Finish a rotation that stopped before the config was re-signed: ours (a journal is left), or one
    made by jacs's Python ``rotate_keys`` (no journal; the config still names the old version).

    The agent version the config should name is the child of the config's version (its
    ``jacsPreviousVersion``) that is signed by the current key and whose rotation proof is signed by
    the old key; the config is re-signed for it with the current key, and the journal removed."""
    config = AgentConfig.load(config_path)
    journal = pending_rotation(config)
    if journal is not None:
        if journal.get("agent_id") != config.agent_id or journal.get("old_version") != config.agent_version:
            raise IdentityError(f"The rotation journal in {config.key_dir} is for "
                                f"{journal.get('agent_id')}:{journal.get('old_version')}, not for the config's "
                                f"{config.agent_id}:{config.agent_version}; nothing was changed")
        _swap_staged(config)
    pub = _read(config.public_key_file, "the public key")
    cur_hash = public_key_hash(pub)
    old_doc = _read_json(config.agent_file, "The agent document")
    old_sig = old_doc.get("jacsSignature")
    old_hash = old_sig.get("publicKeyHash") if isinstance(old_sig, dict) else None
    if old_hash == cur_hash:
        if journal is not None:  # stopped before the keys were switched: nothing to finish, start again
            (config.key_dir / JOURNAL_NAME).unlink()
        raise IdentityError("No rotation to finish: the config's agent version is signed by the current key")
    child = _child_version(config, cur_hash)
    if child is None:
        raise IdentityError(f"No agent version after {config.agent_version} signed by the current key "
                            f"{cur_hash[:16]}… is in {config.data_dir / 'agent'}; nothing was changed")
    doc, path = child
    if not isinstance(old_hash, str):
        raise IdentityError(f"{config.agent_file} has no signature key")
    _check_proof(doc, old_doc, config)
    family = normalize_algorithm(str(doc["jacsSignature"].get("signingAlgorithm")))
    if family is None:
        raise IdentityError("The new agent version's signing algorithm is not supported")
    algorithm = "pq2025" if family == "pq2025" else "ring-Ed25519"
    signer = signer_from_private_material(family, decrypt_private_key(
        _read(config.private_key_file, "the private key"), password), pub)
    new_version = str(doc["jacsVersion"])
    new_config = _signed_config(config, AgentSigner(signer, config.agent_id, new_version, pub), new_version,
                                algorithm)
    _check_signed(new_config, pub, algorithm, "config")
    _write_config(config, new_config)
    if journal is not None:
        (config.key_dir / JOURNAL_NAME).unlink()
        fsync_dir(config.key_dir)
    return RotationResult(config.agent_id, config.agent_version, new_version, old_hash, cur_hash, algorithm,
                          path, Identity.load(config.path), finished_interrupted=True)


def _child_version(config: AgentConfig, key_hash: str) -> tuple[JSONObject, Path] | None:
    """The newest agent version whose ``jacsPreviousVersion`` is the config's, signed by *key_hash*."""
    best: tuple[str, JSONObject, Path] | None = None
    folder = config.data_dir / "agent"
    try:
        entries = sorted(folder.glob(f"{config.agent_id}:*.json"))
    except OSError:
        return None
    for p in entries:
        try:
            doc = json.loads(p.read_bytes())
        except (OSError, ValueError, RecursionError):
            continue
        if not isinstance(doc, dict) or doc.get("jacsId") != config.agent_id or \
                doc.get("jacsPreviousVersion") != config.agent_version:
            continue
        sig = doc.get("jacsSignature")
        if not isinstance(sig, dict) or sig.get("publicKeyHash") != key_hash:
            continue
        date = str(doc.get("jacsVersionDate") or "")
        if best is None or date > best[0]:
            best = (date, doc, p)
    return None if best is None else (best[1], best[2])


def _check_proof(doc: JSONObject, old_doc: JSONObject, config: AgentConfig) -> None:
    """The child's self-signature and its rotation proof (signed by the old key), as our verifier
    checks them in a store: both versions, both keys from ``public_keys/``."""
    from ..core.agents import AgentDirectory
    from ..core.checks import OK

    ring = KeyRing()
    for d in (old_doc, doc):
        h = str(d["jacsSignature"].get("publicKeyHash"))
        pem, enc = config.public_keys_dir / f"{h}.pem", config.public_keys_dir / f"{h}.enc_type"
        if not pem.exists():
            raise IdentityError(f"The public key {h[:16]}… is not in {config.public_keys_dir}; nothing was changed")
        ring.add(_read(pem, "the public key"), enc.read_text().strip() if enc.exists() else None, "public_keys",
                 key_hash=h)
    verdict = verify_document(doc, ring)
    if not verdict.valid:
        raise IdentityError(f"The new agent version does not verify ({verdict.reason}); nothing was changed")
    record = AgentDirectory.from_documents([old_doc, doc], ring).agent(config.agent_id)
    version = next((v for v in record.versions if v.version == doc.get("jacsVersion")), None) if record else None
    rotation = version.rotation if version is not None else None
    if rotation is None or rotation.status != OK:
        why = rotation.reason if rotation is not None else "it has no rotation proof"
        raise IdentityError(f"The new agent version's rotation proof does not hold: {why}; nothing was changed")
