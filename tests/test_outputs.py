"""The tools' output folders (release/, site/) replace only what the tools wrote."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[1] / "tools"
sys.path.insert(0, str(TOOLS))

import outputs  # noqa: E402
from outputs import MARK, OutputError, check_replaceable, swap_in  # noqa: E402

ALWAYS = ("index.html", "search.html")


def finished(tmp_path: Path, text: str) -> Path:
    new = tmp_path / ".out-new"
    new.mkdir()
    (new / "index.html").write_text(text)
    return new


def test_a_folder_the_user_made_is_refused_and_left_alone(tmp_path):
    out = tmp_path / "site"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match=r"site exists and was not written by this tool"):
        swap_in(finished(tmp_path, "new"), out, ALWAYS)
    assert (out / "notes.txt").read_text() == "mine"


def test_a_file_at_the_output_path_is_refused(tmp_path):
    out = tmp_path / "site"
    out.write_text("mine")
    with pytest.raises(OutputError, match="is not a folder"):
        check_replaceable(out, ALWAYS)
    assert out.read_text() == "mine"


def test_an_earlier_output_is_replaced_whole_and_marked(tmp_path):
    out = swap_in(finished(tmp_path, "first"), tmp_path / "site", ALWAYS)
    assert (out / MARK).is_file()
    (out / "stale.html").write_text("from the first build")
    swap_in(finished(tmp_path, "second"), out, ALWAYS)
    assert (out / "index.html").read_text() == "second" and not (out / "stale.html").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]  # no -old or -new folder left


@pytest.mark.parametrize("entries, ok", [((), True), (("index.html", "search.html"), True),
                                         (("index.html",), False)])
def test_unmarked_folders_pass_only_when_empty_or_holding_all_the_tool_writes(tmp_path, entries, ok):
    out = tmp_path / "site"
    out.mkdir()
    for name in entries:
        (out / name).write_text("x")
    if ok:
        check_replaceable(out, ALWAYS)
    else:
        with pytest.raises(OutputError):
            check_replaceable(out, ALWAYS)


def test_make_site_and_make_student_refuse_a_user_folder_before_any_work(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("course_site_out", TOOLS / "build_site.py")
    site = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(site)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("mine")
    assert site.main(["--out", str(mine)]) == 1
    assert "refusing to replace it" in capsys.readouterr().err
    import editions
    with pytest.raises(SystemExit, match="refusing to replace it"):
        editions.main(["--out", str(mine)])
    assert [p.name for p in mine.iterdir()] == ["thesis.tex"]
    assert outputs.MARK not in {p.name for p in tmp_path.iterdir()}


def test_folders_beside_the_output_keep_their_names_and_contents(tmp_path):
    """The build and the old output go to fresh names: a user's .site-new or .site-old is not touched."""
    for name in (".site-new", ".site-old"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "mine.txt").write_text(name)
    out = tmp_path / "site"
    for text in ("first", "second"):
        with outputs.staging(out) as new:
            new.mkdir()
            (new / "index.html").write_text(text)
            swap_in(new, out, ALWAYS)
    assert (out / "index.html").read_text() == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".site-new", ".site-old", "site"]
    assert all((tmp_path / n / "mine.txt").read_text() == n for n in (".site-new", ".site-old"))


def test_an_interrupted_build_leaves_the_old_output_and_no_staging_folder(tmp_path):
    out = tmp_path / "site"
    with outputs.staging(out) as new:
        new.mkdir()
        (new / "index.html").write_text("old")
        swap_in(new, out, ALWAYS)
    with pytest.raises(KeyboardInterrupt):
        with outputs.staging(out) as new:
            new.mkdir()
            (new / "index.html").write_text("half")
            raise KeyboardInterrupt
    assert (out / "index.html").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]
