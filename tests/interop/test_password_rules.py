"""Our password rules give the library's verdict (jacs refuses weak passwords on agent creation)."""

import pytest

jacs = pytest.importorskip("jacs")
from jacs import SimpleAgent  # noqa: E402

from jacs_desktop.core.keys import password_problems  # noqa: E402

SAMPLES = [
    "short", "password", "Password1", "PASSWORD", "aaaaBBBB1!", "abcdefG1!", "Tr0ub4dor&3",
    "correcthorsebatterystaple", "abcdefgh", "ABCDEFGHIJ", "1234567890123", "Fixture!Ed25519#2024",
    "zzzz1234ABcd", "qwertyuiop", "P@ssw0rd", "letmein12", "monkey123", "aB3$aB3$", "Xy9!Xy9!Xy9!",
    "        spaces  ", "ñandú-Çafé-9", "98765xY!z", "abababab", "Ab1!", "12345678", "iloveyou",
    "sunshine", "football", "trustno1", "welcome1", "qwerty123", "Zq8#mN2$", "hunter22",
    "qwerty12", "letmein1", "zxcvbnm1", "princess", "asdfghjk", "monkey12", "passw0rd", "baseball",
    "superman", "letmein123", "welcome123", "asdfghjkl", "iloveyou1", "football1", "sunshine1",
    "princess1", "qwerty12345", "admin12345", "zxcvbnm123", "abcdefg1", "987654321", "0123456789",
    "123123123", "12341234", "letmein", "Password123!", "changeme1", "q1w2e3r4", "1q2w3e4r",
]


@pytest.mark.parametrize("password", SAMPLES)
def test_password_verdict_matches_library(tmp_path, password):
    try:
        SimpleAgent.create_agent(
            name="pw", password=password, algorithm="ed25519", data_directory=str(tmp_path / "d"),
            key_directory=str(tmp_path / "k"), config_path=str(tmp_path / "c.json"), agent_type="ai",
            description="", domain="", default_storage="fs",
        )
        library_ok = True
    except Exception as exc:
        assert "encrypt private key" in str(exc) or "assword" in str(exc), exc
        library_ok = False
    assert (password_problems(password) == []) == library_ok, password_problems(password)
