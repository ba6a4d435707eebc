"""evaluate --files: only the listed samples are scored (a deduplicated split), and a list
that is missing, empty or names files that are not there is an error that says so."""

import shutil

import pytest

from facelite import cli
from facelite.errors import DataError
from facelite.evaluate import evaluate


@pytest.fixture(scope="module")
def val(tmp_path_factory, data):
    root = tmp_path_factory.mktemp("files") / "val"
    for label in ("happy", "sad"):
        (root / label).mkdir(parents=True)
        for src in sorted((data / "fer2013" / "val" / label).glob("*.jpg"))[:4]:
            shutil.copy(src, root / label / src.name)
    return root


def _listing(path, names):
    path.write_text("# kept\n" + "".join(f"{n}\n" for n in names))
    return path


def test_only_listed_files_are_evaluated(expression_bundle, val, tmp_path):
    names = [str(p.relative_to(val)) for p in sorted(val.rglob("*.jpg"))]
    listing = _listing(tmp_path / "list.txt", names[:3] + names[-2:])
    r = evaluate(expression_bundle, val, "int8", files=listing)
    assert r["n"] == 5 and r["files"] == {"list": str(listing), "listed": 5, "evaluated": 5, "not_samples": 0}
    subset = tmp_path / "subset"
    for n in names[:3] + names[-2:]:
        (subset / n).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(val / n, subset / n)
    same = evaluate(expression_bundle, subset, "int8")
    assert (r["accuracy"], r["confusion"]) == (same["accuracy"], same["confusion"])


@pytest.mark.parametrize("content, message", [
    (None, "cannot be read"),
    ("# nothing\n\n", "lists no files"),
    ("happy/not_there.jpg\n", "not under"),
])
def test_a_bad_list_is_an_error_naming_it(expression_bundle, val, tmp_path, content, message):
    listing = tmp_path / "list.txt"
    if content is not None:
        listing.write_text(content)
    with pytest.raises(DataError, match=message):
        evaluate(expression_bundle, val, "fp32", files=listing)


def test_cli_files_option_exits_2_on_a_missing_list(expression_bundle, val, tmp_path, capsys):
    code = cli.main(["evaluate", str(expression_bundle), "--data", str(val), "--files", str(tmp_path / "no.txt")])
    assert code == 2 and "no.txt" in capsys.readouterr().err
