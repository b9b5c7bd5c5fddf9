import numpy as np

from escrutinio.forensics.multiple_testing import benjamini_hochberg, holm

# Benjamini & Hochberg (1995), JRSS B 57, section 4.1: 15 p-values; at q = 0.05 the
# step-up procedure rejects 4 hypotheses, Bonferroni-type procedures (Holm) reject 3.
BH_EXAMPLE = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459,
              0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.000]


def test_bh_paper_example_rejects_four():
    assert int((benjamini_hochberg(BH_EXAMPLE) <= 0.05).sum()) == 4


def test_holm_paper_example_rejects_three():
    assert int((holm(BH_EXAMPLE) <= 0.05).sum()) == 3


def test_hand_computed_values_and_order():
    p = [0.01, 0.04, 0.03, 0.005]
    np.testing.assert_allclose(holm(p), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(benjamini_hochberg(p), [0.02, 0.04, 0.04, 0.02])


def test_missing_values_are_not_in_the_family():
    out = holm([0.01, None, 0.04])
    assert np.isnan(out[1])
    np.testing.assert_allclose(out[[0, 2]], [0.02, 0.04])
    assert np.isnan(benjamini_hochberg([None])).all()
