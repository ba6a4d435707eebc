"""Seeded bad images through `facelite analyze`, in the suite.

Sixty inputs from `tests/mutants.py` (headers claiming more pixels than the limit in every
format OpenCV reads, truncated and mislabelled files, random bytes, 1xN and Nx1 PNGs,
16-bit, alpha and CMYK images, a FIFO, /dev/zero, symlinks, directories, bad videos) run
through `facelite analyze` with the shipped bundles and with the `--stand-ins` (Haar
cascade, mean face shape). Each must exit 0 only where it is still a decodable image,
else 2, within 30 s and 500 MB. The full campaign (200 images) is `benchmarks/fuzz.py`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import mutants

CHECKOUT = Path(__file__).resolve().parents[2]
SEED = 15
BAD_IMAGES = 60
MAX_PEAK_MB = 500
TIMEOUT_S = 30


@pytest.fixture(scope="module")
def campaign() -> dict:
    return mutants.run_campaign(CHECKOUT, "--bundles", "0", "--images", str(BAD_IMAGES), "--seed", str(SEED),
                                timeout_s=TIMEOUT_S, max_mb=MAX_PEAK_MB)


def test_every_bad_image_exits_0_only_where_still_decodable_else_2(campaign):
    wrong_exit = mutants.failing(campaign, "exit", "killed", "timeout")
    assert not wrong_exit, mutants.describe_failures(wrong_exit)


def test_no_bad_image_run_takes_over_500_mb_or_30_s(campaign):
    heavy = mutants.failing(campaign, "MB")
    assert campaign["max_peak_mb"] < MAX_PEAK_MB, mutants.describe_failures(heavy)
    assert campaign["max_seconds"] < TIMEOUT_S


def test_every_image_category_ran_with_the_bundles_and_the_stand_ins(campaign):
    tables = campaign["image_categories"]
    assert set(tables) == set(mutants.IMAGE_CYCLE)
    for category, t in tables.items():
        assert set(t["exits"]) == set(mutants.IMAGE_COMMANDS), category
    assert campaign["runs"] == 2 * BAD_IMAGES
