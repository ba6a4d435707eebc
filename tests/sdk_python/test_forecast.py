"""facelite.forecast and facelite.skin_context: the model's behaviour on small, known series."""

from __future__ import annotations

import math

import numpy as np
import pytest

from facelite.errors import HistoryError
from facelite.forecast import (MIN_CAPTURES, MIN_SPAN_DAYS, forecast_score, likelihood_words, mixture_quantile,
                               normal_cdf, risk_threshold)
from facelite.skin_context import associate, parse_context, student_t_quantile


def _noisy_line(level: float, slope: float, n: int = 20, sd: float = 2.0, seed: int = 0, span: float = 60.0):
    rng = np.random.default_rng(seed)
    days = np.sort(rng.uniform(0, span, n))
    days[0], days[-1] = 0.0, span
    return days, np.round(level + slope * days + rng.normal(0, sd, n))


def test_normal_cdf_matches_erf_to_within_the_stated_error():
    x = np.linspace(-6, 6, 1201)
    exact = np.array([0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x])
    assert np.max(np.abs(normal_cdf(x) - exact)) < 1.5e-7


def test_mixture_quantiles_of_one_gaussian_are_its_quantiles():
    w, m, s = np.array([1.0]), np.array([[10.0]]), np.array([[2.0]])
    assert mixture_quantile(0.9, w, m, s)[0] == pytest.approx(10 + 1.2815516 * 2, abs=1e-5)
    assert mixture_quantile(0.5, w, m, s)[0] == pytest.approx(10.0, abs=1e-6)


def test_a_flat_noisy_series_forecasts_its_level_with_no_clear_trend():
    days, scores = _noisy_line(75, 0.0)
    f = forecast_score(days, scores, horizon_days=30, concern="redness")
    assert f.enough_data and f.trend == "no clear trend"
    assert f.lower < 75 < f.upper and abs(f.mean - 75) < 5
    assert f.capture_lower <= f.lower and f.capture_upper >= f.upper  # a single capture adds its noise
    assert f.noise_sd == pytest.approx(2.0, abs=1.0)


def test_a_falling_series_is_worsening_and_its_risk_of_leaving_the_band_grows():
    days, scores = _noisy_line(85, -0.3, seed=1)
    f = forecast_score(days, scores, horizon_days=30, concern="pigmentation")
    assert f.current_band == "fair" and f.trend == "worsening" and f.p_worse > 0.95
    assert f.mean == pytest.approx(85 - 0.3 * 90, abs=6)
    assert f.threshold == 39.5 and f.risk < 0.01
    later = forecast_score(days, scores, horizon_days=90)  # about 40 by then: near the edge
    assert 0.2 < later.risk < 0.8 and later.upper - later.lower > f.upper - f.lower
    assert "Chance it is below 40 (attention)" in f.risk_sentence


def test_a_rising_series_is_improving():
    days, scores = _noisy_line(45, 0.25, seed=2)
    assert forecast_score(days, scores).trend == "improving"


def test_the_interval_widens_with_the_horizon_along_the_path():
    days, scores = _noisy_line(70, 0.0, n=8, seed=3)
    path = forecast_score(days, scores, horizon_days=60).path
    widths = [p.upper - p.lower for p in path]
    assert [p.days for p in path] == list(range(1, 61))
    assert widths[0] < widths[13] < widths[29] < widths[59]  # (the cycle term's share varies with its phase)


@pytest.mark.parametrize("days, scores, phrase", [
    ([0, 10, 20, 30], [70, 71, 69, 70], "4 captures over 30 days"),
    ([0, 1, 2, 3, 4, 5, 6, 7], [70] * 8, "8 captures over 7 days"),
    ([], [], "0 captures over 0 days"),
])
def test_below_the_minimum_there_is_no_forecast_and_the_message_says_what_is_missing(days, scores, phrase):
    f = forecast_score(days, scores)
    assert not f.enough_data and f.mean is None and f.risk is None
    assert f.message == (f"not enough data: {phrase}; a forecast needs at least {MIN_CAPTURES} captures spanning "
                         f"{MIN_SPAN_DAYS:g} days")
    assert f.to_json()["enough_data"] is False and "path" not in f.to_json()


def test_irregular_gaps_repeated_times_and_unsorted_input_are_taken_as_they_come():
    days = [40.0, 0.0, 0.0, 0.01, 3.0, 33.0, 40.0, 12.5]
    scores = [60, 70, 69, 71, 68, 62, 61, 66]
    f = forecast_score(days, scores, horizon_days=14)
    assert f.enough_data and f.trend == "worsening" and f.n_captures == 8 and f.span_days == 40


def test_a_strong_28_day_cycle_is_picked_up_and_a_flat_series_is_not_given_one():
    days = np.arange(0, 112, 2.0)
    cyclic = 70 + 6 * np.sin(2 * np.pi * days / 28) + np.random.default_rng(4).normal(0, 1, days.size)
    assert forecast_score(days, cyclic).cycle_probability > 0.99
    flat_days, flat = _noisy_line(70, 0.0, n=56, seed=5, span=112)
    assert forecast_score(flat_days, flat).cycle_probability < 0.5


def test_horizon_and_interval_outside_their_range_are_refused():
    days, scores = _noisy_line(70, 0.0)
    for h in (6, 91, 30.5):
        with pytest.raises(ValueError, match="whole number of days from 7 to 90"):
            forecast_score(days, scores, horizon_days=h)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        forecast_score(days, scores, interval=1.0)


def test_the_risk_threshold_is_the_lower_edge_of_the_current_band_as_rounded():
    assert risk_threshold(85) == (69.5, "fair")
    assert risk_threshold(69.6) == (69.5, "fair")  # prints as 70: good
    assert risk_threshold(55) == (39.5, "attention")
    assert risk_threshold(20) == (39.5, "attention")
    assert [likelihood_words(p) for p in (0.01, 0.5, 0.97)] == ["very unlikely", "about even", "very likely"]


def test_student_t_quantiles_match_the_tables():
    assert student_t_quantile(0.95, 10) == pytest.approx(1.8125, abs=1e-4)
    assert student_t_quantile(0.975, 3) == pytest.approx(3.1824, abs=1e-4)
    assert student_t_quantile(0.05, 6) == pytest.approx(-1.9432, abs=1e-4)


def test_an_association_needs_enough_pairs_on_both_sides_and_says_so():
    days = [f"2024-01-{d:02d}" for d in range(1, 8)]
    (a,) = associate(days, [70, 72, 71, 73, 70, 72, 71], {d: {"stress": 3} for d in days}, "acne")
    assert not a.enough_data and "not enough data (7 captures" in a.sentence


def test_products_are_associated_one_by_one_with_an_interval_that_covers_no_effect():
    rng = np.random.default_rng(6)
    days = [f"2024-02-{d:02d}" for d in range(1, 29)]
    scores = list(70 + rng.normal(0, 2, len(days)))
    context = {d: {"products": ["retinol"] if k % 2 else ["retinol", "spf50"]} for k, d in enumerate(days)}
    found = {a.factor: a for a in associate(days, scores, context, "redness")}
    assert set(found) == {"product 'retinol'", "product 'spf50'"}
    assert not found["product 'retinol'"].enough_data  # used every day: nothing to compare with
    spf = found["product 'spf50'"]
    assert spf.enough_data and spf.lower < 0 < spf.upper and "no clear association" in spf.sentence


def test_context_values_are_checked_with_a_sentence_naming_the_factor():
    assert parse_context(["uv_index=6", "tags=travel, new city", "cycle_day=14"]) == {
        "uv_index": 6.0, "tags": ["travel", "new city"], "cycle_day": 14}
    for item, message in (("stress=high", "'stress': expected a number from 1 to 5, got 'high'"),
                          ("stress=2.5", "'stress': expected a whole number from 1 to 5"),
                          ("sleep_hours=30", "'sleep_hours': expected a number from 0 to 24"),
                          ("uv", "write factor=value")):
        with pytest.raises(HistoryError, match=message):
            parse_context([item])
