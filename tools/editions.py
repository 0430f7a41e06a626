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


def sources(notebooks: Path = NOTEBOOKS) -> list[Path]:
    """The course notebooks, in order (``NN_name.ipynb``)."""
    return sorted(p for p in notebooks.glob("[0-9][0-9]_*.ipynb"))


def course_wheel(target: Path, root: Path = ROOT) -> Path:
    """``glmlib``'s wheel (no dependencies), built in ``target`` from a copy of the checkout as git sees
    it (tracked and new files, not ignored ones), so that no stale ``build/`` folder gets into it."""
    source = target / "source"
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=root,
                            capture_output=True)
    if listed.returncode == 0:
        for name in filter(None, listed.stdout.decode().split("\0")):
            if (root / name).is_file():
                (source / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(root / name, source / name)
    else:  # not a git checkout (an unpacked archive): everything but environments and build outputs
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


def student_edition(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop the cells that solution stripping left empty, unfold the rest."""
    nb = copy.deepcopy(nb)
    keep = []
    for cell in nb.cells:
        if cell.cell_type == "code" and ANSWER_TAG in _tags(cell) and _only_comments(cell.source):
            continue
        _unfold(cell)
        _unlock(cell)
        keep.append(cell)
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
    release.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=release.parent, prefix=".release-") as tmp:
        work, new = Path(tmp) / "work", Path(tmp) / "release"
        for part in ("student/tests", "instructor", "autograder"):
            (new / part).mkdir(parents=True)
        (work / "wheel").mkdir(parents=True)
        wheel = course_wheel(work / "wheel")
        for path in sources(notebooks):
            out = assign(path, work, wheel)
            student = nbformat.read(out / "student" / path.name, as_version=4)
            nbformat.write(student_edition(student), new / "student" / path.name)
            solved = nbformat.read(out / "autograder" / path.name, as_version=4)
            nbformat.write(instructor_edition(solved), new / "instructor" / path.name)
            for test in (out / "student" / "tests").glob("*.py"):
                shutil.copy2(test, new / "student" / "tests" / test.name)
            (zipfile,) = (out / "autograder").glob("*.zip")
            shutil.copy2(zipfile, new / "autograder" / f"{path.stem}.zip")
        if guide.is_dir():
            shutil.copytree(guide, new / "instructor" / "guide")
        swap_in(new, release, RELEASE_ALWAYS)
    return release


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "release", help="where to write the editions")
    args = parser.parse_args(argv)
    try:
        release = build(args.out)
    except OutputError as exc:
        sys.exit(f"editions: {exc}")
    print(f"wrote {release}/student, {release}/instructor and {release}/autograder")


if __name__ == "__main__":
    main()
