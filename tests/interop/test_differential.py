"""Our verdicts against the real jacs 0.15.0 library, on thousands of seeded variants.

The normal suite runs one seed (about 4,000 distinct cases); a larger run is
on demand: ``JACS_DIFFERENTIAL_SEEDS=20 python -m pytest tests/interop/test_differential.py -s``
(each seed adds about 4,000 cases).  ``JACS_DIFFERENTIAL_REPORT=FILE`` writes
every case where we are stricter, with our reason and the library's, as JSON.
"""

from __future__ import annotations

import collections
import json
import os

import pytest

pytest.importorskip("jacs", reason="the jacs test extra is not installed")

from . import differential as D

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return D.build_world(tmp_path_factory.mktemp("differential"))


def test_the_library_documents_are_valid_both_ways(world):
    """Every base document: the library and we say valid (else the mutations prove nothing)."""
    for name, text in world.bases.items():
        ok, why = world.oracle(text)
        assert ok, (name, why)
        v = world.ours(text)
        assert v.status == "valid", (name, [c.to_dict() for c in v.checks if c.status != "ok"])


def test_no_false_valid_on_seeded_mutations(world):
    seeds = int(os.environ.get("JACS_DIFFERENTIAL_SEEDS", "1"))
    total = D.Outcome()
    for seed in range(1, seeds + 1):
        out = D.run(world, seed, per_base=200)
        total.cases += out.cases
        total.agree += out.agree
        total.library_valid += out.library_valid
        total.critical += out.critical
        total.stricter += out.stricter
        total.unexplained += out.unexplained
    print("\ndifferential:", total.summary())
    by_check = collections.Counter()
    for row in total.stricter:
        by_check[row["our_reason"][:100]] += 1
    for reason, n in by_check.most_common():
        print(f"  stricter x{n}: {reason}")
    report = os.environ.get("JACS_DIFFERENTIAL_REPORT")
    if report:
        with open(report, "w", encoding="utf-8") as f:
            json.dump({"summary": total.summary(), "critical": total.critical, "stricter": total.stricter},
                      f, indent=1, ensure_ascii=False)
    assert total.cases >= 2000 * seeds
    # enough of both verdicts that the comparison means something
    assert total.library_valid >= 200 and total.cases - total.library_valid >= 1000
    assert total.critical == [], total.critical[:10]
    assert total.unexplained == [], total.unexplained[:10]
