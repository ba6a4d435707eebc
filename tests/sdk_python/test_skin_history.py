"""SkinHistory: what is stored, refused, split, exported, imported and deleted (facelite.skin_history)."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
from pathlib import Path

import numpy as np
import pytest

import facelite.skin_history as skin_history
from facelite.errors import HistoryError
from facelite.skin_history import APPLICATION_ID, SCHEMA_VERSION, SkinHistory
from history_reports import MODELS_V1, MODELS_V2, skin_report


def _days(n: int, every: int = 4, month: int = 3) -> list[str]:
    return [f"2024-{month + (1 + k * every) // 29:02d}-{(1 + k * every) % 29 or 1:02d}" for k in range(n)]


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "history.db"


def _raw_bytes(path: Path) -> bytes:
    """Every byte SQLite keeps for the history: the file, its WAL and shared-memory index."""
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists())


def test_a_capture_is_stored_per_region_and_concern_with_raw_and_model_versions(db):
    with SkinHistory(db) as h:
        h.add("alice", skin_report(acne=72), taken_at="2024-03-01")
        h.add("alice", skin_report(acne=64), taken_at="2024-03-05T08:30:00")
        face = h.series("alice", "acne")
        chin = h.series("alice", "redness", "chin")
        assert h.regions_and_concerns("alice")[:2] == [("face", "acne"), ("face", "redness")]
        assert h.latest_models("alice") == MODELS_V1
    assert [p.score for p in face.current.points] == [72, 64]
    assert face.current.points[1].raw == pytest.approx(0.6) and face.current.models == MODELS_V1
    assert [p.day for p in chin.current.points] == ["2024-03-01", "2024-03-05"]
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert con.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_unreliable_capture_is_refused_naming_the_failed_checks_and_nothing_is_stored(db):
    with SkinHistory(db) as h:
        with pytest.raises(HistoryError, match=r"quality gate \(blur: Hold still and let the camera focus on your "
                                               r"face\); retake the photo"):
            h.add("alice", skin_report(reliable=False), taken_at="2024-03-01")
        assert h.users() == []


@pytest.mark.parametrize("change, field", [
    (lambda r: r["face"]["acne"].update(score=150), "report.face.acne.score"),
    (lambda r: r["regions"]["chin"]["redness"].update(raw="high"), "report.regions.chin.redness.raw"),
    (lambda r: r.update(models={}), "report.models"),
    (lambda r: r.pop("reliable"), "report.reliable"),
])
def test_an_invalid_report_is_refused_naming_the_field(db, change, field):
    report = skin_report()
    change(report)
    with SkinHistory(db) as h, pytest.raises(HistoryError, match=f"^{field.replace('.', '[.]')}: "):
        h.add("alice", report)


def test_a_failed_write_leaves_no_part_of_the_capture(db, monkeypatch):
    with SkinHistory(db) as h:
        h.add("alice", skin_report(), taken_at="2024-03-01")

        def broken(*_):
            raise sqlite3.OperationalError("disk I/O error")

        monkeypatch.setattr(SkinHistory, "_put_scores", staticmethod(broken))
        with pytest.raises(sqlite3.OperationalError):
            h.add("alice", skin_report(), taken_at="2024-03-02", context={"stress": 3})
        monkeypatch.undo()
        assert h.n_captures("alice") == 1 and h.context("alice") == {}


def test_a_newer_model_version_starts_a_new_segment_and_the_forecast_uses_it_alone(db):
    with SkinHistory(db) as h:
        for k, day in enumerate(_days(8)):
            h.add("alice", skin_report(acne=80 - k), taken_at=day)
        for day in _days(3, month=5):
            h.add("alice", skin_report(acne=95, models=MODELS_V2), taken_at=day)
        s = h.series("alice", "acne")
        f = h.forecast("alice", "acne")
    assert [len(seg.points) for seg in s.segments] == [8, 3]
    assert [seg.models for seg in s.segments] == [MODELS_V1, MODELS_V2]
    assert s.breaks == [{"at": "2024-05-01T00:00:00", "from": MODELS_V1, "to": MODELS_V2}]
    assert not f.enough_data
    assert "models changed on 2024-05-01" in f.message and "not mixed in" in f.message


def test_rescoring_kept_images_joins_old_captures_to_the_new_models(db):
    def analyze(image: bytes) -> dict:  # the "new model": reads the score the image bytes carry
        return skin_report(acne=int(image.decode()) + 10, models=MODELS_V2)

    with SkinHistory(db) as h:
        for k, day in enumerate(_days(6)):
            h.add("alice", skin_report(acne=70 - k), taken_at=day, image=str(70 - k).encode(), keep_image=True)
        h.add("alice", skin_report(acne=71, models=MODELS_V2), taken_at="2024-04-10")
        assert [len(s.points) for s in h.series("alice", "acne").segments] == [6, 1]
        assert h.rescore("alice", analyze) == 6
        assert h.rescore("alice", analyze) == 0  # already scored by these models
        s = h.series("alice", "acne")
    assert len(s.segments) == 1 and s.current.models == MODELS_V2
    assert [p.score for p in s.current.points] == [80, 79, 78, 77, 76, 75, 71]


def test_context_is_stored_per_day_and_the_latest_value_wins(db):
    with SkinHistory(db) as h:
        h.add("alice", skin_report(), taken_at="2024-03-01", context={"sleep_hours": "6.5", "products": "a,b"})
        h.set_context("alice", "2024-03-01", sleep_hours=8)
        h.set_context("alice", "2024-03-02", stress=4, tags=["travel"])
        with pytest.raises(HistoryError, match="'stress': expected a whole number from 1 to 5"):
            h.set_context("alice", "2024-03-03", stress=9)
        assert h.context("alice") == {"2024-03-01": {"products": ["a", "b"], "sleep_hours": 8.0},
                                      "2024-03-02": {"stress": 4, "tags": ["travel"]}}


def test_associations_come_from_the_current_series_and_never_claim_cause(db):
    with SkinHistory(db) as h:
        for k, day in enumerate(_days(12, every=2)):
            h.add("alice", skin_report(acne=70 + 4 * (k % 2)), taken_at=day, context={"sleep_hours": 6 + 2 * (k % 2)})
        (a,) = h.associations("alice", "acne")
    assert a.enough_data and a.factor == "sleep_hours" and a.effect == pytest.approx(2.0)
    assert "not proof that one causes the other" in a.sentence


def test_export_then_import_restores_everything_and_importing_twice_adds_nothing(db, tmp_path):
    with SkinHistory(db) as h:
        for k, day in enumerate(_days(3)):
            h.add("alice", skin_report(acne=70 + k), taken_at=day, context={"uv_index": 3 + k},
                  image=b"\xff\xd8jpeg" + bytes([k]), keep_image=k == 0)
        doc = h.export_user("alice")
    text = json.dumps(doc)
    with SkinHistory(tmp_path / "other.db") as other:
        assert other.import_data(text) == {"user": "alice", "added": 3, "skipped": 0}
        assert other.import_data(doc) == {"user": "alice", "added": 0, "skipped": 3}
        assert other.import_data(doc, as_user="bob")["skipped"] == 3  # the captures are the same captures
        again = other.export_user("alice")
    assert doc["format"] == "facelite-skin-history" and doc["format_version"] == 1
    assert {**again, "exported_at": None} == {**doc, "exported_at": None}
    assert [c["image"] is not None for c in doc["captures"]] == [True, False, False]


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(format="something"), r"^export\.format: expected 'facelite-skin-history'"),
    (lambda d: d.update(format_version=9), r"^export\.format_version: 9 is not supported .*upgrade facelite"),
    (lambda d: d["captures"][1]["scores"][0]["face"]["acne"].update(score=-1),
     r"^export\.captures\[1\]\.scores\[0\]\.face\.acne\.score: expected a number from 0 to 100"),
    (lambda d: d["captures"][0].update(taken_at="yesterday"), r"^export\.captures\[0\]\.taken_at: time 'yesterday'"),
    (lambda d: d["context"].update({"2024-03-01": {"sleep": 7}}),
     r"^export\.context\.2024-03-01 'sleep': not a known factor; did you mean 'sleep_hours'"),
])
def test_import_validation_names_the_problem_and_adds_nothing(db, change, message):
    with SkinHistory(db) as h:
        for day in _days(2):
            h.add("alice", skin_report(), taken_at=day, context={"stress": 2})
        doc = h.export_user("alice")
        h.delete_user("alice")
        change(doc)
        with pytest.raises(HistoryError, match=message):
            h.import_data(doc)
        assert h.users() == []


def test_a_file_from_a_newer_facelite_or_another_program_is_refused_untouched(tmp_path):
    newer = tmp_path / "newer.db"
    with SkinHistory(newer):
        pass
    with sqlite3.connect(newer) as con:
        con.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(HistoryError, match="newer facelite"):
        SkinHistory(newer)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as con:
        con.execute("CREATE TABLE notes (x)")
    with pytest.raises(HistoryError, match="not a facelite skin history"):
        SkinHistory(other)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(HistoryError, match="not a readable skin history"):
        SkinHistory(junk)


def test_an_older_file_is_migrated_once_in_place(db, monkeypatch):
    with SkinHistory(db) as h:
        h.add("alice", skin_report(), taken_at="2024-03-01")
    monkeypatch.setattr(skin_history, "MIGRATIONS", skin_history.MIGRATIONS + (
        "ALTER TABLE captures ADD COLUMN note TEXT; CREATE TABLE extra (x)",))
    monkeypatch.setattr(skin_history, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with SkinHistory(db) as h:
        assert h.schema_version == SCHEMA_VERSION + 1 and h.n_captures("alice") == 1
    with SkinHistory(db) as h:  # the second open has nothing left to migrate
        assert h.schema_version == SCHEMA_VERSION + 1


def _write_captures(path: str, user: str, n: int) -> None:
    with SkinHistory(path) as h:
        for k in range(n):
            h.add(user, skin_report(acne=50 + k % 30), taken_at=f"2024-03-01T10:{k % 60:02d}:00")


def test_two_processes_writing_at_once_lose_nothing(db):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_captures, args=(str(db), user, 40)) for user in ("alice", "bob")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    with SkinHistory(db) as h:
        assert h.n_captures("alice") == h.n_captures("bob") == 40
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_after_delete_no_row_and_no_byte_of_the_user_remains(db):
    with SkinHistory(db) as h:
        for k, day in enumerate(_days(5)):
            for user in ("zoe.private.id", "bob"):
                h.add(user, skin_report(acne=60 + k), taken_at=day, context={"tags": ["zoe-diary-tag"]}
                      if user.startswith("zoe") else None, image=b"ZOEPIXELS" * 50, keep_image=user.startswith("zoe"))
        assert b"zoe.private.id" in _raw_bytes(db) and b"ZOEPIXELS" in _raw_bytes(db)
        result = h.delete_user("zoe.private.id")
        assert result == {"user": "zoe.private.id", "captures": 5, "wal_truncated": True}
        assert h.users() == ["bob"] and h.n_captures("bob") == 5
        raw = _raw_bytes(db)
        with pytest.raises(HistoryError, match="not in"):
            h.delete_user("zoe.private.id")
    for secret in (b"zoe.private.id", b"zoe-diary-tag", b"ZOEPIXELS"):
        assert secret not in raw
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM captures").fetchone()[0] == 5


def test_without_keep_image_no_pixel_data_is_written(db):
    rng = np.random.default_rng(3)
    photo = rng.integers(0, 256, 1500, dtype=np.uint8).tobytes()  # stands for an encoded photo (one page)
    with SkinHistory(db) as h:
        h.add("alice", skin_report(), taken_at="2024-03-01", image=photo, keep_image=False)
        h.add("alice", skin_report(), taken_at="2024-03-02")
        with sqlite3.connect(db) as con:
            assert con.execute("SELECT count(*) FROM images").fetchone()[0] == 0
    raw = _raw_bytes(db)
    assert not any(photo[i:i + 16] in raw for i in range(0, len(photo) - 16, 16))
    with SkinHistory(db) as h:
        h.add("alice", skin_report(), taken_at="2024-03-03", image=photo, keep_image=True)
    assert photo in _raw_bytes(db)


def test_an_unknown_user_is_a_user_error_listing_who_is_there(db):
    with SkinHistory(db) as h:
        with pytest.raises(HistoryError, match="holds no user yet"):
            h.series("nobody", "acne")
        h.add("alice", skin_report(), taken_at="2024-03-01")
        with pytest.raises(HistoryError, match=r"user 'nobody': not in .*\(users: alice\)"):
            h.forecast("nobody", "acne")
