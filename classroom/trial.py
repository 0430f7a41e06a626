"""Try the classroom on one machine: a real JupyterHub on 127.0.0.1, a few students.

``TrialHub`` starts JupyterHub (and through it configurable-http-proxy and the
idle culler) with ``classroom/jupyterhub_config.py``, overriding only what a
trial on one machine needs: free ports on 127.0.0.1, a scratch folder for the
hub's database and the students' homes, ``OneAccountSpawner`` (every student
runs as the current account, each in a home of their own), a shared password,
and the course served by nbgitpuller from a scratch copy of this repository's
HEAD. ``Student`` logs in through the hub's login form, asks the hub for an API
token, starts its server, pulls the course with the nbgitpuller link the
configuration builds, and runs a notebook through the Jupyter server's REST
API and kernel websocket, as a browser would.

From the shell (used by the test and by ``benchmarks/bench_hub.py``)::

    python classroom/trial.py --users 3             # run notebook 03 for three students at once
    python classroom/trial.py --serve               # keep a hub running to log in by hand
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import requests
import websocket
from traitlets.config.loader import PyFileConfigLoader

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
CONFIG = HERE / "jupyterhub_config.py"
PROXY_DIR = REPO_ROOT / ".proxy"  # where .ci/run installs configurable-http-proxy with npm
NOTEBOOK = "notebooks/03_masks.ipynb"
PASSWORD = "classroom-trial"
PROBE = "CLASSROOM_PROBE "
PROBE_CODE = f"""
import json, os, resource, torch
print({PROBE!r} + json.dumps(dict(
    torch_threads=torch.get_num_threads(),
    env={{k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "MEM_LIMIT", "CPU_LIMIT")}},
    home=os.environ.get("HOME"), cwd=os.getcwd(), pid=os.getpid(),
    maxrss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
)))
"""


def find_proxy() -> str | None:
    """configurable-http-proxy: the copy .ci/run installs in .proxy/, else the one on PATH."""
    local = PROXY_DIR / "node_modules" / ".bin" / "configurable-http-proxy"
    if local.exists():
        return str(local)
    return shutil.which("configurable-http-proxy")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_config(env: dict[str, str]):
    """The classroom configuration as JupyterHub would load it, under the given CLASSROOM_* settings."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        return PyFileConfigLoader(CONFIG.name, path=str(CONFIG.parent)).load_config()
    finally:
        os.environ.clear()
        os.environ.update(saved)


# --- processes ----------------------------------------------------------------
def _proc_entries():
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            yield int(entry)


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def _parent(pid: int) -> int:
    stat = _read(f"/proc/{pid}/stat").decode(errors="replace")
    if ")" not in stat:
        return 0
    return int(stat.rsplit(")", 1)[1].split()[1])


def descendants(root: int) -> set[int]:
    """Every process below ``root`` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for pid in _proc_entries():
        children.setdefault(_parent(pid), []).append(pid)
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def marked(marker: str) -> set[int]:
    """Processes whose environment holds ``marker`` (``NAME=value``)."""
    needle = marker.encode() + b"\0"
    return {pid for pid in _proc_entries() if needle in _read(f"/proc/{pid}/environ") + b"\0"}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    state = _read(f"/proc/{pid}/stat").decode(errors="replace").rsplit(")", 1)[-1].split()[:1]
    return state != ["Z"]


def kill_all(pids: set[int], wait: float = 10) -> set[int]:
    """SIGKILL each process and its process group (never our own group); waits until they
    are gone and returns those still alive after ``wait`` seconds."""
    own = os.getpgid(0)
    for pid in pids:
        try:
            group = os.getpgid(pid)
            if group != own:
                os.killpg(group, signal.SIGKILL)
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    deadline = time.monotonic() + wait
    left = {pid for pid in pids if _alive(pid)}
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = {pid for pid in left if _alive(pid)}
    return left


# --- the hub ------------------------------------------------------------------
class TrialHub:
    """JupyterHub with the classroom configuration on 127.0.0.1; a context manager.

    ``settings`` are extra ``CLASSROOM_*`` variables (e.g. ``CLASSROOM_THREADS``).
    ``stop()`` ends the hub, the proxy, the culler, every server and kernel, even
    when the hub no longer answers.
    """

    def __init__(self, workdir: str | Path | None = None, proxy: str | None = None,
                 settings: dict[str, str] | None = None, course: str | Path = REPO_ROOT):
        self.proxy = proxy or find_proxy()
        if not self.proxy:
            raise FileNotFoundError(
                "configurable-http-proxy not found: install it with "
                f"`npm install --prefix {PROXY_DIR} configurable-http-proxy` (or `npm install -g ...`)")
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="classroom-trial-")).resolve()
        self.settings = dict(settings or {})
        bad = [k for k in self.settings if not k.startswith("CLASSROOM_")]
        if bad:
            raise ValueError(f"settings {bad}: only CLASSROOM_* variables are classroom settings")
        self.course = Path(course)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.marker = f"CLASSROOM_TRIAL_ID={uuid.uuid4().hex}"
        self.process: subprocess.Popen | None = None
        self.log_path = self.workdir / "hub.log"

    # the course as a git repository nbgitpuller can clone: HEAD of this checkout, as branch main
    def _course_repo(self) -> str:
        bare = self.workdir / "course.git"
        subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
        # a shallow checkout (a CI clone with --depth) may push its HEAD too
        subprocess.run(["git", "-C", str(bare), "config", "receive.shallowUpdate", "true"], check=True)
        subprocess.run(["git", "-C", str(self.course), "push", "-q", str(bare), "HEAD:refs/heads/main"],
                       check=True, capture_output=True)
        return f"file://{bare}"

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("CLASSROOM_") and k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
        env.update({
            "CLASSROOM_BIND_URL": self.url,
            "CLASSROOM_SHARED_PASSWORD": PASSWORD,
            "CLASSROOM_FOLDER": "course",
            # the trial hands out this checkout itself (no release to build): the self-study edition
            "CLASSROOM_EDITION": "self-study",
            "CLASSROOM_START": "notebooks/00_welcome.ipynb",
        })
        env.update(self.settings)
        name, value = self.marker.split("=", 1)
        env[name] = value
        return env

    def _write_overrides(self) -> Path:
        path = self.workdir / "trial_config.py"
        w = self.workdir
        path.write_text(f"""\
# The classroom configuration, then what a trial on one machine needs.
import sys
c = get_config()
load_subconfig({str(CONFIG)!r})
sys.path.insert(0, {str(HERE)!r})
from one_account_spawner import OneAccountSpawner
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {free_port()}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{free_port()}"
c.ConfigurableHTTPProxy.command = [{self.proxy!r}]
c.ConfigurableHTTPProxy.pid_file = {str(w / "proxy.pid")!r}
c.JupyterHub.db_url = "sqlite:///{w / "jupyterhub.sqlite"}"
c.JupyterHub.cookie_secret_file = {str(w / "cookie_secret")!r}
c.JupyterHub.pid_file = {str(w / "hub.pid")!r}
c.JupyterHub.spawner_class = OneAccountSpawner
c.OneAccountSpawner.homes_dir = {str(w / "homes")!r}
# a mark in every process's environment, so that stop() finds them even after a hub crash
c.Spawner.environment = dict(c.Spawner.environment, {self.marker.split("=")[0]}={self.marker.split("=")[1]!r})
for service in c.JupyterHub.services:
    service["environment"] = dict(service.get("environment", {{}}), {self.marker.split("=")[0]}={self.marker.split("=")[1]!r})
""")
        return path

    def start(self, timeout: float = 120) -> "TrialHub":
        env = self.environment()
        env["CLASSROOM_REPO"] = self.settings.get("CLASSROOM_REPO") or self._course_repo()
        self.env = env
        self.config = load_config(env)
        overrides = self._write_overrides()
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(overrides)],
            cwd=self.workdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterHub exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.url}/hub/api/", timeout=5).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"JupyterHub did not answer at {self.url} within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 6000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def children(self) -> list[str]:
        """Command lines of the hub's direct children (the proxy, the culler, the servers)."""
        if not self.process:
            return []
        return [_read(f"/proc/{pid}/cmdline").replace(b"\0", b" ").decode(errors="replace")
                for pid in _proc_entries() if _parent(pid) == self.process.pid]

    def stop(self, grace: float = 20) -> None:
        if self.process is None:
            return
        pids = descendants(self.process.pid) | marked(self.marker)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # the hub stops servers and proxy itself
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        left = kill_all({pid for pid in pids | marked(self.marker) | {self.process.pid} if _alive(pid)})
        self.process.wait()
        self.process = None
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        if left:
            raise RuntimeError(f"processes {sorted(left)} outlived SIGKILL")

    def __enter__(self) -> "TrialHub":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def login(self, name: str, password: str = PASSWORD) -> "Student":
        return Student(self, name, password)


def _xsrf(session: requests.Session, page: str) -> str:
    token = session.cookies.get("_xsrf")
    if token:
        return token
    found = re.search(r'name="_xsrf"\s+value="([^"]+)"', page)
    if not found:
        raise RuntimeError("the hub's login page carries no _xsrf token")
    return found.group(1)


class LoginFailed(RuntimeError):
    pass


@dataclass
class CellRun:
    source: str
    outputs: list[dict]
    seconds: float

    @property
    def errors(self) -> list[dict]:
        return [o for o in self.outputs if o["output_type"] == "error"]


@dataclass
class NotebookRun:
    user: str
    path: str
    cells: list[CellRun] = field(default_factory=list)
    before: dict = field(default_factory=dict)  # the probe right after the kernel started
    after: dict = field(default_factory=dict)  # the probe after the last cell
    seconds: float = 0.0
    mismatches: list[str] = field(default_factory=list)  # NBVAL_CHECK_OUTPUT cells that differ
    code_cells: int = 0  # in the notebook as the server holds it
    started: float = 0.0  # time.monotonic() at the first cell
    ended: float = 0.0  # and after the last

    @property
    def errors(self) -> list[str]:
        return [f"cell {i}: {e['ename']}: {e['evalue']}" for i, cell in enumerate(self.cells) for e in cell.errors]


class Student:
    """One user: logged in through the login form, then using a hub API token."""

    def __init__(self, hub: TrialHub, name: str, password: str):
        self.hub, self.name = hub, name
        self.http = requests.Session()
        page = self.http.get(f"{hub.url}/hub/login", timeout=30)
        page.raise_for_status()
        form = {"username": name, "password": password, "_xsrf": _xsrf(self.http, page.text)}
        reply = self.http.post(f"{hub.url}/hub/login", data=form, allow_redirects=False, timeout=30)
        if reply.status_code != 302:
            raise LoginFailed(f"login of {name!r} refused (HTTP {reply.status_code})")
        self.name = name.lower()
        made = self.http.post(f"{hub.url}/hub/api/users/{self.name}/tokens",
                              json={"note": "classroom trial", "expires_in": 3600},
                              headers={"X-XSRFToken": self.http.cookies.get("_xsrf", form["_xsrf"])}, timeout=30)
        made.raise_for_status()
        self.token = made.json()["token"]
        self.api = requests.Session()
        self.api.headers["Authorization"] = f"token {self.token}"
        self.server = f"{hub.url}/user/{self.name}"

    def start_server(self, timeout: float = 180) -> float:
        """Starts the user's server and waits until it answers; returns the seconds it took."""
        t0 = time.monotonic()
        reply = self.api.post(f"{self.hub.url}/hub/api/users/{self.name}/server", timeout=60)
        if reply.status_code not in (201, 202):
            raise RuntimeError(f"{self.name}: server start refused: HTTP {reply.status_code} {reply.text[:300]}")
        while time.monotonic() - t0 < timeout:
            model = self.api.get(f"{self.hub.url}/hub/api/users/{self.name}", timeout=30).json()
            server = model.get("servers", {}).get("")
            if server and server.get("ready"):
                status = self.api.get(f"{self.server}/api/status", timeout=30)
                if status.status_code == 200:
                    return time.monotonic() - t0
            time.sleep(0.5)
        raise TimeoutError(f"{self.name}: server not ready within {timeout:.0f} s:\n{self.hub.log_tail()}")

    def pull_course(self, timeout: float = 180) -> list[str]:
        """Follows the configuration's nbgitpuller link (its event stream); returns git's output."""
        default_url = self.hub.config.Spawner.default_url
        if not default_url.startswith("/git-pull?"):
            raise RuntimeError(f"the configuration's default URL {default_url!r} is no nbgitpuller link")
        query = default_url.split("?", 1)[1]
        page = self.api.get(f"{self.server}/git-pull?{query}", timeout=60)
        page.raise_for_status()  # the page a student's browser shows while pulling
        lines = []
        with self.api.get(f"{self.server}/git-pull/api?{query}", stream=True, timeout=timeout) as stream:
            stream.raise_for_status()
            for raw in stream.iter_lines(decode_unicode=True):
                if not raw or not raw.startswith("data:"):
                    continue
                event = json.loads(raw[5:])
                if event.get("output"):
                    lines.append(event["output"].rstrip())
                if event.get("phase") == "error":
                    raise RuntimeError(f"{self.name}: nbgitpuller failed: {event.get('message')}\n" + "\n".join(lines))
                if event.get("phase") == "finished":
                    return lines
        raise RuntimeError(f"{self.name}: nbgitpuller's stream ended before 'finished':\n" + "\n".join(lines))

    def contents(self, path: str) -> dict:
        reply = self.api.get(f"{self.server}/api/contents/{quote(path)}", timeout=60)
        reply.raise_for_status()
        return reply.json()

    def run_notebook(self, path: str, cell_timeout: float = 240) -> NotebookRun:
        """Runs every code cell of ``path`` (relative to the home) in a new kernel, in order."""
        notebook = self.contents(path)["content"]
        reply = self.api.post(f"{self.server}/api/sessions", timeout=60, json={
            "path": path, "name": os.path.basename(path), "type": "notebook", "kernel": {"name": "python3"}})
        reply.raise_for_status()
        session = reply.json()
        run = NotebookRun(self.name, path)
        ws_url = self.server.replace("http://", "ws://") + f"/api/kernels/{session['kernel']['id']}/channels?session_id={uuid.uuid4().hex}"
        ws = websocket.create_connection(ws_url, header=[f"Authorization: token {self.token}"],
                                         timeout=cell_timeout)
        try:
            run.before = self._probe(ws, cell_timeout)
            run.code_cells = sum(cell["cell_type"] == "code" for cell in notebook["cells"])
            t0 = run.started = time.monotonic()
            for cell in notebook["cells"]:
                if cell["cell_type"] != "code":
                    continue
                source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
                t = time.monotonic()
                outputs = execute(ws, source, cell_timeout)
                run.cells.append(CellRun(source, outputs, time.monotonic() - t))
                if "NBVAL_CHECK_OUTPUT" in source and checked(outputs) != checked(cell.get("outputs", [])):
                    run.mismatches.append(
                        f"cell {len(run.cells) - 1}: stored {checked(cell.get('outputs', []))!r}, got {checked(outputs)!r}")
                if run.cells[-1].errors:
                    break
            run.ended = time.monotonic()
            run.seconds = run.ended - t0
            run.after = self._probe(ws, cell_timeout)
        finally:
            ws.close()
            self.api.delete(f"{self.server}/api/sessions/{session['id']}", timeout=60)
        return run

    @staticmethod
    def _probe(ws, timeout) -> dict:
        outputs = execute(ws, PROBE_CODE, timeout)
        text = "".join(o.get("text", "") for o in outputs if o["output_type"] == "stream")
        found = re.search(re.escape(PROBE) + r"(\{.*\})", text)
        if not found:
            raise RuntimeError(f"the kernel's probe printed no report: {outputs!r}")
        return json.loads(found.group(1))


def execute(ws, code: str, timeout: float) -> list[dict]:
    """Runs ``code`` over a kernel's websocket; its outputs, in the notebook format (streams merged)."""
    msg_id = uuid.uuid4().hex
    ws.send(json.dumps({
        "header": {"msg_id": msg_id, "username": "trial", "session": uuid.uuid4().hex,
                   "msg_type": "execute_request", "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True},
    }))
    outputs: list[dict] = []
    idle = replied = False
    deadline = time.monotonic() + timeout
    while not (idle and replied):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no answer within {timeout:.0f} s to:\n{code[:500]}")
        msg = _decode(ws.recv())
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if msg["channel"] == "shell" and kind == "execute_reply":
            replied = True
            if content.get("status") == "error" and not any(o["output_type"] == "error" for o in outputs):
                outputs.append({"output_type": "error", "ename": content.get("ename", "?"),
                                "evalue": content.get("evalue", ""), "traceback": content.get("traceback", [])})
        elif kind == "status" and content.get("execution_state") == "idle":
            idle = True
        elif kind == "stream":
            if outputs and outputs[-1]["output_type"] == "stream" and outputs[-1]["name"] == content["name"]:
                outputs[-1]["text"] += content["text"]
            else:
                outputs.append({"output_type": "stream", "name": content["name"], "text": content["text"]})
        elif kind in ("execute_result", "display_data"):
            outputs.append({"output_type": kind, "data": content.get("data", {})})
        elif kind == "error":
            outputs.append({"output_type": "error", "ename": content["ename"], "evalue": content["evalue"],
                            "traceback": content["traceback"]})
        elif kind == "clear_output":
            outputs.clear()
    return outputs


def _decode(frame: str | bytes) -> dict:
    """A kernel message from a websocket frame: JSON text, or binary (messages carrying buffers:
    a count, offsets, then the JSON message and the buffers)."""
    if isinstance(frame, str):
        return json.loads(frame)
    count = int.from_bytes(frame[:4], "big")
    offsets = [int.from_bytes(frame[4 * (i + 1):4 * (i + 2)], "big") for i in range(count)]
    end = offsets[1] if count > 1 else len(frame)
    return json.loads(frame[offsets[0]:end])


def checked(outputs: list[dict]) -> list[tuple[str, str]]:
    """What nbval compares in a NBVAL_CHECK_OUTPUT cell here: streams (each stream's text
    joined, as nbval coalesces them: a figure may arrive before or after a print's flush)
    and results' text/plain."""
    def text(value):
        return value if isinstance(value, str) else "".join(value)

    found = []
    streams: dict[str, int] = {}
    for o in outputs:
        if o["output_type"] == "stream":
            if o["name"] in streams:
                name, previous = found[streams[o["name"]]]
                found[streams[o["name"]]] = (name, previous + text(o["text"]))
            else:
                streams[o["name"]] = len(found)
                found.append((o["name"], text(o["text"])))
        elif o["output_type"] == "execute_result" and "text/plain" in o.get("data", {}):
            found.append(("text/plain", text(o["data"]["text/plain"])))
        elif o["output_type"] == "error":
            found.append(("error", o["ename"]))
    return found


@dataclass
class ClassRun:
    runs: list[NotebookRun]
    seconds: float  # wall time from the common start until the last student finished
    server_seconds: list[float]


def _together(names: list, prepare, work) -> list:
    """``prepare(name)`` for every name at once, then ``work(name, prepared)`` for all
    at the same moment (a barrier); returns ``(prepared, result, t_start, t_end)`` per name."""
    start = threading.Barrier(len(names))

    def one(name):
        try:
            prepared = prepare(name)
            start.wait()
        except threading.BrokenBarrierError:
            raise RuntimeError(f"{name}: another student failed before the notebooks started") from None
        except BaseException:
            start.abort()  # nobody waits for a student who will not come
            raise
        t0 = time.monotonic()
        return prepared, work(name, prepared), t0, time.monotonic()

    with ThreadPoolExecutor(len(names)) as pool:
        return list(pool.map(one, names))


def join_class(hub: TrialHub, names: list[str]) -> tuple[list[Student], list[float]]:
    """The students log in, start their servers and pull the course, all at once;
    returns them and the seconds each server took to start."""
    def prepare(name):
        student = hub.login(name)
        ready = student.start_server()
        student.pull_course()
        return student, ready

    results = _together(names, prepare, lambda name, prepared: None)
    return [r[0][0] for r in results], [r[0][1] for r in results]


def run_together(hub: TrialHub, students: list[Student], notebook: str = NOTEBOOK) -> tuple[list[NotebookRun], float]:
    """Every student runs ``notebook`` from the same moment; the runs and the wall time until the last ended."""
    folder = hub.env.get("CLASSROOM_FOLDER", "course")
    by_name = {s.name: s for s in students}
    results = _together(list(by_name), lambda name: by_name[name],
                        lambda name, student: student.run_notebook(f"{folder}/{notebook}"))
    return [r[1] for r in results], max(r[3] for r in results) - min(r[2] for r in results)


def run_class(hub: TrialHub, names: list[str], notebook: str = NOTEBOOK) -> ClassRun:
    """Each student logs in, starts a server and pulls the course (at once); then all run
    ``notebook`` at the same moment. Returns the runs and the wall time of the notebook part."""
    students, ready = join_class(hub, names)
    runs, seconds = run_together(hub, students, notebook)
    return ClassRun(runs, seconds, ready)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=3, help="students running the notebook at once")
    parser.add_argument("--notebook", default=NOTEBOOK, help="notebook to run, relative to the course")
    parser.add_argument("--serve", action="store_true", help="only start the hub, until Ctrl-C")
    args = parser.parse_args(argv)
    if args.users < 1:
        parser.error(f"--users {args.users}: need at least 1")
    with TrialHub() as hub:
        if args.serve:
            print(f"hub at {hub.url}: any user name, password {PASSWORD!r}; Ctrl-C stops it", flush=True)
            try:
                while hub.process.poll() is None:
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
            return 0
        result = run_class(hub, [f"student{i + 1}" for i in range(args.users)], args.notebook)
    failed = False
    for run in result.runs:
        problems = run.errors + run.mismatches
        failed |= bool(problems) or run.after.get("torch_threads") != 1
        print(f"{run.user}: {len(run.cells)} cells in {run.seconds:.1f} s, torch threads "
              f"{run.before.get('torch_threads')}/{run.after.get('torch_threads')}, peak memory "
              f"{run.after.get('maxrss_mib', 0):.0f} MiB, {'; '.join(problems) or 'no errors'}")
    print(f"{args.users} student(s) at once: {result.seconds:.1f} s wall")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
