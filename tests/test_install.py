"""The install paths, tried in a fresh environment (slow: an install takes minutes).

- the README's macOS/Linux lines, run exactly as written in a copy of the
  checkout: the course installs, JupyterLab opens with the course's settings
  (no news, no update checks), the test stack installs and pytest runs;
- a wheel built from the checkout, installed (not editable) into that fresh
  environment, which is then made read-only: the shipped model loads, the
  corpus is built into the per-user cache (or ``GLMLIB_DATA_DIR``) and the
  model writes text; nothing under the environment changes;
- ``jupyter lab`` from this environment (what ``make lab`` opens) serves the
  course's settings.

pip installs from its usual sources and cache (torch: the same 2.13.0 wheel).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
NOTIFICATION = "@jupyterlab/apputils-extension:notification"
pytestmark = pytest.mark.slow


# ------------------------------------------------------------------ helpers
def readme_linux_blocks() -> list[list[str]]:
    """The command lines of the README's macOS/Linux install blocks: [course lines, test lines]."""
    text = README.read_text(encoding="utf-8")
    start = text.index("macOS or Linux (`tests/test_install.py` runs exactly these lines")
    section = text[start:text.index("\n### ", start)]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    return [[line for line in block.splitlines() if line.strip()] for block in blocks]


def copy_checkout(target: Path) -> Path:
    """The checkout's files as git sees them (tracked and new, not ignored), without .venv or caches."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lab_environment(tmp: Path, port: int, token: str) -> dict[str, str]:
    """Environment for a headless ``jupyter lab`` on 127.0.0.1:port whose command line is untouched:
    the server options come from a config folder, user settings from an empty folder."""
    config = tmp / "jupyter-config"
    config.mkdir()
    (config / "jupyter_server_config.json").write_text(json.dumps({
        "ServerApp": {"open_browser": False, "ip": "127.0.0.1", "port": port, "port_retries": 0,
                      "allow_root": True},
        "IdentityProvider": {"token": token},
    }))
    (tmp / "user-settings").mkdir()
    return {**os.environ, "JUPYTER_CONFIG_DIR": str(config),
            "JUPYTERLAB_SETTINGS_DIR": str(tmp / "user-settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces")}


def notification_defaults(command: list[str] | str, cwd: Path, tmp: Path, timeout: float = 120) -> dict:
    """Start ``command`` (a jupyter lab), read the notification plugin's settings from its
    settings API, stop it; the defaults its schema reports (overrides applied)."""
    port, token = free_port(), "install-test"
    env = lab_environment(tmp, port, token)
    log = open(tmp / "lab.log", "w+")
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                            shell=isinstance(command, str), start_new_session=True)
    url = f"http://127.0.0.1:{port}/lab/api/settings/{NOTIFICATION}?token={token}"
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"jupyter lab exited with code {proc.returncode}:\n{log.read()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=5) as answer:
                    reply = json.load(answer)
                break
            except OSError:
                time.sleep(0.5)
        else:
            log.seek(0)
            pytest.fail(f"jupyter lab did not answer within {timeout:.0f} s:\n{log.read()[-3000:]}")
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
        log.close()
    assert reply["id"] == NOTIFICATION
    return {k: v.get("default") for k, v in reply["schema"]["properties"].items()}


def run(command: list[str] | str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 900,
        **kwargs) -> subprocess.CompletedProcess:
    out = subprocess.run(command, cwd=cwd, env=env, shell=isinstance(command, str), capture_output=True,
                         text=True, timeout=timeout, **kwargs)
    assert out.returncode == 0, f"{command!r} failed ({out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


def shared_tmp(prefix: str) -> Path:
    """A folder that another user can enter (pytest's tmp_path is private to its owner)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)
    return folder


def snapshot(folder: Path) -> dict[str, tuple[int, int, str]]:
    """Every file under ``folder``: size, mtime and SHA-256 (of small files; size and mtime otherwise)."""
    state = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            info = path.stat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if info.st_size < 1 << 20 else ""
            state[str(path.relative_to(folder))] = (info.st_size, info.st_mtime_ns, digest)
    return state


def make_read_only(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            mode = path.stat().st_mode
            path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def make_writable(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | stat.S_IWUSR)


# ------------------------------------------------------------------ the README's lines
def test_readme_has_install_lines_for_windows_and_unix() -> None:
    text = README.read_text(encoding="utf-8")
    course, tests = readme_linux_blocks()
    assert course[0].startswith("python3 -m venv .venv")
    assert any("-r requirements.txt" in line for line in course)
    assert any(line.startswith(".venv/bin/jupyter lab") for line in course)
    assert "-r requirements-test.txt" in tests[0] and "pytest" in tests[-1]
    powershell = re.findall(r"```powershell\n(.*?)```", text, re.S)
    assert len(powershell) == 2
    windows = [line.replace("\\", "/").replace(".venv/Scripts/", ".venv/bin/")
               for block in powershell for line in block.splitlines() if line.strip()]
    unix = [line for block in (course, tests) for line in block]
    assert windows[1:] == unix[1:], "the Windows and Linux lines say different things"


def clean_env() -> dict[str, str]:
    """This process's environment without its virtual environment or glmlib settings."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "GLMLIB_DATA_DIR")}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep)
                                  if not p.startswith(str(ROOT / ".venv")))
    return env


@pytest.fixture(scope="module")
def fresh_course() -> Iterator[Path]:
    """A copy of the checkout in which the README's macOS/Linux course lines (all but
    ``jupyter lab``) have run: a fresh .venv with the course. The two tests below share it
    (an install takes minutes); the wheel test, which replaces the editable glmlib, comes last."""
    base = shared_tmp("glmlib-install-")  # the wheel test runs its check as another user
    work = copy_checkout(base / "clone")
    try:
        for line in readme_linux_blocks()[0]:
            if not line.startswith(".venv/bin/jupyter lab"):
                run(line, work, clean_env())
        yield work
    finally:
        make_writable(base)
        shutil.rmtree(base, ignore_errors=True)


def test_readme_linux_lines_install_open_and_test_the_course(fresh_course: Path, tmp_path: Path) -> None:
    """Every line of the README's macOS/Linux blocks, in order, in a copy of the checkout
    (the install lines ran in the fixture)."""
    work, env = fresh_course, clean_env()
    python = work / ".venv" / "bin" / "python"
    where = run([str(python), "-c", "import glmlib; print(glmlib.__file__)"], tmp_path, env).stdout.strip()
    assert where == str(work / "glmlib" / "__init__.py"), "requirements.txt should install glmlib editable"
    course, tests = readme_linux_blocks()
    (lab_line,) = [line for line in course if line.startswith(".venv/bin/jupyter lab")]
    defaults = notification_defaults(lab_line, work, tmp_path)
    assert defaults["fetchNews"] == "false" and defaults["checkForUpdates"] is False
    for line in tests:
        if " -m pytest" in line:
            # the whole suite is what `make test` runs; here, one quick file shows pytest, its
            # plugins (nbval, from addopts) and glmlib work in this environment
            quick = {**env, "PYTEST_ADDOPTS": "-p no:cacheprovider -q tests/test_masks.py"}
            out = run(line, work, quick)
            assert re.search(r"\b\d+ passed\b", out.stdout) and " failed" not in out.stdout
        else:
            run(line, work, env)
    run([str(python), "-m", "pip", "check"], work, env)


# ------------------------------------------------------------------ a wheel, installed read-only
CHECK = r"""
import json, os, sys
from pathlib import Path
import torch
import glmlib
from glmlib.data import CACHE_FILE, CharTokenizer, CORPUS_SHA256, corpus_sha256, load_shakespeare
from glmlib.model import PRETRAINED, load_pretrained
model, tokenizer = load_pretrained()
text = load_shakespeare()
assert corpus_sha256(text) == CORPUS_SHA256
assert CharTokenizer.from_text(text).chars == tokenizer.chars
idx = torch.tensor([tokenizer.encode("ROMEO:\n")])
out = model.generate(idx, 80, temperature=0.8, generator=torch.Generator().manual_seed(0))
print(json.dumps({"package": glmlib.__file__, "model": str(PRETRAINED), "cache": str(CACHE_FILE),
                  "cached": CACHE_FILE.is_file(), "sample": tokenizer.decode(out[0]),
                  "user": os.getuid()}))
"""


def read_only_runner(venv: Path) -> tuple[list[str], str]:
    """A command prefix under which ``venv`` cannot be written, and how. Root ignores file
    modes, so as root the check runs as the user nobody (setpriv) or, where nobody cannot
    reach the interpreter, in a mount namespace where ``venv`` is mounted read-only."""
    if os.geteuid() != 0:
        return [], "file modes"
    python = str(venv / "bin" / "python")
    setpriv = shutil.which("setpriv")
    if setpriv:
        prefix = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
        if subprocess.run(prefix + [python, "-c", "pass"], capture_output=True).returncode == 0:
            return prefix, "file modes, as the user nobody"
    unshare = shutil.which("unshare")
    if unshare:
        script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
        prefix = [unshare, "--mount", "sh", "-c", script, str(venv)]
        if subprocess.run(prefix + ["touch", str(venv / "probe")], capture_output=True).returncode != 0 \
                and subprocess.run(prefix + [python, "-c", "pass"], capture_output=True).returncode == 0:
            return prefix, "a read-only mount"
    return [], "unchanged files only (root, without setpriv or unshare)"


def test_wheel_installs_read_only_and_runs_the_model(fresh_course: Path, tmp_path: Path) -> None:
    """The wheel replaces the editable glmlib in the fresh environment (its dependencies are the
    course's, installed by the fixture); then the environment is made read-only."""
    wheels = tmp_path / "wheels"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)], tmp_path)
    (wheel,) = wheels.glob("glmlib-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {"glmlib/_shipped/shakespeare_gpt.safetensors", "glmlib/_shipped/shakespeare_gpt.json"} <= set(names)
    assert not [n for n in names if n.endswith(("shakespeare.txt", ".tmp", "README.md"))], names
    assert any(n.endswith("data/share/jupyter/lab/settings/overrides.d/glmlib.json") for n in names)

    venv = fresh_course / ".venv"
    base = fresh_course.parent
    python = venv / "bin" / "python"
    settings = venv / "share" / "jupyter" / "lab" / "settings" / "overrides.d" / "glmlib.json"
    settings.unlink(missing_ok=True)  # put there by install_settings.py; the wheel must bring its own
    run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(wheel)], base)
    run([str(python), "-m", "pip", "check"], base)  # the wheel's dependencies are all there
    assert json.loads(settings.read_text())[NOTIFICATION]["fetchNews"] == "false"
    site = next((venv / "lib").glob("python3.*/site-packages"))
    assert not list(site.glob("__editable__*glmlib*")), "the editable install is still there"

    make_read_only(venv)
    before = snapshot(venv)
    home = base / "home"
    home.mkdir()
    home.chmod(0o777)
    work = base / "elsewhere"  # not the checkout: nothing may come from data/
    work.mkdir()
    work.chmod(0o755)
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "XDG_CACHE_HOME": str(home / "cache"),
           "OMP_NUM_THREADS": "1"}
    prefix, how = read_only_runner(venv)
    print(f"read-only by {how}")
    if os.environ.get("CI") == "true" and os.geteuid() == 0:
        assert prefix, f"CI runs as root, and {how} is a weaker check than a read-only install"
    first = json.loads(run(prefix + [str(python), "-c", CHECK], work, env).stdout.splitlines()[-1])
    assert first["package"] == str(site / "glmlib" / "__init__.py")
    assert first["model"] == str(site / "glmlib" / "_shipped" / "shakespeare_gpt")
    assert first["cache"] == str(home / "cache" / "glmlib" / "shakespeare.txt") and first["cached"]
    assert first["sample"].startswith("ROMEO:\n") and len(first["sample"]) == len("ROMEO:\n") + 80
    if "nobody" in how:
        assert first["user"] == 65534

    # GLMLIB_DATA_DIR moves the cache; the second run also reads the cache back
    chosen = home / "chosen"
    second = json.loads(run(prefix + [str(python), "-c", CHECK], work,
                            {**env, "GLMLIB_DATA_DIR": str(chosen)}).stdout.splitlines()[-1])
    assert second["cache"] == str(chosen / "shakespeare.txt") and second["cached"]
    assert second["sample"] == first["sample"], "the same seed gave different text"

    after = snapshot(venv)
    assert after == before, f"the installed environment changed: {sorted(set(after) ^ set(before))[:5]}"


# ------------------------------------------------------------------ what make lab opens
def test_jupyter_lab_of_this_environment_has_no_news_or_update_prompts(tmp_path: Path) -> None:
    """``make lab`` installs the course's settings into .venv (jupyter/install_settings.py);
    the settings API of a headless ``jupyter lab`` from it reports them."""
    jupyter = Path(sys.prefix) / "bin" / "jupyter"
    installed = Path(sys.prefix) / "share/jupyter/lab/settings/overrides.d/glmlib.json"
    assert installed.is_file(), f"{installed} is missing: run python jupyter/install_settings.py (make lab does)"
    root = tmp_path / "root"
    root.mkdir()
    defaults = notification_defaults([str(jupyter), "lab", f"--ServerApp.root_dir={root}"], tmp_path, tmp_path)
    assert defaults["fetchNews"] == "false"
    assert defaults["checkForUpdates"] is False
