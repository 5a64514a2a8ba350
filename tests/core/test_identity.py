"""Agent configs (storage-root rules) and creating agents."""

import json
from pathlib import Path

import pytest
from conftest import MANIFEST

from jacs_desktop.core.errors import IdentityError, PasswordPolicyError
from jacs_desktop.core.identity import AgentConfig, Identity, create_agent, storage_root_for
from jacs_desktop.core.verify import verify_document
from jacs_desktop.storage.urls import open_store


def test_fixture_config(fixture_dir):
    agent = MANIFEST["agents"]["ed25519"]
    cfg = AgentConfig.load(fixture_dir / agent["config"])
    assert cfg.root == fixture_dir.resolve()
    assert cfg.data_dir == fixture_dir.resolve() / "jacs_data"
    assert cfg.key_dir == fixture_dir.resolve() / "keys/ed25519"
    assert cfg.agent_id == agent["agent_id"] and cfg.agent_version == agent["agent_version"]
    assert cfg.documents_dir == fixture_dir.resolve() / "documents"
    assert cfg.agent_file.is_file()
    ident = Identity.load(fixture_dir / agent["config"])
    assert ident.public_key_hash == agent["public_key_hash"]


def test_storage_root_rules(tmp_path):
    c = tmp_path / "cfg"
    c.mkdir()
    assert storage_root_for(c, "data", "keys")[0] == c.resolve()
    assert storage_root_for(c, str(c / "data"), "keys")[0] == c.resolve()
    outside = tmp_path / "elsewhere"
    root, d, k = storage_root_for(c, str(outside), "keys")
    assert root == Path(c.anchor) and d == outside and k == c.resolve() / "keys"
    assert storage_root_for(c, str(c), "keys")[0] == Path(c.anchor)  # equal to C counts as outside
    with pytest.raises(IdentityError, match=r"\.\."):
        storage_root_for(c, "../data", "keys")


@pytest.mark.parametrize(
    "content, message",
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "not a JACS config"),
        (b'{"jacs_agent_id_and_version": "nocolon"}', "agentId:agentVersion"),
        (b'{"jacs_agent_id_and_version": "a:b", "jacs_agent_key_algorithm": "RSA-PSS"}', "unsupported"),
        (b'{"jacs_agent_id_and_version": "a:b", "jacs_agent_key_algorithm": "pq2025", "jacs_data_directory": "../x", "jacs_key_directory": "k"}', ".."),
        (b'{"jacs_agent_id_and_version": "a:b", "jacs_agent_key_algorithm": "pq2025", "jacs_data_directory": "d", "jacs_key_directory": "k", "jacs_agent_private_key_filename": "../../etc/shadow"}', "plain file names"),
    ],
)
def test_bad_configs(tmp_path, content, message):
    p = tmp_path / "jacs.config.json"
    p.write_bytes(content)
    with pytest.raises(IdentityError, match=message):
        AgentConfig.load(p)


def test_missing_config(tmp_path):
    with pytest.raises(IdentityError, match="not found"):
        AgentConfig.load(tmp_path / "nope.json")


@pytest.mark.parametrize("alg", ["ring-Ed25519", "pq2025"])
def test_create_agent(tmp_path, alg):
    ident = create_agent(tmp_path / "a", "tester", "Str0ng!Passw0rd#x", algorithm=alg, description="test agent")
    root = tmp_path / "a"
    store = open_store(str(root))
    assert len(store.configs()) == 1
    ring = store.key_ring()
    agent_doc = json.loads(ident.config.agent_file.read_bytes())
    assert agent_doc["name"] == "tester" and agent_doc["jacsType"] == "agent"
    assert verify_document(agent_doc, ring).status == "valid"
    config_doc = json.loads((root / "jacs.config.json").read_bytes())
    v = verify_document(config_doc, ring)
    assert v.status == "valid" and v.kind == "config"
    assert (root / "jacs_keys" / "jacs.private.pem.enc").stat().st_mode & 0o077 == 0
    assert (root / "jacs_data" / "public_keys" / f"{ident.public_key_hash}.enc_type").read_text() == alg
    # load again from disk with the password
    again = Identity.load(root / "jacs.config.json")
    again.unlock("Str0ng!Passw0rd#x")
    assert verify_document(again.signer.new_document({"a": 1}), ring).status == "valid"
    with pytest.raises(IdentityError, match="already exists"):
        create_agent(root, "tester", "Str0ng!Passw0rd#x", algorithm=alg)


def test_create_agent_refuses_weak_password(tmp_path):
    with pytest.raises(PasswordPolicyError):
        create_agent(tmp_path / "a", "tester", "password")
    assert not (tmp_path / "a" / "jacs.config.json").exists()
