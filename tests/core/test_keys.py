import json
import os

import pytest
from conftest import FIXTURE
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from jacs_desktop.core.crypto import generate_private_material, signer_from_private_material, verify_signature
from jacs_desktop.core.errors import KeyDecryptionError, KeyFormatError, PasswordPolicyError
from jacs_desktop.core.keys import (
    WRONG_PASSWORD,
    check_password,
    decrypt_private_key,
    encrypt_private_key,
    password_problems,
)


@pytest.mark.parametrize("alg, length", [("ed25519", 83), ("pq2025", 4896)])
def test_decrypt_fixture_keys(manifest, alg, length):
    agent = manifest["agents"][alg]
    enc = (FIXTURE / agent["key_directory"] / "jacs.private.pem.enc").read_bytes()
    pub = (FIXTURE / agent["key_directory"] / "jacs.public.pem").read_bytes()
    material = decrypt_private_key(enc, agent["password"])
    assert len(material) == length
    family = "ed25519" if alg == "ed25519" else "pq2025"
    signer = signer_from_private_material(family, material, pub)
    sig = signer.sign(b"message")
    assert verify_signature(family, pub, b"message", sig)[0]
    assert not verify_signature(family, pub, b"messagE", sig)[0]


def test_wrong_password_is_a_clear_error(manifest):
    enc = (FIXTURE / "keys/ed25519/jacs.private.pem.enc").read_bytes()
    with pytest.raises(KeyDecryptionError) as exc:
        decrypt_private_key(enc, "Not-The-Password-1")
    assert str(exc.value) == WRONG_PASSWORD


def test_envelope_round_trip_and_format():
    env = encrypt_private_key(b"secret material", "Str0ng!Passw0rd#x")
    d = json.loads(env)
    assert list(d) == ["jacsEncryptedPrivateKeyVersion", "cipher", "kdf", "salt", "nonce", "ciphertext"]
    assert d["kdf"] == {"name": "Argon2id", "version": 19, "m_cost_kib": 19456, "t_cost": 2, "p_cost": 1}
    assert "=" not in d["salt"] + d["nonce"] + d["ciphertext"]
    assert decrypt_private_key(env, "Str0ng!Passw0rd#x") == b"secret material"


@pytest.mark.parametrize(
    "patch, message",
    [
        ({"kdf": {"name": "Argon2id", "version": 19, "m_cost_kib": 4096, "t_cost": 2, "p_cost": 1}}, "policy rejected"),
        ({"kdf": {"name": "Argon2id", "version": 19, "m_cost_kib": 19456, "t_cost": 3, "p_cost": 1}}, "policy rejected"),
        ({"kdf": {"name": "scrypt"}}, "KDF"),
        ({"salt": "AAAA"}, "salt"),
        ({"cipher": "ChaCha20"}, "cipher"),
        ({"jacsEncryptedPrivateKeyVersion": 3}, "version"),
        ({"ciphertext": "!!!"}, "base64url"),
    ],
)
def test_envelope_policy(patch, message):
    d = json.loads(encrypt_private_key(b"x", "Str0ng!Passw0rd#x"))
    d.update(patch)
    with pytest.raises(KeyFormatError) as exc:
        decrypt_private_key(json.dumps(d).encode(), "Str0ng!Passw0rd#x")
    assert message in str(exc.value)


@pytest.mark.parametrize("iterations", [600_000, 100_000])
def test_legacy_pbkdf2_format(iterations):
    salt, nonce = os.urandom(16), os.urandom(12)
    key = PBKDF2HMAC(hashes.SHA256(), 32, salt, iterations).derive(b"legacy-Passw0rd!")
    blob = salt + nonce + AESGCM(key).encrypt(nonce, b"legacy key", None)
    assert decrypt_private_key(blob, "legacy-Passw0rd!") == b"legacy key"
    with pytest.raises(KeyDecryptionError):
        decrypt_private_key(blob, "wrong-Passw0rd!")


@pytest.mark.parametrize("blob", [b"", b"{", b"{}", b"[1]", b"JAB1" + b"x" * 60, b"short"])
def test_damaged_key_files(blob):
    with pytest.raises((KeyFormatError, KeyDecryptionError)):
        decrypt_private_key(blob, "Str0ng!Passw0rd#x")


@pytest.mark.parametrize(
    "password, ok",
    [
        ("Fixture!Ed25519#2024", True),
        ("Fixture!Pq2025#2025", True),
        ("Tr0ub4dor&3", True),
        ("correcthorsebatterystaple", True),
        ("short", False),
        ("password", False),
        ("PASSWORD", False),
        ("aaaaBBBB1!", False),
        ("abcdefG1!", False),
        ("98765xY!z", False),
        ("abababab", False),
        ("        ", False),
    ],
)
def test_password_rules(password, ok):
    assert (password_problems(password) == []) is ok
    if not ok:
        with pytest.raises(PasswordPolicyError):
            check_password(password)


@pytest.mark.parametrize("family", ["ed25519", "pq2025"])
def test_generated_keys_sign_and_verify(family):
    material, pub = generate_private_material(family)
    signer = signer_from_private_material(family, material, pub)
    assert verify_signature(family, pub, b"m", signer.sign(b"m"))[0]
    _other_material, other_pub = generate_private_material(family)
    with pytest.raises(KeyFormatError):
        signer_from_private_material(family, material, other_pub)


def test_legacy_blob_starting_with_a_brace_is_not_taken_for_json():
    """The legacy format begins with a random salt; one salt in 256 starts with '{'."""
    salt, nonce = b"{" + os.urandom(15), os.urandom(12)
    key = PBKDF2HMAC(hashes.SHA256(), 32, salt, 100_000).derive(b"legacy-Passw0rd!")
    blob = salt + nonce + AESGCM(key).encrypt(nonce, b"legacy key", None)
    assert decrypt_private_key(blob, "legacy-Passw0rd!") == b"legacy key"
    with pytest.raises(KeyDecryptionError):
        decrypt_private_key(blob, "wrong-Passw0rd!")
    with pytest.raises(KeyFormatError):
        decrypt_private_key(b'{"not": "an envelope"}', "x")  # real JSON that is not an envelope stays an error
