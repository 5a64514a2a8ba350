"""JSON content as varied as real documents, for benchmarks and property tests.

Real stores hold more than ASCII keys and tidy decimals: about half of real
documents have a key with an emoji or another character at or above U+E000
(whose UTF-16 order differs from the code-point order), an integral float
(``100.0``) or a tiny float (``1e-7``), and some are deeply nested or carry
long strings. :func:`varied_payload` makes such content from a seed, the same
content for the same seed; :func:`old_fast_path_refuses` says whether the
canonical JSON of the first fast path (before the general one) would have
gone through the pure-Python reference.
"""

from __future__ import annotations

import random
from typing import Any

# keys as people and programs write them: ASCII, accented, other scripts, emoji (astral and with
# U+FE0F), fullwidth and private-use characters (>= U+E000, where UTF-16 order differs)
ASCII_KEYS = ["id", "name", "amount", "currency", "status", "items", "note", "createdAt", "tags", "meta",
              "score", "ratio", "count", "owner", "url", "type", "value", "children", "z", "A", "_x", "a-b"]
UNICODE_KEYS = ["café", "naïve", "größe", "中文", "日本語", "ключ", "δ", "ñandú", "Ω", "✓done", "€"]
EMOJI_KEYS = ["🚀", "😀 smile", "status🔥", "❤️", "👍🏽", "🇩🇪", "✅", "⭐️rating", "📦items", "🧪"]
HIGH_BMP_KEYS = ["\uff21fullwidth", "\ue000private", "\ufb01ligature", "\ufe0f", "\uffeb"]
WORDS = ["lorem", "ipsum", "dolor", "sit", "amet", "naïve", "café", "über", "東京", "Москва", "😀", "🚀",
         "❤️", "✓", "e-07", "1e-07", "\\", '"quoted"', "tab\there", "line\nbreak", "\u2028", "\x01", "€", "𝔘"]


def _key(rng: random.Random, exotic: float) -> str:
    r = rng.random()
    if r < exotic * 0.5:
        return rng.choice(EMOJI_KEYS)
    if r < exotic * 0.7:
        return rng.choice(HIGH_BMP_KEYS)
    if r < exotic:
        return rng.choice(UNICODE_KEYS)
    return rng.choice(ASCII_KEYS)


def _text(rng: random.Random, long: bool = False) -> str:
    n = rng.randint(200, 3000) if long else rng.randint(1, 8)
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _number(rng: random.Random, odd: float) -> int | float:
    r = rng.random()
    if r < odd * 0.4:
        return float(rng.randint(-10**6, 10**6))  # integral float: 100.0
    if r < odd * 0.7:
        return rng.choice([1e-7, 2.5e-9, 3.14e-5, 1e-6, 7e-12, -4.2e-8, 5e-324, 1.5e-300])  # tiny
    if r < odd:
        return rng.choice([-0.0, 0.0, 9007199254740991.0, 1e15 + 0.5, 123456789.125])
    if r < 0.6:
        return rng.randint(-10**9, 10**9)
    return round(rng.uniform(-1e4, 1e4), rng.randint(0, 6)) + 0.001


def _value(rng: random.Random, depth: int, exotic: float, odd: float) -> Any:
    r = rng.random()
    if depth > 0 and r < 0.25:
        return {_key(rng, exotic): _value(rng, depth - 1, exotic, odd) for _ in range(rng.randint(1, 6))}
    if depth > 0 and r < 0.4:
        return [_value(rng, depth - 1, exotic, odd) for _ in range(rng.randint(0, 5))]
    if r < 0.7:
        return _text(rng)
    if r < 0.95:
        return _number(rng, odd)
    return rng.choice([True, False, None])


def varied_value(rng: random.Random, *, exotic: float = 0.3, odd: float = 0.2, depth: int = 4) -> Any:
    """Any JSON value (an object most of the time) with the mix of real content."""
    return _value(rng, depth, exotic, odd)


def varied_payload(i: int) -> dict[str, Any]:
    """The content of document *i*: an invoice-like object; about half need more than ASCII sorting
    and Python's float text (an emoji or high key, an integral or tiny float); some are deeply nested
    or carry a long text."""
    rng = random.Random(i)
    plain = rng.random() < 0.5  # ASCII keys and tidy decimals only
    exotic, odd = (0.0, 0.0) if plain else (0.15, 0.1)
    doc: dict[str, Any] = {
        "invoice": f"INV-{i:06d}",
        "amount": round(100 + i * 0.25 + rng.random(), 2) + 0.001,
        "currency": rng.choice(["EUR", "USD", "JPY", "CHF"]),
        "lines": [{"sku": f"S{j}", "qty": j + 1, "price": round(rng.uniform(1, 500), 2) + 0.001,
                   "note": _text(rng)} for j in range(rng.randint(1, 8))],
        "customer": {"name": rng.choice(["Zoë Ångström", "李雷", "Ольга", "Ana", "Bob"]), "vip": rng.random() < 0.1},
    }
    if not plain:
        # at least one of the things real documents have: pick one for sure, more by chance
        must = rng.choice(["emoji", "integral", "tiny", "high"])
        if must == "emoji" or rng.random() < 0.3:
            doc[rng.choice(EMOJI_KEYS)] = _text(rng)
        if must == "integral" or rng.random() < 0.3:
            doc["total"] = float(rng.randint(1, 10**6))
        if must == "tiny" or rng.random() < 0.2:
            doc["epsilon"] = rng.choice([1e-7, 3.5e-9, 2e-5, 1e-6])
        if must == "high" or rng.random() < 0.1:
            doc[rng.choice(HIGH_BMP_KEYS)] = {rng.choice(EMOJI_KEYS): 1, rng.choice(HIGH_BMP_KEYS): 2}
    if rng.random() < 0.3:
        doc["extra"] = varied_value(rng, exotic=exotic, odd=odd, depth=3)
    if rng.random() < 0.1:  # deep nesting
        v: Any = _text(rng)
        for _ in range(rng.randint(20, 60)):
            v = {_key(rng, exotic): v} if rng.random() < 0.5 else [v]
        doc["deep"] = v
    if rng.random() < 0.1:  # a long text
        doc["body"] = _text(rng, long=True)
    return doc


def old_fast_path_refuses(value: Any) -> bool:
    """True when the first fast path sent *value* to the pure-Python reference: a key with a character
    >= U+E000, an integral float, or a float outside 1e-4 <= |x| < 1e16."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            if any(k and max(k) >= "\ue000" for k in v):
                return True
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        elif type(v) is float and (v == int(v) or not 1e-4 <= abs(v) < 1e16):
            return True
    return False
