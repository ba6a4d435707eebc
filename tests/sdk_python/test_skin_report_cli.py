"""`facelite skin-report IMAGE --out PAGE`: one readable page per photo (the face with its
regions coloured by score, a bar per concern, tone, verdict), plus the reports as JSON."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from facelite import cli
from facelite.annotate import BAND_COLOURS, PANEL_H, PANEL_W


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_report_page_shows_the_face_and_the_scores(capsys, tmp_path, acne_photo, shipped_bundles_dir):
    page_path = tmp_path / "pages" / "report.png"
    code, out, err = run(capsys, "skin-report", acne_photo, "--out", page_path, "--bundles", shipped_bundles_dir,
                         "--accelerator", "cpu", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["out"] == str(page_path) and len(doc["faces"]) == 1
    report = doc["faces"][0]
    assert {"reliable", "quality", "tone", "face", "regions"} <= set(report)
    page = cv2.imread(str(page_path))
    assert page.shape == (PANEL_H, PANEL_W, 3)
    face_part, bars_part = page[50:562, 24:536], page[:, 560:]
    assert face_part.std() > 20                                        # the photo, not a blank square
    band_pixels = sum(int((np.abs(bars_part.astype(int) - colour).sum(axis=2) < 10).sum())
                      for colour in BAND_COLOURS.values())
    assert band_pixels > 6 * 300 * 5                                    # six bars (at least a few px wide each)
    assert not list(tmp_path.glob("pages/.*.tmp"))                      # written atomically, nothing left over


def test_text_output_lists_every_region(capsys, tmp_path, acne_photo, shipped_bundles_dir):
    code, out, _ = run(capsys, "skin-report", acne_photo, "--out", tmp_path / "r.jpg", "--bundles",
                       shipped_bundles_dir, "--accelerator", "cpu")
    assert code == 0 and "report page" in out and "left_under_eye" in out and "tone" in out


def test_a_photo_without_a_face_gets_a_page_saying_so(capsys, tmp_path, shipped_bundles_dir):
    blank = tmp_path / "wall.png"
    cv2.imwrite(str(blank), np.full((240, 320, 3), 200, np.uint8))
    code, out, _ = run(capsys, "skin-report", blank, "--out", tmp_path / "r.png", "--bundles", shipped_bundles_dir,
                       "--json")
    assert code == 0 and json.loads(out)["faces"] == []
    assert cv2.imread(str(tmp_path / "r.png")).shape[1] == PANEL_W


@pytest.mark.parametrize("problem", ["suffix", "folder"])
def test_bad_targets_exit_2_saying_what_to_do(capsys, tmp_path, acne_photo, problem):
    target, page = (acne_photo, tmp_path / "r.txt") if problem == "suffix" else (tmp_path, tmp_path / "r.png")
    code, out, err = run(capsys, "skin-report", target, "--out", page, "--json")
    doc = json.loads(out)
    assert code == 2 and "Traceback" not in err
    assert (".png or .jpg" if problem == "suffix" else "one image file") in doc["error"]


def test_without_a_skin_metrics_bundle_it_is_a_user_error(capsys, tmp_path, acne_photo, stand_in_bundles_dir):
    code, out, _ = run(capsys, "skin-report", acne_photo, "--out", tmp_path / "r.png", "--bundles",
                       stand_in_bundles_dir, "--stand-ins", "--json")
    assert code == 2 and "skin_metrics" in json.loads(out)["error"]
