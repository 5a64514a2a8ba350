"""The signature's base64 is decoded in C (binascii strict mode): the same texts pass and fail,
with the same kind of error, as the standard library's validated decode plus the canonical check."""

import base64
import binascii
import random

import pytest

from jacs_desktop.core.verify import _b64decode_strict


def _reference(text: str) -> bytes:
    raw = base64.b64decode(text.encode("ascii"), validate=True)
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("not canonical")
    return raw


def _outcome(fn, text: str) -> tuple:
    try:
        return ("ok", fn(text))
    except binascii.Error:
        return ("base64",)
    except UnicodeEncodeError:
        return ("not ascii",)
    except ValueError:
        return ("not canonical",)


def _cases() -> list[str]:
    rnd = random.Random(2026)
    alphabet = "ABCab01+/=-_ \n\t\u00e9.QRz"
    out = ["", "QQ==", "QR==", "QQ=", "Q===", "QQ", "=QQ=", "QQ==QQ==", "QUJD", "QUJ D", "QUJD\n", "QU=D", "QQ==\n"]
    out += ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 12))) for _ in range(20_000)]
    sig = base64.b64encode(bytes(range(64))).decode()
    for i in range(len(sig)):
        out += [sig[:i] + ch + sig[i + 1:] for ch in "A=+/_-.\n "]
        out.append(sig[:i] + sig[i + 1:])
    return out


def test_same_outcome_as_the_validated_decode() -> None:
    cases = _cases()
    differ = [c for c in cases if _outcome(_b64decode_strict, c) != _outcome(_reference, c)]
    assert differ == []
    # (the cases reach every outcome, so the comparison is not empty)
    kinds = {_outcome(_reference, c)[0] for c in cases}
    assert kinds == {"ok", "base64", "not ascii", "not canonical"}


@pytest.mark.parametrize("text", ["QR==", "QUJ="])
def test_non_zero_padding_bits_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="padding bits"):
        _b64decode_strict(text)
