"""The classroom: classroom/jupyterhub_config.py checked, then run on a real JupyterHub.

The configuration tests load the file as JupyterHub does, under different
CLASSROOM_* settings. The hub tests (slow) start JupyterHub from PyPI with
configurable-http-proxy from npm on 127.0.0.1, loading the classroom
configuration and overriding only ports, paths, the spawner (every student
runs as the current account, in a home of their own) and a shared password
(classroom/trial.py). Three students log in through the login form, start
their servers, pull the course with the configuration's nbgitpuller link and
run notebook 03 at the same time through the Jupyter server's REST API and
kernel websocket.
"""
from __future__ import annotations

import os
import runpy
import signal
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

CLASSROOM = Path(__file__).resolve().parent.parent / "classroom"
sys.path.insert(0, str(CLASSROOM))
import trial  # noqa: E402  (classroom/trial.py)

GIB = 1024 ** 3


def settings(**values: str) -> dict[str, str]:
    """The process environment without CLASSROOM_* variables, plus ``values``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLASSROOM_")}
    env.update(values)
    return env


# --- the configuration file ---------------------------------------------------
def test_defaults_cap_threads_limit_memory_and_cull_idle_servers():
    c = trial.load_config(settings())
    env = c.Spawner.environment
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        assert env[name] == "1", name
    assert c.Spawner.mem_limit == "2G"
    assert c.Spawner.cpu_limit == 1.0
    assert c.JupyterHub.spawner_class == "jupyterhub.spawner.LocalProcessSpawner"
    assert c.Spawner.cmd == [sys.executable, "-m", "jupyterhub.singleuser"]
    assert c.JupyterHub.authenticator_class == "pam"
    assert c.Authenticator.allow_all is True
    assert c.Spawner.default_url == "/lab"  # no course repository given: an empty JupyterLab
    assert "GLMLIB_DATA_DIR" not in env  # each student's own corpus cache
    (culler,) = c.JupyterHub.services
    assert culler["name"] == "idle-culler"
    assert culler["command"][1:3] == ["-m", "jupyterhub_idle_culler"]
    assert "--timeout=3600" in culler["command"]
    (role,) = c.JupyterHub.load_roles
    assert role["services"] == ["idle-culler"]
    assert {"list:users", "read:users:activity", "delete:servers"} <= set(role["scopes"])


def test_settings_reach_the_spawner_and_the_nbgitpuller_link(tmp_path):
    c = trial.load_config(settings(
        CLASSROOM_THREADS="4", CLASSROOM_MEM_LIMIT="3G", CLASSROOM_SPAWNER="systemd",
        CLASSROOM_IDLE_TIMEOUT="1200", CLASSROOM_REPO="https://git.example.org/lab/glm-course.git",
        CLASSROOM_BRANCH="student", CLASSROOM_SHARED_PASSWORD="a long password",
        CLASSROOM_USERS="ada,grace", CLASSROOM_ADMINS="alan", CLASSROOM_DATA_DIR=str(tmp_path)))
    assert c.Spawner.environment["GLMLIB_DATA_DIR"] == str(tmp_path)
    assert c.Spawner.environment["OMP_NUM_THREADS"] == "4"
    assert c.Spawner.environment["MKL_NUM_THREADS"] == "4"
    assert (c.Spawner.mem_limit, c.Spawner.cpu_limit) == ("3G", 4.0)
    assert c.JupyterHub.spawner_class == "systemdspawner.SystemdSpawner"
    assert c.SystemdSpawner.dynamic_users is True  # a workshop's names are no system accounts
    assert c.JupyterHub.authenticator_class == "shared-password"
    assert c.SharedPasswordAuthenticator.user_password == "a long password"
    assert c.Authenticator.allowed_users == {"ada", "grace"}
    assert c.Authenticator.admin_users == {"alan"}
    assert "--timeout=1200" in c.JupyterHub.services[0]["command"]
    url = urlsplit(c.Spawner.default_url)
    assert url.path == "/git-pull"
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query == {
        "repo": "https://git.example.org/lab/glm-course.git",
        "branch": "student",
        "targetpath": "glm-course",
        "urlpath": "lab/tree/glm-course/00_welcome.ipynb",  # the student edition's notebooks are at the top
    }


def pull_query(c) -> dict[str, str]:
    """The nbgitpuller query of a configuration's default URL."""
    url = urlsplit(c.Spawner.default_url)
    assert url.path == "/git-pull"
    return {k: v[0] for k, v in parse_qs(url.query).items()}


def test_students_get_the_student_edition_by_default():
    repo = "https://git.example.org/lab/glm-course.git"
    query = pull_query(trial.load_config(settings(CLASSROOM_REPO=repo)))
    assert query["branch"] == "student"  # release/student/ published as its own branch
    assert query["urlpath"] == "lab/tree/glm-course/00_welcome.ipynb"


def test_the_self_study_edition_only_when_chosen():
    repo = "https://git.example.org/lab/glm-course.git"
    query = pull_query(trial.load_config(settings(CLASSROOM_REPO=repo, CLASSROOM_EDITION="self-study")))
    assert query["branch"] == "main"
    assert query["urlpath"] == "lab/tree/glm-course/notebooks/00_welcome.ipynb"
    chosen = pull_query(trial.load_config(settings(CLASSROOM_REPO=repo, CLASSROOM_EDITION="self-study",
                                                   CLASSROOM_BRANCH="spring", CLASSROOM_START="notebooks/03_masks.ipynb")))
    assert (chosen["branch"], chosen["urlpath"]) == ("spring", "lab/tree/glm-course/notebooks/03_masks.ipynb")


def test_the_trial_hands_out_this_checkout_as_self_study(tmp_path):
    env = trial.TrialHub(workdir=tmp_path, proxy="configurable-http-proxy").environment()
    assert env["CLASSROOM_EDITION"] == "self-study"


def test_student_link_goes_through_user_redirect(monkeypatch):
    for name in [k for k in os.environ if k.startswith("CLASSROOM_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CLASSROOM_REPO", "https://git.example.org/lab/glm-course")
    namespace = runpy.run_path(str(CLASSROOM / "jupyterhub_config.py"))
    link = urlsplit(namespace["student_link"]("https://hub.example.org/"))
    assert (link.scheme, link.netloc, link.path) == ("https", "hub.example.org", "/hub/user-redirect/git-pull")
    assert parse_qs(link.query)["repo"] == ["https://git.example.org/lab/glm-course"]


@pytest.mark.parametrize("name, value, message", [
    ("CLASSROOM_THREADS", "0", "CLASSROOM_THREADS='0': expected a whole number from 1 to 1024"),
    ("CLASSROOM_THREADS", "two", "CLASSROOM_THREADS='two': expected a whole number from 1 to 1024"),
    ("CLASSROOM_MEM_LIMIT", "lots", "CLASSROOM_MEM_LIMIT='lots': expected a memory size from 256M to 1024T"),
    ("CLASSROOM_CPU_LIMIT", "-1", "CLASSROOM_CPU_LIMIT='-1': expected a number of cores from 0.01 to 1024"),
    ("CLASSROOM_IDLE_TIMEOUT", "5", "CLASSROOM_IDLE_TIMEOUT='5': expected a whole number from 60 to"),
    ("CLASSROOM_SPAWNER", "kubernetes", "CLASSROOM_SPAWNER='kubernetes': expected one of local, systemd, docker"),
    ("CLASSROOM_SPAWNER", "docker", "CLASSROOM_SPAWNER='docker' needs CLASSROOM_IMAGE"),
    ("CLASSROOM_EDITION", "solutions", "CLASSROOM_EDITION='solutions': expected one of student, self-study"),
    ("CLASSROOM_FOLDER", "../up", "CLASSROOM_FOLDER='../up': expected one folder name"),
    ("CLASSROOM_SHARED_PASSWORD", "short", "CLASSROOM_SHARED_PASSWORD has 5 characters: it needs at least 8"),
    ("CLASSROOM_USERS", "ada,gr ace", "CLASSROOM_USERS: user name 'gr ace' may hold only"),
    ("CLASSROOM_DATA_DIR", "glm-data", "CLASSROOM_DATA_DIR='glm-data': expected an absolute path"),
])
def test_bad_settings_are_named(name, value, message):
    with pytest.raises(ValueError) as error:
        trial.load_config(settings(**{name: value}))
    assert message in str(error.value)


# --- a real JupyterHub --------------------------------------------------------
@pytest.fixture(scope="module")
def proxy() -> str:
    found = trial.find_proxy()
    if not found:
        message = ("configurable-http-proxy (npm) is missing: "
                   f"npm install --prefix {trial.PROXY_DIR} configurable-http-proxy")
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="module")
def hub(proxy, tmp_path_factory, request):
    hub = trial.TrialHub(workdir=tmp_path_factory.mktemp("hub"), proxy=proxy)
    request.addfinalizer(hub.stop)  # before start: a hub that fails half-way is still stopped
    try:
        hub.start()
    except Exception:
        print(hub.log_tail())
        raise
    return hub


@pytest.mark.slow
def test_login_needs_the_shared_password(hub):
    with pytest.raises(trial.LoginFailed):
        hub.login("mallory", password="not-the-password")


@pytest.mark.slow
def test_the_idle_culler_runs_as_a_hub_service(hub):
    culler = [cmd for cmd in hub.children() if "jupyterhub_idle_culler" in cmd]
    assert len(culler) == 1, hub.children()
    assert "--timeout=3600" in culler[0]


@pytest.mark.slow
def test_three_students_run_notebook_03_at_once(hub):
    names = ["ada", "grace", "alan"]
    result = trial.run_class(hub, names)
    homes = hub.workdir / "homes"
    for name, run in zip(names, result.runs):
        assert run.user == name
        assert not run.errors, (name, run.errors, hub.log_tail())
        assert run.code_cells >= 20 and len(run.cells) == run.code_cells, name
        assert not run.mismatches, (name, run.mismatches)
        for probe in (run.before, run.after):  # right after the kernel started, and after the last cell
            assert probe["torch_threads"] == 1, (name, probe)
            assert probe["env"]["OMP_NUM_THREADS"] == probe["env"]["MKL_NUM_THREADS"] == "1", (name, probe)
            assert probe["env"]["MEM_LIMIT"] == str(2 * GIB)  # the configuration's mem_limit
            assert probe["env"]["CPU_LIMIT"] == "1.0"
        # each student in a home of their own, in the course nbgitpuller put there
        assert run.after["home"] == str(homes / name)
        assert run.after["cwd"] == str(homes / name / "course" / "notebooks")
        assert (homes / name / "course" / ".git").is_dir()
        assert run.after["maxrss_mib"] * 1024 ** 2 < 2 * GIB  # notebook 03 fits the memory limit
    assert len({run.after["pid"] for run in result.runs}) == 3
    # at once: every notebook started before any other one finished
    assert max(run.started for run in result.runs) < min(run.ended for run in result.runs)
    print(f"three students at once: {result.seconds:.1f} s wall; notebook "
          + ", ".join(f"{run.seconds:.1f} s" for run in result.runs)
          + "; peak kernel memory " + ", ".join(f"{run.after['maxrss_mib']:.0f} MiB" for run in result.runs))


@pytest.mark.slow
def test_a_crashed_hub_leaves_nothing_behind(hub):
    """The hub killed outright (last: it ends the module's hub): its proxy, culler, servers and
    kernels are orphans, still running; stop(), the fixture's finalizer, still ends them all."""
    student = hub.login("ada")
    if not student.api.get(f"{hub.url}/hub/api/users/ada", timeout=30).json()["servers"]:
        student.start_server()  # when this test runs alone
    reply = student.api.post(f"{student.server}/api/kernels", json={"name": "python3"}, timeout=60)
    reply.raise_for_status()
    found = trial.marked(hub.marker) - {hub.process.pid}
    lines = {pid: trial._read(f"/proc/{pid}/cmdline").decode(errors="replace").replace("\0", " ")
             for pid in found}
    kinds = " ".join(lines.values())
    for part in ("configurable-http-proxy", "jupyterhub_idle_culler", "jupyterhub.singleuser", "ipykernel"):
        assert part in kinds, (part, kinds)
    os.kill(hub.process.pid, signal.SIGKILL)
    hub.process.wait()
    gone = [lines[pid] for pid in found if not trial._alive(pid)]
    assert not gone, gone  # orphaned, not ended by the hub's death
    hub.stop()
    assert not [lines[pid] for pid in found if trial._alive(pid)]
    assert not trial.marked(hub.marker)
