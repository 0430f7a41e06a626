"""Build the classroom editions of the course from its one source, with Otter-Grader.

The notebooks in ``notebooks/`` are the self-study edition and the source of
the others: their exercises' cells carry exercise marks in their metadata,
from which Otter-Grader's block markers are rebuilt (``tools/exercise_marks.py``,
``docs/instructor/authoring.md``). ``python tools/editions.py`` runs
``otter assign`` on each of them and writes

- ``release/student/``: the notebooks without solutions, outputs or tests'
  secrets, each exercise ending in ``grader.check(...)``, with ``tests/``;
- ``release/instructor/``: the notebooks with solutions inline and their
  outputs, plus the instructor guide (``guide/``);
- ``release/autograder/NN_name.zip``: what ``otter run`` grades a submission with,
  and what otter's Docker grading or an LMS running otter's autograder
  (Gradescope) installs: the course's requirements (``pyproject.toml``'s
  dependencies, torch pinned) and ``glmlib`` from a wheel of this checkout,
  which the zip carries (``files/glmlib-*.whl``).

- ``release/zh-CN/student/`` and ``release/zh-CN/instructor/``: the same editions in Chinese, their
  prose from the translation catalogues (``tools/i18n.py``), their code the English one's plus
  the cell that sets the language; the Chinese guide in ``instructor/guide/``. The autograder
  is shared: the code it grades is the same.

``release/`` is rebuilt whole: it is written next to itself and swapped in
at the end, so a failed build never leaves a half-written release.
"""
from __future__ import annotations

import argparse
import copy
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))  # also when loaded from its path
import exercise_marks  # noqa: E402
import i18n  # noqa: E402
from outputs import OutputError, check_replaceable, swap_in  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
GUIDE = ROOT / "docs" / "instructor"
RELEASE_ALWAYS = ("student", "instructor", "autograder")  # a release built before outputs.MARK existed

ASSIGNMENT_CONFIG = """# ASSIGNMENT CONFIG
name: {name}
init_cell: true
check_all_cell: false
export_cell: false
run_tests: false
show_question_points: true
tests:
  files: true
requirements: requirements.txt
autograder_files:
  - {wheel}
"""
# Where otter's Docker image and Gradescope unpack an autograder zip; its ``autograder_files`` land in
# ``files/`` there, and the environment (``environment.yml``, pip section) is installed from that folder.
AUTOGRADER_SOURCE = "/autograder/source"

SOLUTION_TAG = "otter_assign_solution_cell"
ANSWER_TAG = "otter_answer_cell"

# The student edition's first cell, in place of otter's three lines (``grader = otter.Notebook(...)``):
# the same grader, which while the learner works (not under grading, where it is otter's own) shows an
# untouched exercise's check as the checker's "not yet" instead of a failed doctest and its traceback,
# and says in one sentence what to do when the notebook is renamed or away from its tests/ folder.
INIT_CELL = '''# Initialize Otter: grader.check("...") runs this notebook's checks, the files in tests/ next to it
import os
import re
import sys

import otter
from glmlib.exercises.checking import not_yet_line


class NotYet:
    """What grader.check shows for an exercise still to do; otter's result is ``.result``."""

    def __init__(self, result, message):
        self.result, self.message = result, message

    def __getattr__(self, name):  # score, possible, passed_all... (not the display methods)
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.result, name)

    def __repr__(self):  # "[NOT YET] q03_local_mask (0 / 2 points): ...", in the course's language
        r = self.result
        return not_yet_line(r.name, r.score, r.possible, self.message)

    def _repr_markdown_(self):
        r = self.result
        return not_yet_line(r.name, r.score, r.possible, self.message, markdown=True)


class CourseGrader(otter.Notebook):
    notebook, questions = __NOTEBOOK__, __QUESTIONS__

    def __init__(self):
        super().__init__(self.notebook if os.path.isfile(self.notebook) else None)
        if not self._grading_mode:
            self.tell(self.misplaced(self.questions) or self.renamed())

    def misplaced(self, questions):
        if not all(os.path.isfile(os.path.join("tests", q + ".py")) for q in questions):
            return (f"grader: the checks of {self.notebook} are the files in a tests/ folder next to it, and "
                    f"{os.getcwd()} has {'a tests/ folder without them' if os.path.isdir('tests') else 'none'}: "
                    f"move the notebook back into the folder it came in (beside tests/), open it from there "
                    f"and run its first cell again.")

    def renamed(self):
        if not os.path.isfile(self.notebook):
            return (f"grader: this notebook is no longer named {self.notebook} ({os.getcwd()} has no file of "
                    f"that name); its checks work all the same, but hand it in as {self.notebook}: rename it "
                    f"back with File > Rename Notebook.")

    def tell(self, sentence):
        if sentence:
            print(sentence, file=sys.stderr)

    def check(self, question, global_env=None):
        env = sys._getframe(1).f_globals if global_env is None else global_env
        if self._grading_mode:
            return super().check(question, env)
        if self.misplaced([question]):
            return self.tell(self.misplaced([question]))
        result = super().check(question, env)
        self.tell(self.renamed())
        waiting = [re.search(r"ExerciseFailed: [^\\n]*?: not yet: (.*)", case.message or "", re.S)
                   for case in result.test_case_results if not case.passed]
        if waiting and all(waiting):
            return NotYet(result, " ".join(waiting[0].group(1).split()))
        return result


grader = CourseGrader()'''


def sources(notebooks: Path = NOTEBOOKS) -> list[Path]:
    """The course notebooks, in order (``NN_name.ipynb``)."""
    return sorted(p for p in notebooks.glob("[0-9][0-9]_*.ipynb"))


def course_wheel(target: Path, root: Path = ROOT) -> Path:
    """``glmlib``'s wheel (no dependencies), built in ``target`` from a copy of the checkout as git sees
    it (tracked and new files, not ignored ones), so that no stale ``build/`` folder gets into it."""
    source = target / "source"
    try:
        listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=root,
                                capture_output=True)
    except OSError:  # no git here
        listed = None
    if listed is not None and listed.returncode == 0:
        for name in filter(None, listed.stdout.decode().split("\0")):
            if (root / name).is_file():
                (source / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(root / name, source / name)
    else:  # not a git checkout (an unpacked archive): all but environments and build outputs
        shutil.copytree(root, source, ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "release", ".release-*", "*.egg-info", "__pycache__"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(target),
                           str(source)], capture_output=True, text=True)
    wheels = sorted(target.glob("glmlib-*.whl"))
    if done.returncode != 0 or len(wheels) != 1:
        raise RuntimeError(f"building glmlib's wheel failed:\n{done.stdout}\n{done.stderr}")
    shutil.rmtree(source)
    return wheels[0]


def autograder_requirements(wheel: Path, root: Path = ROOT) -> str:
    """The autograder's pip requirements: the course's dependencies as ``pyproject.toml`` lists them
    (torch pinned), then ``glmlib`` from ``wheel`` where the zip is unpacked in the container."""
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return "\n".join([*project["dependencies"], f"{AUTOGRADER_SOURCE}/files/{wheel.name}"]) + "\n"


def master_notebook(path: Path, wheel: str = "glmlib.whl") -> nbformat.NotebookNode:
    """The self-study notebook as ``otter assign`` reads it: the marker cells rebuilt from the
    exercise marks (``tools/exercise_marks.py``), the assignment configuration cell in front
    (``wheel``: the name of glmlib's wheel, next to the notebook, that the autograder carries)."""
    nb = exercise_marks.expand(nbformat.read(path, as_version=4), path.name)
    config = nbformat.v4.new_raw_cell(ASSIGNMENT_CONFIG.format(name=path.stem, wheel=wheel))
    nb.cells.insert(0, config)
    return nb


def _only_comments(source: str) -> bool:
    return all(not line.strip() or line.strip().startswith("#") for line in source.splitlines())


def _unfold(cell: nbformat.NotebookNode) -> None:
    cell.metadata.get("jupyter", {}).pop("source_hidden", None)
    if cell.metadata.get("jupyter") == {}:
        del cell.metadata["jupyter"]


def _tags(cell: nbformat.NotebookNode) -> list[str]:
    return cell.metadata.get("tags", [])


def _unlock(cell: nbformat.NotebookNode) -> None:
    """Let the learner edit an exercise cell (otter locks every cell of a question's text)."""
    otter_own = cell.source.startswith(("grader.check", "# Initialize Otter"))
    if cell.cell_type == "code" and not otter_own:
        cell.metadata.pop("editable", None)
        cell.metadata.pop("deletable", None)


def init_cell(notebook: str, questions: list[str]) -> str:
    """The student edition's first cell (``INIT_CELL``) for ``notebook`` and its exercises."""
    return INIT_CELL.replace("__NOTEBOOK__", repr(notebook)).replace("__QUESTIONS__", repr(questions))


def student_edition(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop the cells that solution stripping left empty, unfold the rest; otter's first cell becomes
    ``INIT_CELL`` (its source folded: the learner runs it, and may open it)."""
    nb = copy.deepcopy(nb)
    questions = [m.group(1) for cell in nb.cells
                 for m in [re.match(r'grader\.check\("(\w+)"\)', cell.source)] if cell.cell_type == "code" and m]
    keep = []
    for cell in nb.cells:
        if cell.cell_type == "code" and ANSWER_TAG in _tags(cell) and _only_comments(cell.source):
            continue
        _unfold(cell)
        _unlock(cell)
        otter_init = re.match(r'# Initialize Otter\nimport otter\ngrader = otter\.Notebook\("([^"]+)"\)\s*$',
                              cell.source)
        if cell.cell_type == "code" and otter_init:
            cell.source = init_cell(otter_init.group(1), questions)
            cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
        keep.append(cell)
    if not any(cell.source.startswith("# Initialize Otter:") for cell in keep):
        raise RuntimeError("otter assign wrote no first cell of the form the student edition replaces")
    nb.cells = keep
    return nb


def instructor_edition(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Solutions inline: unfold every cell and open the solution notes."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        _unfold(cell)
        _unlock(cell)
        if cell.cell_type == "code":
            cell.source = "\n".join(line for line in cell.source.splitlines()
                                    if not re.match(r"\s*# (BEGIN|END) SOLUTION", line))
        if cell.cell_type == "markdown" and "<details>" in cell.source:
            cell.source = re.sub(r"</?details>|<summary>(.*?)</summary>", lambda m: (
                f"**{m.group(1)}**" if m.group(1) else ""), cell.source)
    return nb


def translation_tables(notebooks: Path = NOTEBOOKS) -> dict[str, dict[str, dict[str, str]]]:
    """language -> notebook file name -> English block -> translation, for the course's notebooks
    (only when ``notebooks`` is the course's own folder: a copy elsewhere has no catalogues)."""
    if notebooks.resolve() != NOTEBOOKS.resolve():
        return {}
    tables = {s.english.name: i18n.table_of(i18n.load(s.po)) for s in i18n.sources() if s.is_notebook}
    return {i18n.LANGUAGE: tables} if any(tables.values()) else {}


def translated(nb: nbformat.NotebookNode, table: dict[str, str], name: str) -> nbformat.NotebookNode:
    """``nb`` with its Markdown translated block by block; refuses a block without a translation."""
    nb = copy.deepcopy(nb)
    missing: list[str] = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = i18n.translate_text(cell.source, table, missing)
    if missing:
        raise exercise_marks.MarkError(f"{name}: {len(missing)} block(s) of its edition have no translation, "
                                       f"e.g. \"{' '.join(missing[0].split())[:80]}\" "
                                       "(python tools/i18n.py check)")
    nb.metadata["glmlib"] = {"language": i18n.LANGUAGE, "source": f"notebooks/{name}"}
    return nb


def translated_edition(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A translated edition's language set by a cell after the first one (otter's, which stays first)."""
    nb = copy.deepcopy(nb)
    first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    language = nbformat.v4.new_code_cell(i18n.LANGUAGE_CELL, metadata={"tags": [i18n.LANGUAGE_TAG]})
    language.id = "glmlib-language"
    nb.cells.insert(first_code + 1, language)
    return nb


def assign(path: Path, work: Path, wheel: Path) -> Path:
    """Run ``otter assign`` on one notebook (its autograder to carry ``wheel``); return its output
    directory."""
    master = work / "master" / path.name
    master.parent.mkdir(parents=True, exist_ok=True)
    for extra in (work / "master").glob("glmlib-*.whl"):
        extra.unlink()
    shutil.copy2(wheel, master.parent / wheel.name)
    (master.parent / "requirements.txt").write_text(autograder_requirements(wheel), encoding="utf-8")
    nbformat.write(master_notebook(path, wheel.name), master)
    out = work / path.stem
    done = subprocess.run([sys.executable, "-m", "otter", "assign", "--no-pdfs", str(master), str(out)],
                          capture_output=True, text=True, cwd=work)
    if done.returncode != 0:
        raise RuntimeError(f"otter assign failed for {path.name}:\n{done.stdout}\n{done.stderr}")
    return out


def build(release: Path = ROOT / "release", notebooks: Path = NOTEBOOKS, guide: Path = GUIDE) -> Path:
    """Write the student, instructor and autograder editions under ``release``."""
    release = release.resolve()
    check_replaceable(release, RELEASE_ALWAYS)  # before any work: never replace what the user made
    for path in sources(notebooks):  # every notebook's marks whole (exercise_marks.check) before any work
        exercise_marks.expand(nbformat.read(path, as_version=4), path.name)
    release.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=release.parent, prefix=".release-") as tmp:
        work, new = Path(tmp) / "work", Path(tmp) / "release"
        for part in ("student/tests", "instructor", "autograder"):
            (new / part).mkdir(parents=True)
        (work / "wheel").mkdir(parents=True)
        wheel = course_wheel(work / "wheel")
        translations = translation_tables(notebooks)
        for part in ("student/tests", "instructor"):
            for language in translations:
                (new / language / part).mkdir(parents=True, exist_ok=True)
        for path in sources(notebooks):
            out = assign(path, work, wheel)
            student = nbformat.read(out / "student" / path.name, as_version=4)
            nbformat.write(student_edition(student), new / "student" / path.name)
            solved = nbformat.read(out / "autograder" / path.name, as_version=4)
            nbformat.write(instructor_edition(solved), new / "instructor" / path.name)
            for test in (out / "student" / "tests").glob("*.py"):
                shutil.copy2(test, new / "student" / "tests" / test.name)
                for language in translations:
                    shutil.copy2(test, new / language / "student" / "tests" / test.name)
            (zipfile,) = (out / "autograder").glob("*.zip")
            shutil.copy2(zipfile, new / "autograder" / f"{path.stem}.zip")
            for language, tables in translations.items():  # translated as otter wrote it, then made an edition
                table = tables.get(path.name, {})
                nbformat.write(translated_edition(student_edition(translated(student, table, path.name))),
                               new / language / "student" / path.name)
                nbformat.write(translated_edition(instructor_edition(translated(solved, table, path.name))),
                               new / language / "instructor" / path.name)
        if guide.is_dir():
            shutil.copytree(guide, new / "instructor" / "guide", ignore=shutil.ignore_patterns(i18n.LANGUAGE))
            for language in translations:
                if (guide / language).is_dir():
                    shutil.copytree(guide / language, new / language / "instructor" / "guide")
        swap_in(new, release, RELEASE_ALWAYS)
    return release


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "release", help="where to write the editions")
    args = parser.parse_args(argv)
    try:
        release = build(args.out)
    except (OutputError, exercise_marks.MarkError) as exc:  # one line naming the notebook, never otter's traceback
        sys.exit(f"editions: {exc}")
    print(f"wrote {release}/student, {release}/instructor and {release}/autograder"
          + (f", and {release}/{i18n.LANGUAGE}/student and /instructor" if (release / i18n.LANGUAGE).is_dir() else ""))


if __name__ == "__main__":
    main()
