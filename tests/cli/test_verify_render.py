"""The JSON report's lines: ``verdict_json`` writes a verdict directly (checks kept as text) and
must give exactly ``json.dumps(verdict.to_dict(), ensure_ascii=False)``, whatever the fields hold."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from jacs_desktop.cli.verify import verdict_json
from jacs_desktop.core.checks import Check
from jacs_desktop.core.verify import Verdict

_texts = st.one_of(st.none(), st.text(max_size=30), st.sampled_from(["ok", "failed", "…", '"q"', "\\", "\u2028", "😀",
                                                                     "\x00\x1f", "\ud800"]))
_checks = st.lists(st.builds(Check, st.text(max_size=12), st.sampled_from(["ok", "failed", "warning", "skipped"]),
                             st.text(max_size=40)), max_size=6)


@settings(max_examples=300, deadline=None)
@given(_texts, _texts, _texts, _texts, _texts, _texts, _texts, _texts, _checks,
       st.sampled_from(["valid", "invalid", "error"]), st.sampled_from(["document", "agent", "config", "unknown"]))
def test_a_line_is_what_json_dumps_writes(i, ver, signer, sver, name, alg, pkh, path, checks, status, kind):
    v = Verdict(status, kind, i, ver, signer, sver, name, alg, pkh, checks, path)
    line = verdict_json(v)
    assert line == json.dumps(v.to_dict(), ensure_ascii=False)
    assert line == verdict_json(v)  # (the second time from the kept check text)


def test_other_fields_take_the_general_encoder():
    v = Verdict("valid", "document", "a", "b", checks=[Check("hash", "ok", "x")], trust="trusted", trust_reason="pinned")
    assert verdict_json(v) == json.dumps(v.to_dict(), ensure_ascii=False) and '"trust": "trusted"' in verdict_json(v)
    odd = Verdict("valid", "document", 5, ["x"], checks=[Check("n", "ok", 7)])  # (not text: not from a parse)
    assert verdict_json(odd) == json.dumps(odd.to_dict(), ensure_ascii=False)
