"""JupyterHub for a class taking the course: one server per student.

Start it with ``jupyterhub -f classroom/jupyterhub_config.py`` from the
environment where the course is installed (``classroom/README.md`` says how).
Everything a lab administrator usually changes is read from ``CLASSROOM_*``
environment variables, checked, and applied below:

==========================  ===========  ====================================================
variable                    default      meaning
==========================  ===========  ====================================================
CLASSROOM_THREADS           1            CPU threads of each student's torch/OpenMP/MKL
                                         (1 to 1024)
CLASSROOM_MEM_LIMIT         2G           memory per student server: K, M, G, T (units of
                                         1024, e.g. 512M, 1.5G) or whole bytes; 256M or more
CLASSROOM_CPU_LIMIT         = threads    CPU cores per student server (systemd, docker):
                                         0.01 to 1024
CLASSROOM_IDLE_TIMEOUT      3600         seconds of inactivity before a server is stopped
                                         (60 or more)
CLASSROOM_SPAWNER           local        local, systemd or docker (what enforces the limits)
CLASSROOM_REPO              (none)       git URL of the course handed out with nbgitpuller
CLASSROOM_EDITION           student      what CLASSROOM_REPO holds: student (the student
                                         edition, no solutions) or self-study (the
                                         course as in the repository, solutions folded)
CLASSROOM_BRANCH            student      branch of CLASSROOM_REPO (main for self-study)
CLASSROOM_FOLDER            repo's name  folder the course lands in, in each home
CLASSROOM_START             00_welcome.ipynb   first notebook opened
                                         (notebooks/00_welcome.ipynb for self-study,
                                         notebooks/zh-CN/00_welcome.ipynb in Chinese)
CLASSROOM_LANGUAGE          en           en or zh-CN: the language of checker messages
                                         and explorer labels (GLMLIB_LANG); zh-CN with
                                         the Chinese edition (release/zh-CN/student)
CLASSROOM_SHARED_PASSWORD   (none)       one password for everyone (a workshop) instead of
                                         the machine's accounts (PAM): 8 characters or
                                         more, used exactly as given (one that begins
                                         or ends with a space, or is only spaces, is
                                         refused)
CLASSROOM_USERS             (anyone)     comma-separated user names allowed to log in
                                         (set but naming nobody, e.g. ",,,": refused)
CLASSROOM_ADMINS            (none)       comma-separated admin user names
CLASSROOM_DATA_DIR          (per user)   a shared, prebuilt corpus cache (GLMLIB_DATA_DIR):
                                         an existing folder, absolute path
CLASSROOM_BIND_URL          http://:8000 where the hub listens: http(s)://address:port/
CLASSROOM_PYTHON            this Python  the course environment's Python (local, systemd)
CLASSROOM_IMAGE             (none)       the course image (docker, required there)
CLASSROOM_HUB_CONNECT_IP    172.17.0.1   the hub's address seen from a container (docker)
==========================  ===========  ====================================================

A value outside what the table allows stops the hub at its start with one line
naming the variable, the value and what is allowed: never a hub that starts and
then fails every student's server, nor one that quietly admits anyone.

Run as a script (``python classroom/jupyterhub_config.py``) it prints the
settings it would apply and the nbgitpuller link to give students.
"""
import math
import os
import re
import sys
from urllib.parse import quote, urlencode, urlsplit

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


def _whole(name, default, least, most):
    raw = _setting(name, str(default))
    value = int(raw) if re.fullmatch(r"\d{1,12}", raw) else None
    if value is None or not least <= value <= most:
        raise ValueError(f"{name}={raw!r}: expected a whole number from {least} to {most}")
    return value


def _names(name):
    raw = _setting(name, "")
    names = {part.strip() for part in raw.split(",") if part.strip()}
    if raw and not names:
        # ",,," names nobody: never read it as "no list given", which would admit anyone.
        raise ValueError(f"{name}={raw!r}: names no user; expected comma-separated user names, e.g. ada,grace "
                         "(or leave it unset)")
    for user in names:
        if not re.fullmatch(r"[A-Za-z0-9_.@-]+", user):
            raise ValueError(f"{name}: user name {user!r} may hold only letters, digits and . _ @ -")
    return names


# JupyterHub's Spawner.mem_limit takes an int (bytes) or a string "<number><K|M|G|T>" (units of 1024);
# anything else breaks every student's server when it starts, so it is checked here, at the hub's start.
MEM_UNITS = {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}
MEM_LEAST, MEM_MOST = 256 * MEM_UNITS["M"], 1024 * MEM_UNITS["T"]  # a server alone takes ~100 MiB, a kernel ~400


def _memory(name, default):
    """The memory limit as the spawner takes it: "2G" kept as written, plain bytes "2147483648" as an int."""
    raw = _setting(name, default)
    match = re.fullmatch(r"(\d{1,16}(?:\.\d{1,6})?)([KMGT]?)", raw)
    if match and match.group(2) == "" and "." in match.group(1):
        match = None  # the spawner reads a bare number as whole bytes only
    size = int(float(match.group(1)) * MEM_UNITS[match.group(2)]) if match else None
    if size is None or not MEM_LEAST <= size <= MEM_MOST:
        raise ValueError(f"{name}={raw!r}: expected a memory size from 256M to 1024T: a number with K, M, G or T "
                         "(units of 1024, e.g. 2G, 512M, 1.5G) or whole bytes (e.g. 2147483648)")
    return raw if match.group(2) else size


def _cores(name, default):
    raw = _setting(name, default)
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0.01 <= value <= 1024):
        raise ValueError(f"{name}={raw!r}: expected a number of cores from 0.01 to 1024, e.g. 1 or 0.5")
    return value


def _bind_url(name, default):
    """An http(s) URL JupyterHub can listen on: http://:8000, https://0.0.0.0:443/hub-prefix/, ..."""
    raw = _setting(name, default)
    allowed = f"{name}={raw!r}: expected http:// or https://, an address and a port, e.g. http://:8000 or http://0.0.0.0:8000"
    parts = urlsplit(raw)
    try:
        port = parts.port
    except ValueError:
        raise ValueError(allowed) from None
    host = parts.hostname or ""
    if (parts.scheme not in ("http", "https") or not parts.netloc or parts.username or parts.query or parts.fragment
            or (port is not None and not 1 <= port <= 65535)
            or not re.fullmatch(r"[A-Za-z0-9.:_-]*", host)
            or not re.fullmatch(r"(/[A-Za-z0-9._~-]*)*", parts.path)):
        raise ValueError(allowed)
    return raw


def _shared_password(name):
    """The workshop's password exactly as given; blank or padded is refused (students could not type it)."""
    raw = os.environ.get(name, "")
    if raw == "":
        return ""  # unset: the machine's accounts (PAM)
    if not raw.strip():
        raise ValueError(f"{name} is set but holds only spaces: give a password of at least 8 characters, "
                         "or unset it to use the machine's accounts")
    if raw != raw.strip():
        raise ValueError(f"{name} begins or ends with a space or a line break: remove it "
                         "(students would have to type it; the password is used exactly as given)")
    if len(raw) < 8:
        raise ValueError(f"{name} has {len(raw)} characters: it needs at least 8")
    return raw


THREADS = _whole("CLASSROOM_THREADS", 1, least=1, most=1024)
MEM_LIMIT = _memory("CLASSROOM_MEM_LIMIT", "2G")
CPU_LIMIT = _cores("CLASSROOM_CPU_LIMIT", str(THREADS))
IDLE_TIMEOUT = _whole("CLASSROOM_IDLE_TIMEOUT", 3600, least=60, most=365 * 24 * 3600)

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
LANGUAGES = {"en": "", "zh-CN": "zh-CN/"}  # language -> the self-study edition's folder in notebooks/
LANGUAGE = _setting("CLASSROOM_LANGUAGE", "en")
if LANGUAGE not in LANGUAGES:
    raise ValueError(f"CLASSROOM_LANGUAGE={LANGUAGE!r}: expected one of {', '.join(LANGUAGES)}")
_start = EDITIONS[EDITION][1].replace("notebooks/", f"notebooks/{LANGUAGES[LANGUAGE]}")
START = _setting("CLASSROOM_START", _start).lstrip("/")

SHARED_PASSWORD = _shared_password("CLASSROOM_SHARED_PASSWORD")
USERS = _names("CLASSROOM_USERS")
ADMINS = _names("CLASSROOM_ADMINS")
DATA_DIR = _setting("CLASSROOM_DATA_DIR", "")
if DATA_DIR and not os.path.isabs(DATA_DIR):
    raise ValueError(f"CLASSROOM_DATA_DIR={DATA_DIR!r}: expected an absolute path, e.g. /srv/glm-data")
if DATA_DIR and not os.path.isdir(DATA_DIR):
    raise ValueError(f"CLASSROOM_DATA_DIR={DATA_DIR!r}: no such folder; expected an existing folder holding the "
                     "prebuilt corpus cache (classroom/README.md, section 1, says how to build it)")
BIND_URL = _bind_url("CLASSROOM_BIND_URL", "http://:8000")
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
c.Spawner.environment["GLMLIB_LANG"] = LANGUAGE
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
    print(f"language of checker messages and explorer labels: {LANGUAGE} (GLMLIB_LANG)")
    print(f"login: {'one shared password' if SHARED_PASSWORD else 'the machine accounts (PAM)'}")
    if REPO:
        print(f"edition handed out: {EDITION} (branch {BRANCH} of {REPO})")
        print(f"link for the students: {student_link(sys.argv[1] if len(sys.argv) > 1 else 'https://HUB')}")
    else:
        print("no CLASSROOM_REPO: students start in an empty JupyterLab")
