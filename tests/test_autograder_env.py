"""The container and LMS route: an autograder zip brings the environment that grades with it.

otter's Docker grading and an LMS running otter's autograder (Gradescope)
unpack ``release/autograder/NN_name.zip`` in ``/autograder/source`` and
install the pip section of its ``environment.yml`` (with conda). Without
Docker, this test does what that pip step does in a fresh virtual
environment (the zip unpacked in a folder that stands for
``/autograder/source``), then checks that ``glmlib`` comes from the zip's
wheel, not from this checkout, and grades with ``otter run`` from that
environment: the instructor edition of a notebook scores full marks, the
student edition (every exercise an untouched stub) scores 0.

pip installs from its usual sources and cache (torch: the same 2.13.0 wheel);
one install (about a minute and a half) serves the whole test.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import nbformat
import pytest
import yaml

import notebook_runs

ROOT = Path(__file__).resolve().parents[1]
STEM = "03_masks"  # a quick notebook to grade: three exercises, no training
SOURCE = "/autograder/source"  # where otter's image and Gradescope unpack the zip
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def release(request) -> Path:
    return notebook_runs.shared_release(request.config)


def pip_requirements(zf: zipfile.ZipFile) -> list[str]:
    """The pip section of the zip's ``environment.yml``: what the container installs."""
    environment = yaml.safe_load(zf.read("environment.yml"))
    (pip,) = [d["pip"] for d in environment["dependencies"] if isinstance(d, dict) and "pip" in d]
    return pip


def clean_env(venv: Path) -> dict[str, str]:
    """This process's environment with ``venv`` first on PATH and nothing of the checkout's .venv."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "GLMLIB_DATA_DIR")}
    path = [p for p in env["PATH"].split(os.pathsep) if not p.startswith(str(ROOT / ".venv"))]
    env["PATH"] = os.pathsep.join([str(venv / "bin"), *path])
    env["VIRTUAL_ENV"] = str(venv)
    env["PYTHONNOUSERSITE"] = "1"
    return env


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 900) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{command} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_every_zip_carries_the_course_requirements_and_glmlib(release: Path) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "torch==2.13.0" in project["dependencies"]
    zips = sorted((release / "autograder").glob("*.zip"))
    assert [z.stem for z in zips] == sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    for path in zips:
        with zipfile.ZipFile(path) as zf:
            pip = pip_requirements(zf)
            missing = [dep for dep in project["dependencies"] if dep not in pip]
            assert not missing, f"{path.name}: the container would not install {missing}"
            wheels = [line for line in pip if line.startswith(f"{SOURCE}/files/glmlib-")]
            assert len(wheels) == 1, f"{path.name}: glmlib is not installed from the zip's wheel: {pip}"
            inside = wheels[0][len(SOURCE) + 1:]
            assert inside == f"files/glmlib-{project['version']}-py3-none-any.whl"
            assert inside in zf.namelist(), f"{path.name} does not carry {inside}"
            with zf.open(inside) as raw, zipfile.ZipFile(raw) as wheel:
                names = wheel.namelist()
            assert "glmlib/exercises/checking.py" in names and "glmlib/_shipped/shakespeare_gpt.safetensors" in names
            assert not any(name.startswith(("notebooks/", "tests/")) for name in names)


def _with_location_cell(nb: nbformat.NotebookNode, report: Path) -> nbformat.NotebookNode:
    """The notebook with a last cell that writes where its kernel's python and glmlib come from."""
    nb = nbformat.from_dict(nb)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import json as _json, sys as _sys, glmlib as _glmlib\n"
        f"open({str(report)!r}, 'w').write(_json.dumps([_sys.executable, _glmlib.__file__]))"))
    return nb


def _otter_run(venv: Path, zip_path: Path, submission: Path, out: Path, env: dict[str, str]) -> dict:
    out.mkdir()
    run([str(venv / "bin" / "otter"), "run", "-a", str(zip_path), "-o", str(out), "--no-logo", str(submission)],
        submission.parent, env, timeout=600)
    tests = json.loads((out / "results.json").read_text())["tests"]
    return {t["name"]: (float(t["score"]), float(t["max_score"])) for t in tests if t.get("max_score") is not None}


def test_a_zip_installs_its_environment_and_grades_from_it(release: Path, tmp_path: Path) -> None:
    zip_path = release / "autograder" / f"{STEM}.zip"
    source = tmp_path / "autograder" / "source"  # stands for /autograder/source
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(source)
        pip = pip_requirements(zf)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("\n".join(line.replace(SOURCE, str(source)) for line in pip) + "\n")

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = clean_env(venv)
    python = str(venv / "bin" / "python")
    run([python, "-m", "pip", "install", "-q", "-r", str(requirements)], tmp_path, env)

    # glmlib comes from the zip's wheel, not from this checkout (nor an editable install of it)
    where = json.loads(run([python, "-c", (
        "import json, importlib.metadata as md, glmlib, torch\n"
        "dist = md.distribution('glmlib')\n"
        "print(json.dumps([glmlib.__file__, dist.read_text('direct_url.json'), torch.__version__]))")],
        tmp_path, env).strip().splitlines()[-1])
    module, direct_url, torch_version = where
    assert Path(module).is_relative_to(venv), f"glmlib imported from {module}"
    assert not Path(module).is_relative_to(ROOT)
    url = json.loads(direct_url)
    assert url["url"].endswith(".whl") and "editable" not in json.dumps(url.get("dir_info", {})), url
    assert Path(url["url"].removeprefix("file://")).is_relative_to(source), url
    assert torch_version.split("+")[0] == "2.13.0"

    # graded with otter run from that environment, in its own kernel
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    kernel_report = tmp_path / "kernel.json"
    instructor = submissions / f"{STEM}.ipynb"
    nbformat.write(_with_location_cell(nbformat.read(release / "instructor" / f"{STEM}.ipynb", as_version=4),
                                       kernel_report), instructor)
    full = _otter_run(venv, zip_path, instructor, tmp_path / "out-instructor", env)
    assert full and all(score == possible for score, possible in full.values()), full
    executable, kernel_glmlib = json.loads(kernel_report.read_text())
    assert Path(executable).parent == venv / "bin", f"the kernel ran {executable}"
    assert Path(kernel_glmlib).is_relative_to(venv), f"the kernel imported glmlib from {kernel_glmlib}"

    stubs = tmp_path / "stubs"
    stubs.mkdir()
    student = stubs / f"{STEM}.ipynb"
    nbformat.write(nbformat.read(release / "student" / f"{STEM}.ipynb", as_version=4), student)
    unsolved = _otter_run(venv, zip_path, student, tmp_path / "out-student", env)
    assert set(unsolved) == set(full)
    assert all(score == 0 for score, _ in unsolved.values()), unsolved
    assert sum(s for s, _ in unsolved.values()) < sum(s for s, _ in full.values())
