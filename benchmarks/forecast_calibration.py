"""Calibration of `facelite.forecast` on simulated score series whose truth is known.

Does the 80% interval hold the true score 80% of the time, and does a "30% risk" come
true 30% of the time? Each simulated user gets a series of captures (irregular, with
gaps), the forecast is made from them as the app would, and the noise-free truth 7 to
90 days after the last capture is compared with the forecast.

Scenarios (fixed before any measurement, in this order; 500 series each, seed 12):

1. `model` — what the model assumes, with realistic ranges: history 42–120 days;
   gaps between captures exponential with a mean of 1.5–7 days (≥ 30 minutes), and for
   half of the users one absence of 10–25 days; truth = a local linear trend started at
   a level of 30–90 points with a slope N(0, 0.12²) points/day, the level wandering with
   sd 0.03–0.6 points/√day and the slope with sd 0.001–0.03 (points/day)/√day
   (log-uniform), plus, for half of the users, a 28-day cycle of amplitude 0–5 points at
   a random phase; each capture = truth + Gaussian noise of sd 1–8 points
   (log-uniform), rounded to a whole number and clipped to 0–100 as reports are.
2. `heavy_tails` — as `model`, but the capture noise is Student-t with 3 degrees of
   freedom scaled to the same sd (occasional captures far off: a bad light, a filter).
3. `level_shift` — as `model`, plus one sudden jump of 8–20 points (up or down, at a
   uniformly random time inside the history): a new routine or a flare-up.
4. `other_cycle` — as `model`, but the cycle has a period of 7 days (weekly habits)
   and an amplitude of 2–6 points for every user, where the model's cycle is 28 days.

Measured per scenario: coverage of the central 80% interval of the underlying score at
7, 14, 30, 60 and 90 days (the gate: 75–85% at 30 days in `model`), coverage of the
80% interval of a new capture at 30 days, coverage at 30 days by number of captures,
and the risk figure's reliability (P(score < the lower edge of its current band) at 30
days, binned, against how often it happened), with the Brier score against that of
always answering the base rate. The misspecified scenarios are reported whatever they give.

    python benchmarks/forecast_calibration.py              # 500 series per scenario
    python benchmarks/forecast_calibration.py --series 100 --json out.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

import numpy as np

from facelite.forecast import forecast_score

SCENARIOS = ("model", "heavy_tails", "level_shift", "other_cycle")
HORIZONS = (7, 14, 30, 60, 90)
GATE_HORIZON = 30
RISK_BINS = (0.0, 0.05, 0.2, 0.4, 0.6, 0.8, 0.95, 1.0000001)


def log_uniform(rng, lo, hi):
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def simulate(rng: np.random.Generator, scenario: str) -> dict:
    """One user's captures and the noise-free truth after the last one."""
    history = rng.uniform(42, 120)
    mean_gap = rng.uniform(1.5, 7.0)
    times = [0.0]
    while True:
        nxt = times[-1] + max(1 / 48, rng.exponential(mean_gap))
        if nxt > history:
            break
        times.append(nxt)
    times = np.array(times)
    if rng.random() < 0.5 and times.size > 2:  # one absence: shift everything after a random capture
        k = rng.integers(1, times.size)
        times[k:] += rng.uniform(10, 25)
    last = times[-1]
    grid = np.concatenate([times, last + np.array(HORIZONS, float)])
    order = np.argsort(grid, kind="stable")
    level_sd, slope_sd = log_uniform(rng, 0.03, 0.6), log_uniform(rng, 0.001, 0.03)
    level, slope = rng.uniform(30, 90), rng.normal(0, 0.12)
    levels = np.empty(grid.size)
    prev = 0.0
    for i in order:
        dt = grid[i] - prev
        if dt > 0:
            q = np.array([[level_sd ** 2 * dt + slope_sd ** 2 * dt ** 3 / 3, slope_sd ** 2 * dt ** 2 / 2],
                          [slope_sd ** 2 * dt ** 2 / 2, slope_sd ** 2 * dt]])
            eta = rng.multivariate_normal([0, 0], q)
            level, slope = level + dt * slope + eta[0], slope + eta[1]
        levels[i] = level
        prev = grid[i]
    if scenario == "level_shift":
        at = rng.uniform(0, last)
        levels[grid >= at] += rng.choice([-1, 1]) * rng.uniform(8, 20)
    if scenario == "other_cycle":
        period, amplitude = 7.0, rng.uniform(2, 6)
    else:
        period, amplitude = 28.0, (rng.uniform(0, 5) if rng.random() < 0.5 else 0.0)
    truth = np.clip(levels + amplitude * np.sin(2 * math.pi * grid / period + rng.uniform(0, 2 * math.pi)), 0, 100)
    sigma = log_uniform(rng, 1.0, 8.0)
    n = times.size
    noise = (rng.standard_t(3, n) * sigma / math.sqrt(3.0) if scenario == "heavy_tails" else rng.normal(0, sigma, n))
    captures = np.clip(np.round(truth[:n] + noise), 0, 100)
    future_noise = rng.normal(0, sigma) if scenario != "heavy_tails" else rng.standard_t(3) * sigma / math.sqrt(3)
    return {"days": times, "scores": captures, "truth": dict(zip(HORIZONS, truth[n:])),
            "capture_30": float(np.clip(np.round(truth[n + HORIZONS.index(30)] + future_noise), 0, 100))}


def run(scenario: str, n_series: int, seed: int) -> dict:
    rng = np.random.default_rng([seed, SCENARIOS.index(scenario)])
    hits = {h: [] for h in HORIZONS}
    capture_hits, risks, events, sizes, widths = [], [], [], [], []
    for _ in range(n_series):
        s = simulate(rng, scenario)
        long = forecast_score(s["days"], s["scores"], horizon_days=max(HORIZONS))
        f = forecast_score(s["days"], s["scores"], horizon_days=GATE_HORIZON)
        if not f.enough_data:
            continue
        by_day = {p.days: p for p in long.path}
        for h in HORIZONS:
            p = by_day[h]
            hits[h].append(p.lower <= s["truth"][h] <= p.upper)
        capture_hits.append(f.capture_lower <= s["capture_30"] <= f.capture_upper)
        risks.append(f.risk)
        events.append(s["truth"][GATE_HORIZON] < f.threshold)
        sizes.append(f.n_captures)
        widths.append(f.upper - f.lower)
    risks, events, sizes = np.array(risks), np.array(events), np.array(sizes)
    coverage = {h: float(np.mean(v)) for h, v in hits.items()}
    by_n = {}
    for lo, hi in ((5, 15), (15, 30), (30, 60), (60, 10 ** 6)):
        sel = (sizes >= lo) & (sizes < hi)
        if sel.any():
            by_n[f"{lo}-{hi - 1 if hi < 10 ** 6 else ''}"] = {
                "n": int(sel.sum()), "coverage_30d": float(np.mean(np.array(hits[GATE_HORIZON])[sel]))}
    table = []
    for lo, hi in zip(RISK_BINS, RISK_BINS[1:]):
        sel = (risks >= lo) & (risks < hi)
        if sel.any():
            table.append({"bin": f"{lo:.2f}-{min(hi, 1.0):.2f}", "n": int(sel.sum()),
                          "mean_risk": float(risks[sel].mean()), "observed": float(events[sel].mean())})
    base = float(events.mean())
    return {"scenario": scenario, "series": int(risks.size), "skipped_not_enough_data": n_series - int(risks.size),
            "coverage_80": coverage, "capture_coverage_80_30d": float(np.mean(capture_hits)),
            "median_width_30d": float(np.median(widths)), "coverage_30d_by_captures": by_n,
            "risk_reliability_30d": table, "brier": float(np.mean((risks - events) ** 2)),
            "brier_base_rate": float(np.mean((base - events) ** 2)), "event_rate": base}


def print_report(r: dict) -> None:
    cov = "  ".join(f"{h}d {100 * c:.1f}%" for h, c in r["coverage_80"].items())
    print(f"\n== {r['scenario']}: {r['series']} series ({r['skipped_not_enough_data']} with too little data)")
    print(f"80% interval coverage of the underlying score: {cov}")
    print(f"80% interval coverage of a new capture at 30d: {100 * r['capture_coverage_80_30d']:.1f}%  "
          f"(median interval width {r['median_width_30d']:.1f} points)")
    print("coverage at 30d by captures: " + "  ".join(
        f"{k}: {100 * v['coverage_30d']:.1f}% (n={v['n']})" for k, v in r["coverage_30d_by_captures"].items()))
    print("risk reliability at 30d (P(score < its band's lower edge)):")
    print("  bin          n   mean risk  observed")
    for row in r["risk_reliability_30d"]:
        print(f"  {row['bin']:10s} {row['n']:4d}   {row['mean_risk']:.3f}     {row['observed']:.3f}")
    print(f"  Brier {r['brier']:.4f} (base rate {r['event_rate']:.3f} alone: {r['brier_base_rate']:.4f})")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=500)
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    args = ap.parse_args(argv)
    results = []
    for scenario in args.scenarios.split(","):
        t0 = time.perf_counter()
        r = run(scenario, args.series, args.seed)
        r["seconds"] = round(time.perf_counter() - t0, 1)
        print_report(r)
        results.append(r)
    gate = next((r for r in results if r["scenario"] == "model"), None)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    if gate is not None:
        c = gate["coverage_80"][GATE_HORIZON]
        ok = 0.75 <= c <= 0.85
        print(f"\ngate: 80% interval coverage at {GATE_HORIZON}d in `model` = {100 * c:.1f}% "
              f"({'within' if ok else 'OUTSIDE'} 75-85%)")
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
