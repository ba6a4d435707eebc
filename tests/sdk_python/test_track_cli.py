"""`facelite track`: add, show (forecast, plot), export, import, delete, on saved reports (fast)."""

from __future__ import annotations

import json
import os
import stat

import pytest

from types import SimpleNamespace

import cv2
import numpy as np

from facelite import cli
from facelite.skin_history import SkinHistory
from facelite.track_cli import default_db, parse_horizon
from history_reports import MODELS_V1, MODELS_V2, skin_report


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def reports(tmp_path):
    """Saved reports of a worsening acne score: one file per capture (acne 82 → 58 over 60 days)."""
    paths = []
    for k in range(11):
        p = tmp_path / f"report_{k}.json"
        p.write_text(json.dumps(skin_report(acne=82 - 2.4 * k)))
        paths.append(("2024-03-01T09:00:00+01:00" if k == 0 else f"2024-{3 + (6 * k) // 31:02d}-"
                      f"{1 + (6 * k) % 31:02d}", p))
    return paths


def _add_all(capsys, db, reports):
    for k, (day, path) in enumerate(reports):
        code, out, err = run(capsys, "track", "add", "alice", path, "--date", day, "--db", db, "--json",
                             "--context", f"sleep_hours={6 + k % 3}", "--context", "products=retinol")
        assert code == 0, err
    return json.loads(out)


def test_add_then_show_gives_a_worsening_forecast_with_interval_risk_and_associations(capsys, tmp_path, reports):
    db = tmp_path / "h.db"
    added = _add_all(capsys, db, reports)
    assert added["user"] == "alice" and added["face"]["acne"] == 58 and added["image_kept"] is False
    code, out, err = run(capsys, "track", "show", "alice", "--forecast", "4w", "--db", db, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["captures"] == 11 and doc["horizon_days"] == 28
    acne = next(e for e in doc["scores"] if e["concern"] == "acne")
    f = acne["forecast"]
    assert f["enough_data"] and f["trend"] == "worsening" and f["lower"] < f["mean"] < f["upper"] < 58
    assert f["current_band"] == "fair" and f["threshold"] == 39.5 and 0 <= f["risk"] <= 1
    assert "Chance it is below 40 (attention)" in f["risk_sentence"] and len(f["path"]) == 28
    assert acne["breaks"] == [] and len(acne["segments"][0]["points"]) == 11
    assert {a["factor"] for a in doc["associations"]} == {"sleep_hours", "product 'retinol'"}
    code, out, err = run(capsys, "track", "show", "alice", "--db", db)
    assert code == 0 and "acne: latest 58 (fair)" in out and "worsening" in out
    assert "associations, not causes" in out


def test_show_plots_a_phone_sized_picture(capsys, tmp_path, reports):
    pytest.importorskip("matplotlib")
    import cv2

    db, plot = tmp_path / "h.db", tmp_path / "journey.png"
    _add_all(capsys, db, reports)
    code, out, err = run(capsys, "track", "show", "alice", "--db", db, "--plot", plot, "--json")
    assert code == 0, err
    image = cv2.imread(str(plot))
    assert json.loads(out)["plot"] == str(plot) and image.shape == (1440, 1080, 3)  # acne and redness panels


def test_a_model_change_is_marked_as_a_break_in_show(capsys, tmp_path, reports):
    db = tmp_path / "h.db"
    _add_all(capsys, db, reports[:6])
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps(skin_report(acne=90, models=MODELS_V2)))
    code, out, err = run(capsys, "track", "add", "alice", newer, "--date", "2024-05-20", "--db", db, "--json")
    assert code == 0 and json.loads(out)["models_changed"] is True and "series starts again" in err
    code, out, err = run(capsys, "track", "show", "alice", "--db", db)
    assert "model versions changed on 2024-05-20" in out and "not mixed in" in out


def test_export_delete_import_round_trip(capsys, tmp_path, reports):
    db, export = tmp_path / "h.db", tmp_path / "out" / "alice.json"
    _add_all(capsys, db, reports[:4])
    code, out, err = run(capsys, "track", "export", "alice", export, "--db", db, "--json")
    assert code == 0 and json.loads(out)["captures"] == 4
    assert stat.S_IMODE(os.stat(export).st_mode) == 0o600  # personal data: owner only
    code, out, err = run(capsys, "track", "delete", "alice", "--db", db, "--json")
    assert code == 0 and json.loads(out) == {"user": "alice", "captures": 4, "wal_truncated": True}
    assert b"alice" not in db.read_bytes()
    code, out, err = run(capsys, "track", "import", export, "--db", db, "--json")
    assert code == 0 and json.loads(out)["added"] == 4
    code, out, err = run(capsys, "track", "import", export, "--db", db)
    assert code == 0 and "0 capture(s) added, 4 already there" in out


@pytest.mark.parametrize("argv, message", [
    (("show", "nobody"), "user 'nobody': not in"),
    (("show", "alice", "--forecast", "200d"), "--forecast 200d: forecast horizon 200 days"),
    (("show", "alice", "--region", "ear"), "--region ear: the user has no scores there"),
    (("add", "alice", "{unreliable}"), "not stored: the capture failed the quality gate (blur: Hold still"),
    (("add", "alice", "{first}", "--context", "sleep=7"), "did you mean 'sleep_hours'"),
    (("add", "alice", "{first}", "--date", "last tuesday"), "time 'last tuesday': not an ISO date"),
    (("import", "{first}"), "export.format: expected 'facelite-skin-history'"),
    (("delete", "nobody"), "user 'nobody': not in"),
])
def test_user_errors_exit_2_with_one_json_document_saying_what_to_do(capsys, tmp_path, reports, argv, message):
    db = tmp_path / "h.db"
    _add_all(capsys, db, reports[:1])
    unreliable = tmp_path / "bad.json"
    unreliable.write_text(json.dumps(skin_report(reliable=False)))
    argv = [a.format(unreliable=unreliable, first=reports[0][1]) for a in argv]
    code, out, err = run(capsys, "track", *argv, "--db", db, "--json")
    doc = json.loads(out)
    assert code == 2 and doc["exit_code"] == 2 and message in doc["error"], doc
    assert "Traceback" not in err


def test_a_saved_analyze_document_with_one_face_is_accepted(capsys, tmp_path):
    saved = tmp_path / "analyze.json"
    saved.write_text(json.dumps({"image": "x.jpg", "faces": [{"box": {}, "skin": skin_report(acne=66)}]}))
    code, out, err = run(capsys, "track", "add", "bob", saved, "--db", tmp_path / "h.db", "--json")
    assert code == 0 and json.loads(out)["face"]["acne"] == 66


def test_default_db_and_horizon_parsing(monkeypatch, tmp_path):
    monkeypatch.setenv("FACELITE_HISTORY", str(tmp_path / "x.db"))
    assert default_db() == tmp_path / "x.db"
    monkeypatch.delenv("FACELITE_HISTORY")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_db() == tmp_path / "facelite" / "skin_history.db"
    assert [parse_horizon(t) for t in ("30d", "30", "2w", " 90D ")] == [30, 30, 14, 90]


class FakeAnalyzer:
    """Stands for FaceAnalyzer: two faces per photo, the larger one's acne score = the photo's grey level."""

    models = MODELS_V1

    def __init__(self, *_args, **_kw):
        pass

    def analyze(self, pixels):
        def face(side, acne):
            return SimpleNamespace(box=SimpleNamespace(w=side, h=side), skin=skin_report(acne=acne, models=self.models))

        return SimpleNamespace(faces=[face(10, 5), face(200, int(pixels.mean()))], stages={})

    def close(self):
        pass


def test_add_analyses_the_photo_keeps_it_when_asked_and_rescores_kept_photos_when_models_change(
        capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "_analyzer", FakeAnalyzer)
    db = tmp_path / "h.db"
    for k, grey in enumerate((80, 76, 72)):
        photo = tmp_path / f"p{k}.png"
        cv2.imwrite(str(photo), np.full((8, 8, 3), grey, np.uint8))
        code, out, err = run(capsys, "track", "add", "alice", photo, "--date", f"2024-03-0{k + 1}", "--keep-image",
                             "--db", db, "--json")
        assert code == 0, err
        assert "storing the largest one" in err and json.loads(out)["face"]["acne"] == grey
    monkeypatch.setattr(FakeAnalyzer, "models", MODELS_V2)
    cv2.imwrite(str(tmp_path / "p3.png"), np.full((8, 8, 3), 70, np.uint8))
    code, out, err = run(capsys, "track", "add", "alice", tmp_path / "p3.png", "--date", "2024-03-04", "--db", db,
                         "--json")
    doc = json.loads(out)
    assert code == 0 and doc["models_changed"] and doc["rescored"] == 3 and doc["image_kept"] is False
    with SkinHistory(db) as h:
        s = h.series("alice", "acne")
    assert len(s.segments) == 1 and s.current.models == MODELS_V2
    assert [p.score for p in s.current.points] == [80, 76, 72, 70]


def test_a_real_side_view_photo_is_refused_naming_the_photo_and_the_check(capsys, tmp_path, acne_photo):
    db = tmp_path / "h.db"
    code, out, err = run(capsys, "track", "add", "alice", acne_photo, "--db", db, "--json", "--accelerator", "cpu")
    doc = json.loads(out)
    assert code == 2 and doc["error"].startswith(f"{acne_photo}: not stored: the capture failed the quality gate")
    assert "head_turned: Look straight at the camera" in doc["error"]
    with SkinHistory(db) as h:
        assert h.users() == []
