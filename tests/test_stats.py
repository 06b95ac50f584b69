import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from labkit.claims import (
    ClaimFailed,
    expect_above,
    expect_detectable,
    expect_no_detectable_difference,
)
from labkit.stats import (
    clopper_pearson,
    compare_models,
    mcnemar_exact,
    paired_comparison,
    seed_interval,
)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 200), st.data())
def test_clopper_pearson_matches_scipy(n, data):
    from scipy.stats import binomtest

    k = data.draw(st.integers(0, n))
    ours = clopper_pearson(k, n)
    ref = binomtest(k, n).proportion_ci(method="exact")
    assert ours[0] == pytest.approx(ref.low, abs=1e-9) and ours[1] == pytest.approx(
        ref.high, abs=1e-9
    )


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 60), st.integers(0, 60))
def test_exact_mcnemar_is_scipys_binomial_test_on_the_discordant_images(b, c):
    from scipy.stats import binomtest

    expected = 1.0 if b + c == 0 else binomtest(b, b + c, 0.5).pvalue
    assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-9)


def _predictions(n, only_a, only_b):
    """Labels and two models' predictions with chosen discordant counts."""
    y = torch.zeros(n, dtype=torch.long)
    a, b = y.clone(), y.clone()
    a[only_a : only_a + only_b] = 1  # A wrong where only B is right
    b[:only_a] = 1  # B wrong where only A is right
    return a, b, y


@pytest.mark.parametrize("only_a, only_b", [(4, 3), (0, 0), (10, 1), (2, 15), (30, 30)])
def test_the_interval_holds_zero_exactly_when_mcnemar_finds_no_difference(only_a, only_b):
    cmp = paired_comparison(*_predictions(450, only_a, only_b))
    assert cmp.only_a == only_a and cmp.only_b == only_b
    assert cmp.low <= cmp.difference <= cmp.high
    assert cmp.detectable == (cmp.p_value < 0.05)
    text = str(cmp)
    assert ("no detectable difference" in text) == (not cmp.detectable)


def test_identical_models_have_a_zero_width_interval():
    cmp = paired_comparison(*_predictions(100, 0, 0))
    assert (cmp.low, cmp.high, cmp.difference) == (0.0, 0.0, 0.0) and not cmp.detectable


def test_paired_comparison_refuses_mismatched_input():
    a, b, y = _predictions(10, 1, 1)
    with pytest.raises(ValueError, match="one prediction per label"):
        paired_comparison(a[:5], b, y)
    with pytest.raises(ValueError, match="names"):
        paired_comparison(a, b, y, names="AB")


def test_compare_models_scores_both_on_the_same_images(baseline, data):
    cmp = compare_models(baseline, baseline, data.test, names=("base", "same"))
    assert cmp.n == len(data.test) and not cmp.detectable and cmp.names == ("base", "same")


def test_seed_interval_matches_scipys_t_interval():
    from scipy import stats

    values = [0.91, 0.93, 0.92, 0.95, 0.90]
    ours = seed_interval(values)
    mean = sum(values) / len(values)
    low, high = stats.t.interval(0.95, len(values) - 1, loc=mean, scale=stats.sem(values))
    assert ours.mean == pytest.approx(mean) and ours.low == pytest.approx(low)
    assert ours.high == pytest.approx(high) and ours.n == 5
    with pytest.raises(ValueError, match="two seeds"):
        seed_interval([0.9])
    with pytest.raises(ValueError, match="values"):
        seed_interval([0.9, math.nan])


def test_claims_about_comparisons():
    better_b = paired_comparison(*_predictions(450, 1, 20), names=("base", "tuned"))
    expect_detectable(better_b, "tuned")
    with pytest.raises(ClaimFailed, match="base"):
        expect_detectable(better_b, "base")
    with pytest.raises(ClaimFailed, match="no detectable"):
        expect_no_detectable_difference(better_b)
    same = paired_comparison(*_predictions(450, 3, 4))
    expect_no_detectable_difference(same)
    with pytest.raises(ValueError, match="better"):
        expect_detectable(same, "C")
    assert expect_above("speed-up", 1.5, 1.0) is None
    with pytest.raises(ClaimFailed, match="expected above"):
        expect_above("speed-up", 0.9, 1.0)
