"""replace_leaves: the members of the given types replaced, copies made only on the way to them."""

from jacs_desktop.core.canonical import IntegralFloat
from jacs_desktop.core.jsontypes import replace_leaves


def test_only_the_path_to_a_replaced_member_is_copied():
    untouched = {"a": [1, "x", {"b": None}], "c": {"d": True}}
    changed = {"e": [1, IntegralFloat(5)], "f": "text"}
    tree = {"u": untouched, "v": changed, "w": [untouched, 2.5]}
    out = replace_leaves(tree, (IntegralFloat,), float)
    assert out == {"u": untouched, "v": {"e": [1, 5.0], "f": "text"}, "w": [untouched, 2.5]}
    assert type(out["v"]["e"][1]) is float
    assert out is not tree and out["v"] is not changed and out["v"]["e"] is not changed["e"]
    assert out["u"] is untouched and out["w"] is tree["w"]  # (nothing replaced there: shared)
    assert type(changed["e"][1]) is IntegralFloat  # the input is not changed


def test_nothing_to_replace_gives_the_same_object_and_types_match_exactly():
    tree = [{"a": 1, "b": [True, None, "s"]}, 3]
    assert replace_leaves(tree, (float,), str) is tree
    # bool is an int subclass: only exact types are replaced
    assert replace_leaves([True, 1], (int,), lambda x: -x) == [True, -1]
    assert replace_leaves(2.0, (float,), int) == 2 and replace_leaves("s", (float,), int) == "s"
