"""JupyterHub for a class taking the course: one server per student.

Start it with ``jupyterhub -f classroom/jupyterhub_config.py`` from the
environment where the course is installed (``classroom/README.md`` says how).
Everything a lab administrator usually changes is read from ``CLASSROOM_*``
environment variables, checked, and applied below:

==========================  ===========  ====================================================
variable                    default      meaning
==========================  ===========  ====================================================
CLASSROOM_THREADS           1            CPU threads of each student's torch/OpenMP/MKL
CLASSROOM_MEM_LIMIT         2G           memory per student server (K, M, G, T suffixes)
CLASSROOM_CPU_LIMIT         = threads    CPU cores per student server (systemd, docker)
CLASSROOM_IDLE_TIMEOUT      3600         seconds of inactivity before a server is stopped
CLASSROOM_SPAWNER           local        local, systemd or docker (what enforces the limits)
CLASSROOM_REPO              (none)       git URL of the course handed out with nbgitpuller
CLASSROOM_EDITION           student      what CLASSROOM_REPO holds: student (the student
                                         edition, no solutions) or self-study (the
                                         course as in the repository, solutions folded)
CLASSROOM_BRANCH            student      branch of CLASSROOM_REPO (main for self-study)
CLASSROOM_FOLDER            repo's name  folder the course lands in, in each home
CLASSROOM_START             00_welcome.ipynb   first notebook opened
                                         (notebooks/00_welcome.ipynb for self-study)
CLASSROOM_SHARED_PASSWORD   (none)       one password for everyone (a workshop) instead of
                                         the machine's accounts (PAM)
CLASSROOM_USERS             (anyone)     comma-separated user names allowed to log in
CLASSROOM_ADMINS            (none)       comma-separated admin user names
CLASSROOM_DATA_DIR          (per user)   a shared, prebuilt corpus cache (GLMLIB_DATA_DIR)
CLASSROOM_BIND_URL          http://:8000 where the hub listens
CLASSROOM_PYTHON            this Python  the course environment's Python (local, systemd)
CLASSROOM_IMAGE             (none)       the course image (docker, required there)
CLASSROOM_HUB_CONNECT_IP    172.17.0.1   the hub's address seen from a container (docker)
==========================  ===========  ====================================================

Run as a script (``python classroom/jupyterhub_config.py``) it prints the
settings it would apply and the nbgitpuller link to give students.
"""
import os
import re
import sys
from urllib.parse import quote, urlencode

try:
    c = get_config()  # noqa: F821 (defined by JupyterHub when it loads this file)
except NameError:  # run as a script
    from traitlets.config import Config

    c = Config()

SPAWNERS = {
    "local": "jupyterhub.spawner.LocalProcessSpawner",
    "systemd": "systemdspawner.SystemdSpawner",
    "docker": "dockerspawner.DockerSpawner",
}


def _setting(name, default):
    return os.environ.get(name, "").strip() or default


def _whole(name, default, least):
    raw = _setting(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < least:
        raise ValueError(f"{name}={raw!r}: expected a whole number >= {least}")
    return value


def _names(name):
    raw = _setting(name, "")
    names = {part.strip() for part in raw.split(",") if part.strip()}
    for user in names:
        if not re.fullmatch(r"[A-Za-z0-9_.@-]+", user):
            raise ValueError(f"{name}: user name {user!r} may hold only letters, digits and . _ @ -")
    return names


THREADS = _whole("CLASSROOM_THREADS", 1, least=1)

MEM_LIMIT = _setting("CLASSROOM_MEM_LIMIT", "2G")
if not re.fullmatch(r"\d+(\.\d+)?[KMGT]?", MEM_LIMIT):
    raise ValueError(f"CLASSROOM_MEM_LIMIT={MEM_LIMIT!r}: expected bytes or a number with K, M, G or T, e.g. 2G")

_cpu = _setting("CLASSROOM_CPU_LIMIT", str(THREADS))
try:
    CPU_LIMIT = float(_cpu)
except ValueError:
    CPU_LIMIT = 0.0
if not CPU_LIMIT > 0:
    raise ValueError(f"CLASSROOM_CPU_LIMIT={_cpu!r}: expected a number of cores > 0, e.g. 1 or 0.5")

IDLE_TIMEOUT = _whole("CLASSROOM_IDLE_TIMEOUT", 3600, least=60)

SPAWNER = _setting("CLASSROOM_SPAWNER", "local")
if SPAWNER not in SPAWNERS:
    raise ValueError(f"CLASSROOM_SPAWNER={SPAWNER!r}: expected one of {', '.join(SPAWNERS)}")

REPO = _setting("CLASSROOM_REPO", "")
# What students are handed: the student edition unless the teacher names the self-study one.
EDITIONS = {  # edition -> (default branch, default first notebook)
    "student": ("student", "00_welcome.ipynb"),  # release/student/ published as its own branch
    "self-study": ("main", "notebooks/00_welcome.ipynb"),  # the repository itself: solutions folded
}
EDITION = _setting("CLASSROOM_EDITION", "student")
if EDITION not in EDITIONS:
    raise ValueError(f"CLASSROOM_EDITION={EDITION!r}: expected one of {', '.join(EDITIONS)}")
BRANCH = _setting("CLASSROOM_BRANCH", EDITIONS[EDITION][0])
FOLDER = _setting("CLASSROOM_FOLDER", re.sub(r"\.git$", "", REPO.rstrip("/").split("/")[-1]) or "course")
if not re.fullmatch(r"[A-Za-z0-9_.-]+", FOLDER) or FOLDER in (".", ".."):
    raise ValueError(f"CLASSROOM_FOLDER={FOLDER!r}: expected one folder name (letters, digits, . _ -)")
START = _setting("CLASSROOM_START", EDITIONS[EDITION][1]).lstrip("/")

SHARED_PASSWORD = _setting("CLASSROOM_SHARED_PASSWORD", "")
if SHARED_PASSWORD and len(SHARED_PASSWORD) < 8:
    raise ValueError(f"CLASSROOM_SHARED_PASSWORD has {len(SHARED_PASSWORD)} characters: it needs at least 8")
USERS = _names("CLASSROOM_USERS")
ADMINS = _names("CLASSROOM_ADMINS")
DATA_DIR = _setting("CLASSROOM_DATA_DIR", "")
if DATA_DIR and not os.path.isabs(DATA_DIR):
    raise ValueError(f"CLASSROOM_DATA_DIR={DATA_DIR!r}: expected an absolute path, e.g. /srv/glm-data")
BIND_URL = _setting("CLASSROOM_BIND_URL", "http://:8000")
PYTHON = _setting("CLASSROOM_PYTHON", sys.executable)
IMAGE = _setting("CLASSROOM_IMAGE", "")
if SPAWNER == "docker" and not IMAGE:
    raise ValueError("CLASSROOM_SPAWNER='docker' needs CLASSROOM_IMAGE, the image holding the course")


def pull_path():
    """The nbgitpuller part of a link: ``git-pull?repo=...``; clones once, then merges
    new commits without overwriting what the student changed."""
    query = urlencode(
        {
            "repo": REPO,
            "branch": BRANCH,
            "targetpath": FOLDER,
            "urlpath": f"lab/tree/{FOLDER}/{START}",
        },
        quote_via=quote,
    )
    return f"git-pull?{query}"


def student_link(hub_url):
    """The link to hand out: logs in, starts the server, pulls the course, opens START."""
    return f"{hub_url.rstrip('/')}/hub/user-redirect/{pull_path()}"


# --- the hub -----------------------------------------------------------------
c.JupyterHub.bind_url = BIND_URL
c.JupyterHub.spawner_class = SPAWNERS[SPAWNER]

if SHARED_PASSWORD:
    # A workshop: anyone with the password picks a user name (see the guide's warning).
    c.JupyterHub.authenticator_class = "shared-password"
    c.SharedPasswordAuthenticator.user_password = SHARED_PASSWORD
else:
    # The machine's own accounts and passwords.
    c.JupyterHub.authenticator_class = "pam"
if USERS:
    c.Authenticator.allowed_users = USERS
else:
    c.Authenticator.allow_all = True
c.Authenticator.admin_users = ADMINS

# --- each student's server ---------------------------------------------------
# Threads: torch reads OMP_NUM_THREADS and MKL_NUM_THREADS when it starts, so
# torch.get_num_threads() in every kernel is THREADS; numpy's BLAS follows the rest.
_threads = str(THREADS)
c.Spawner.environment = {
    "OMP_NUM_THREADS": _threads,
    "MKL_NUM_THREADS": _threads,
    "OPENBLAS_NUM_THREADS": _threads,
    "NUMEXPR_NUM_THREADS": _threads,
    "VECLIB_MAXIMUM_THREADS": _threads,
}
if DATA_DIR:
    c.Spawner.environment["GLMLIB_DATA_DIR"] = DATA_DIR
# Limits: passed to every spawner, enforced by systemd (MemoryMax, CPUQuota) and
# docker (the container's memory and CPU quota). LocalProcessSpawner only sets
# MEM_LIMIT and CPU_LIMIT in the environment: it enforces neither.
c.Spawner.mem_limit = MEM_LIMIT
c.Spawner.cpu_limit = CPU_LIMIT
# Sixty servers starting at the start of a lesson: give them time.
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 120
c.Spawner.default_url = f"/{pull_path()}" if REPO else "/lab"

if SPAWNER in ("local", "systemd"):
    # The single-user server from the course's environment, whatever the students' PATH.
    c.Spawner.cmd = [PYTHON, "-m", "jupyterhub.singleuser"]
if SPAWNER == "systemd":
    c.SystemdSpawner.isolate_tmp = True
    c.SystemdSpawner.isolate_devices = True
    c.SystemdSpawner.disable_user_sudo = True
    # A workshop's user names are not accounts of the machine: systemd makes them up.
    c.SystemdSpawner.dynamic_users = bool(SHARED_PASSWORD)
if SPAWNER == "docker":
    c.DockerSpawner.image = IMAGE
    c.DockerSpawner.remove = True
    c.DockerSpawner.notebook_dir = "/home/jovyan"
    c.DockerSpawner.volumes = {"classroom-{username}": "/home/jovyan"}
    # The hub runs on the host; containers reach it through docker's default bridge.
    c.JupyterHub.hub_ip = "0.0.0.0"
    c.JupyterHub.hub_connect_ip = _setting("CLASSROOM_HUB_CONNECT_IP", "172.17.0.1")

# --- the idle culler: stops servers nobody used for IDLE_TIMEOUT seconds ------
c.JupyterHub.services = [
    {
        "name": "idle-culler",
        "command": [
            sys.executable,
            "-m",
            "jupyterhub_idle_culler",
            f"--timeout={IDLE_TIMEOUT}",
            f"--cull-every={max(60, IDLE_TIMEOUT // 6)}",
        ],
    }
]
c.JupyterHub.load_roles = [
    {
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    }
]


if __name__ == "__main__":
    print(f"spawner: {SPAWNERS[SPAWNER]}")
    print(f"threads per student: {THREADS} (OMP_NUM_THREADS, MKL_NUM_THREADS, ...)")
    enforced = "enforced" if SPAWNER != "local" else "NOT enforced by the local spawner"
    print(f"memory per student: {MEM_LIMIT}, CPU cores: {CPU_LIMIT:g} ({enforced})")
    print(f"idle servers stopped after {IDLE_TIMEOUT} s")
    print(f"login: {'one shared password' if SHARED_PASSWORD else 'the machine accounts (PAM)'}")
    if REPO:
        print(f"edition handed out: {EDITION} (branch {BRANCH} of {REPO})")
        print(f"link for the students: {student_link(sys.argv[1] if len(sys.argv) > 1 else 'https://HUB')}")
    else:
        print("no CLASSROOM_REPO: students start in an empty JupyterLab")
