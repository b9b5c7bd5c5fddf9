"""canonical_json: the C encoder's fast path gives the exact RFC 8785 bytes of the
pure-Python form, and the exact path is kept where the two would differ."""
import pytest
from hypothesis import given, settings as hsettings, strategies as st

from escrutinio.publication.entry import CanonicalError, _exact, canonical_json

# keys and strings that reach both sides of U+D800: astral characters sort before
# U+E000..U+FFFF in UTF-16 code units and after them in code points
_TEXT = st.text(alphabet=st.sampled_from(["a", "Z", "ñ", "\x7f", "\n", '"', "\\", "\ue000", "\uffee", "😀", "𝄞", "中"]),
                max_size=4)
_VALUES = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | _TEXT,
                       lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
                       max_leaves=20)


@hsettings(max_examples=400, deadline=None)
@given(_VALUES)
def test_canonical_json_fast_path_is_the_exact_form(value):
    assert canonical_json(value) == _exact(value)


def test_canonical_json_orders_astral_member_names_by_utf16_code_units():
    # U+1F600 is D83D DE00 in UTF-16: before U+E000 there, after it by code point
    assert canonical_json({"\ue000": 1, "😀": 2}) == '{"😀":2,"\ue000":1}'.encode("utf-8")


def test_canonical_json_still_refuses_floats():
    with pytest.raises(CanonicalError):
        canonical_json({"a": [1, 2.5]})
