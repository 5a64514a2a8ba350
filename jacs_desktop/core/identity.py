"""Agent identities: a ``jacs.config.json`` with its key folder (SPEC 1.1, 1.2, 2.4).

Loading reads only the files the config names; creating writes the files jacs
0.15 writes for a new agent, so the real library loads and signs with it.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .crypto import generate_private_material, signer_from_private_material
from .durable import fsync_dir
from .errors import IdentityError, KeyDecryptionError
from .jsontypes import JSONObject
from .keys import check_password, decrypt_private_key, encrypt_private_key
from .pubkey import normalize_algorithm, public_key_hash
from .sign import AGENT_SCHEMA, CONFIG_SCHEMA, AgentSigner, pretty_json, rfc3339_now

__all__ = ["AgentConfig", "Identity", "create_agent", "write_file_atomic", "storage_root_for"]

MAX_CONFIG_BYTES = 1 << 20


def write_file_atomic(path: Path, data: bytes, mode: int = 0o600, *, exclusive: bool = False) -> bool:
    """Write via a temp file in the same folder, fsync, rename. Returns False if
    *exclusive* and the file already exists (versions are immutable)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if exclusive and path.exists():
        return False
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if exclusive:
            try:
                os.link(tmp, path)  # atomic create-if-absent
            except FileExistsError:
                return False
            except OSError:
                if path.exists():
                    return False
                os.replace(tmp, path)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    fsync_dir(path.parent)
    return True


def sweep_dead_temp_files(folder: Path, name_endings: tuple[str, ...]) -> int:
    """Remove ``.{name}.{pid}.{hex}.tmp`` files that :func:`write_file_atomic` left
    when its process died (kill -9, power loss), for names ending in *name_endings*.
    Files of live processes are left alone. Returns how many were removed."""
    removed = 0
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return 0
    for p in entries:
        n = p.name
        if not (n.startswith(".") and n.endswith(".tmp")):
            continue
        parts = n[1:-4].rsplit(".", 2)
        if len(parts) != 3 or not parts[1].isdigit() or not parts[0].endswith(name_endings):
            continue
        pid = int(parts[1])
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
            continue  # its writer is alive
        except ProcessLookupError:
            pass
        except (PermissionError, OSError):
            continue
        try:
            p.unlink()
            removed += 1
        except OSError:
            pass
    return removed


def _inside(child: Path, parent: Path) -> bool:
    try:
        rel = child.relative_to(parent)
    except ValueError:
        return False
    return str(rel) not in ("", ".")


def _dir_setting(name: str, d: object) -> str:
    if not isinstance(d, str) or not d:
        raise IdentityError(f"The config has no {name}")
    if ".." in PurePosixPath(d.replace("\\", "/")).parts:
        raise IdentityError(f"{name} must not contain '..' ({d!r})")
    return d


def storage_root_for(config_dir: Path, data_dir: object, key_dir: object) -> tuple[Path, Path, Path]:
    """SPEC 1.1: (storage root, absolute data dir, absolute key dir).

    *data_dir* and *key_dir* are the config's values as found: anything but a
    non-empty path without ``..`` raises :class:`IdentityError`.
    """
    data_dir = _dir_setting("jacs_data_directory", data_dir)
    key_dir = _dir_setting("jacs_key_directory", key_dir)
    c = config_dir.resolve()
    dd, kd = Path(data_dir), Path(key_dir)
    outside = [p for p in (dd, kd) if p.is_absolute() and not _inside(p, c)]
    if outside:
        root = Path(c.anchor)
        return root, (dd if dd.is_absolute() else c / dd), (kd if kd.is_absolute() else c / kd)
    return c, c / dd if not dd.is_absolute() else dd, c / kd if not kd.is_absolute() else kd


@dataclass
class AgentConfig:
    path: Path
    data: JSONObject
    root: Path
    data_dir: Path
    key_dir: Path
    agent_id: str
    agent_version: str
    algorithm: str
    private_key_file: Path
    public_key_file: Path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> AgentConfig:
        p = Path(path).expanduser()
        try:
            raw = p.read_bytes()
        except FileNotFoundError:
            raise IdentityError(f"Config file not found: {p}") from None
        except OSError as exc:
            raise IdentityError(f"Cannot read config {p}: {exc.strerror or exc}") from None
        if len(raw) > MAX_CONFIG_BYTES:
            raise IdentityError(f"{p} is too large to be a JACS config")
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise IdentityError(f"{p} is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise IdentityError(f"{p} is not a JACS config (not a JSON object)")
        idv = data.get("jacs_agent_id_and_version")
        if not isinstance(idv, str) or idv.count(":") != 1:
            raise IdentityError(f"{p}: jacs_agent_id_and_version must be 'agentId:agentVersion'")
        agent_id, agent_version = idv.split(":")
        alg = data.get("jacs_agent_key_algorithm")
        if not isinstance(alg, str) or normalize_algorithm(alg) is None:
            raise IdentityError(f"{p}: unsupported jacs_agent_key_algorithm {alg!r}")
        root, data_dir, key_dir = storage_root_for(
            p.parent, data.get("jacs_data_directory"), data.get("jacs_key_directory")
        )
        priv = data.get("jacs_agent_private_key_filename") or "jacs.private.pem.enc"
        pub = data.get("jacs_agent_public_key_filename") or "jacs.public.pem"
        for n in (priv, pub):
            if not isinstance(n, str) or "/" in n or "\\" in n or n in (".", ".."):
                raise IdentityError(f"{p}: key file names must be plain file names ({n!r})")
        return cls(p.resolve(), data, root, data_dir, key_dir, agent_id, agent_version, alg,
                   key_dir / priv, key_dir / pub)

    @property
    def documents_dir(self) -> Path:
        """Where jacs 0.15 writes documents: ``documents/`` at the storage root."""
        return self.root / "documents"

    @property
    def public_keys_dir(self) -> Path:
        return self.data_dir / "public_keys"

    @property
    def agent_file(self) -> Path:
        return self.data_dir / "agent" / f"{self.agent_id}:{self.agent_version}.json"


@dataclass
class Identity:
    """An agent you can sign as (once unlocked)."""

    config: AgentConfig
    public_key: bytes
    _signer: AgentSigner | None = field(default=None, repr=False)

    @classmethod
    def load(cls, config_path: str | os.PathLike[str]) -> Identity:
        cfg = AgentConfig.load(config_path)
        try:
            pub = cfg.public_key_file.read_bytes()
        except OSError as exc:
            raise IdentityError(
                f"Cannot read the agent's public key {cfg.public_key_file}: {exc.strerror or exc}") from None
        return cls(cfg, pub)

    @property
    def agent_id(self) -> str:
        return self.config.agent_id

    @property
    def agent_version(self) -> str:
        return self.config.agent_version

    @property
    def algorithm(self) -> str:
        return self.config.algorithm

    @property
    def public_key_hash(self) -> str:
        return public_key_hash(self.public_key)

    @property
    def unlocked(self) -> bool:
        return self._signer is not None

    def unlock(self, password: str) -> AgentSigner:
        """Decrypt the private key (once; later calls reuse it)."""
        if self._signer is not None:
            return self._signer
        try:
            enc = self.config.private_key_file.read_bytes()
        except OSError as exc:
            raise IdentityError(
                f"Cannot read the private key {self.config.private_key_file}: {exc.strerror or exc}") from None
        material = decrypt_private_key(enc, password)
        family = normalize_algorithm(self.algorithm)
        if family is None:  # never: AgentConfig.load refuses such a config
            raise IdentityError(f"Unsupported key algorithm {self.algorithm!r}")
        signer = signer_from_private_material(family, material, self.public_key)
        self._signer = AgentSigner(signer, self.agent_id, self.agent_version, self.public_key)
        return self._signer

    def lock(self) -> None:
        self._signer = None

    @property
    def signer(self) -> AgentSigner:
        if self._signer is None:
            raise KeyDecryptionError("The agent's private key is locked; a password is needed")
        return self._signer


def create_agent(
    directory: str | os.PathLike[str],
    name: str,
    password: str,
    *,
    algorithm: str = "ring-Ed25519",
    description: str = "JACS agent",
    agent_type: str = "ai",
    data_directory: str = "jacs_data",
    key_directory: str = "jacs_keys",
    config_name: str = "jacs.config.json",
) -> Identity:
    """Create a new agent the way jacs 0.15 does; returns it unlocked.

    Writes ``{key_dir}/jacs.private.pem.enc`` (V2 envelope), ``jacs.public.pem``
    (raw key bytes), ``{data_dir}/agent/{id}:{version}.json`` (self-signed),
    ``{data_dir}/public_keys/{hash}.pem|.enc_type`` and the signed config.
    """
    family = normalize_algorithm(algorithm)
    if family is None:
        raise IdentityError(f"Unsupported algorithm {algorithm!r}; use ring-Ed25519 or pq2025")
    algorithm = "ring-Ed25519" if family == "ed25519" else "pq2025"
    if agent_type not in ("ai", "human", "human-org", "hybrid"):
        raise IdentityError(f"Unknown agent type {agent_type!r}")
    if not isinstance(name, str) or not name.strip():
        raise IdentityError("An agent needs a name")
    check_password(password)
    base = Path(directory).expanduser().resolve()
    config_path = base / config_name
    if config_path.exists():
        raise IdentityError(f"{config_path} already exists; not overwriting an existing agent")
    _root, data_dir, key_dir = storage_root_for(base, data_directory, key_directory)
    if (key_dir / "jacs.private.pem.enc").exists():
        raise IdentityError(f"{key_dir} already holds a private key; not overwriting it")

    material, public = generate_private_material(family)
    signer = signer_from_private_material(family, material, public)
    agent_id, agent_version = str(uuid.uuid4()), str(uuid.uuid4())
    agent_signer = AgentSigner(signer, agent_id, agent_version, public)
    key_hash = agent_signer.public_key_hash

    now = rfc3339_now()
    agent_doc = agent_signer.finish(
        {
            "$schema": AGENT_SCHEMA,
            "description": description,
            "jacsAgentType": agent_type,
            "jacsId": agent_id,
            "jacsLevel": "config",
            "jacsOriginalDate": now,
            "jacsOriginalVersion": agent_version,
            "jacsType": "agent",
            "jacsVersion": agent_version,
            "jacsVersionDate": now,
            "name": name,
        }
    )
    config_id, config_version = str(uuid.uuid4()), str(uuid.uuid4())
    config_doc = agent_signer.finish(
        {
            "$schema": CONFIG_SCHEMA,
            "jacsId": config_id,
            "jacsLevel": "config",
            "jacsOriginalDate": now,
            "jacsOriginalVersion": config_version,
            "jacsType": "config",
            "jacsVersion": config_version,
            "jacsVersionDate": now,
            "jacs_agent_id_and_version": f"{agent_id}:{agent_version}",
            "jacs_agent_key_algorithm": algorithm,
            "jacs_agent_private_key_filename": "jacs.private.pem.enc",
            "jacs_agent_public_key_filename": "jacs.public.pem",
            "jacs_data_directory": data_directory,
            "jacs_default_storage": "fs",
            "jacs_key_directory": key_directory,
        }
    )
    envelope = encrypt_private_key(material, password, check=False)
    for d in (key_dir, data_dir):
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_file_atomic(key_dir / "jacs.private.pem.enc", envelope, 0o600)
    write_file_atomic(key_dir / "jacs.public.pem", public, 0o644)
    ignore = b"*.pem\n*.pem.enc\n.jacs_password\n*.key\n*.key.enc\n"
    write_file_atomic(key_dir / ".gitignore", ignore, 0o644)
    write_file_atomic(data_dir / "agent" / f"{agent_id}:{agent_version}.json", pretty_json(agent_doc), 0o644)
    write_file_atomic(data_dir / "public_keys" / f"{key_hash}.pem", public, 0o644)
    write_file_atomic(data_dir / "public_keys" / f"{key_hash}.enc_type", algorithm.encode("ascii"), 0o644)
    write_file_atomic(config_path, pretty_json(config_doc), 0o644)
    identity = Identity(AgentConfig.load(config_path), public)
    identity._signer = agent_signer
    return identity
