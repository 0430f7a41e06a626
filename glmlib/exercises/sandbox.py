"""The sandbox a submission runs in while it is graded, from what Linux already provides.

On Linux, ``wrap(argv)`` returns a command that runs ``argv``

- in new namespaces (util-linux's ``unshare``): no network at all (a network
  namespace with no interface up), its own process tree (it cannot see or
  signal anything outside; ending its first process ends every process it
  started) and its own mounts;
- on a read-only view of the whole file system, with fresh, size-limited
  ``/tmp``, ``/var/tmp``, ``/dev/shm`` and ``/run/lock``; its working folder
  (``/tmp/work``, also its ``HOME``) is thrown away with it; the grader's home,
  the submissions and the grading output are hidden (empty); what its process
  needs from those places (the interpreter, the course's environment and
  checkout, say a checkout under ``/tmp``) stays visible, read-only;
- as an unprivileged user of its own (``setpriv``; only when the grader runs
  as root), without capabilities and unable to gain any;
- under ``prlimit``: an address-space limit (memory), a process limit and a
  file-size limit, no core files.

As root every part applies. As another user the same runs inside a user
namespace when the system allows it (most do): everything but the change of
user, which the read-only view makes up for. Elsewhere (macOS, Windows, a
system without user namespaces) ``mode()`` is ``"none"`` and grading refuses
to run unless told ``unsafe=True``: see the instructor guide.
"""
from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

WORK = "/tmp/work"
SCRATCH_SIZE = "512m"
FIRST_UID = 61000  # sandbox users: 61000 + slot, one per grading process running at once

_SETUP = r"""
set -eu
mount -n --make-rprivate /
mount -n -o remount,bind,ro /
mount -n -t tmpfs -o "size=$SCRATCH,mode=1777,nosuid,nodev" tmpfs /dev/shm   # fresh; first, where to set aside
# one path a line: set aside what must stay visible under a folder about to be replaced or hidden
printf '%s\n' "$KEEP" | { i=0; while IFS= read -r keep; do [ -n "$keep" ] || continue
  mkdir -p "/dev/shm/.keep/$i"; mount -n --rbind "$keep" "/dev/shm/.keep/$i"; i=$((i + 1)); done; }
for d in /tmp /var/tmp /run/lock; do
  if [ -d "$d" ]; then mount -n -t tmpfs -o "size=$SCRATCH,mode=1777,nosuid,nodev" tmpfs "$d"; fi
done
printf '%s\n' "$HIDE" | while IFS= read -r hide; do
  if [ -n "$hide" ] && [ -d "$hide" ]; then mount -n -t tmpfs -o "size=1m,mode=755,nosuid,nodev" tmpfs "$hide"; fi
done
printf '%s\n' "$KEEP" | { i=0; while IFS= read -r keep; do [ -n "$keep" ] || continue
  mkdir -p "$keep"; mount -n --move "/dev/shm/.keep/$i" "$keep"; mount -n -o remount,bind,ro "$keep"
  rmdir "/dev/shm/.keep/$i"; i=$((i + 1)); done; }
rmdir /dev/shm/.keep 2>/dev/null || true
printf '%s\n' "$HIDE_INSIDE" | while IFS= read -r hide; do   # hidden folders inside what was kept
  if [ -n "$hide" ] && [ -d "$hide" ]; then mount -n -t tmpfs -o "size=1m,mode=755,nosuid,nodev" tmpfs "$hide"; fi
done
mkdir -p "$WORK"
if [ -n "$SANDBOX_UID" ]; then
  chown "$SANDBOX_UID:$SANDBOX_UID" "$WORK"
  cd "$WORK"
  exec setpriv --reuid="$SANDBOX_UID" --regid="$SANDBOX_UID" --clear-groups --inh-caps=-all \
    --bounding-set=-all --no-new-privs -- prlimit $LIMITS -- "$@"
fi
cd "$WORK"
exec prlimit $LIMITS -- "$@"
"""


class SandboxUnavailable(RuntimeError):
    """This system cannot isolate a submission (and unsafe grading was not asked for)."""


def _works(command: list[str]) -> bool:
    try:
        return subprocess.run(command, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@functools.lru_cache(maxsize=1)
def mode() -> str:
    """``"root"`` (every part), ``"user"`` (all but the change of user) or ``"none"``."""
    if not sys.platform.startswith("linux") or not all(shutil.which(t) for t in ("unshare", "prlimit", "setpriv")):
        return "none"
    probe = ["--net", "--mount", "--pid", "--fork", "--mount-proc", "sh", "-c",
             "mount --make-rprivate / && mount -n -o remount,bind,ro / && mount -n -t tmpfs tmpfs /tmp"]
    if os.geteuid() == 0 and _works(["unshare", *probe]):
        return "root"
    if _works(["unshare", "--user", "--map-root-user", *probe]):
        return "user"
    return "none"


def describe(current: str | None = None) -> str:
    """One sentence on what the sandbox isolates here."""
    current = current or mode()
    if current == "root":
        return ("sandbox: own namespaces (no network, own processes), read-only file system with a "
                "throwaway folder, an unprivileged user, memory, process and file-size limits")
    if current == "user":
        return ("sandbox: own namespaces (no network, own processes), read-only file system with a "
                "throwaway folder, memory, process and file-size limits (no change of user: not root)")
    return "NO SANDBOX: the submission's code runs as you, with your files and network (unsafe)"


def die_with_parent() -> None:
    """Linux: this process is killed when the one that started it ends, so that a notebook being
    graded never outlives its grader. Called in the grader's workers, before the sandbox starts, and
    by the learner's process itself (a change of user clears the setting, so it is set again there)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes
            ctypes.CDLL(None, use_errno=True).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL


def _under(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def wrap(argv: list[str], *, slot: int = 0, memory_bytes: int = 6 * 2**30, hide: list[Path] = (),
         current: str | None = None) -> tuple[list[str], dict[str, str]]:
    """The command and environment that run ``argv`` in the sandbox (``mode()`` must not be "none")."""
    current = current or mode()
    if current == "none":
        raise SandboxUnavailable(describe(current))
    hidden = {Path(p).resolve() for p in [*hide, Path.home(), Path("/root")] if Path(p).is_dir()}
    needed = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(),
              Path(__file__).resolve().parents[2]}  # the interpreter, the environment, glmlib's checkout
    needed |= {Path(sys.executable).resolve().parent}
    replaced = hidden | {Path(d) for d in ("/tmp", "/var/tmp", "/run/lock")}  # fresh, empty in the sandbox
    keep = sorted({n for n in needed for h in replaced if _under(n, h) and n != h}, key=lambda p: len(p.parts))
    keep = [k for k in keep if not any(_under(k, other) and k != other for other in keep)]
    hidden = {h for h in hidden if not any(_under(n, h) and n == h for n in needed)}
    inside = {h for h in hidden if any(_under(h, k) for k in keep)}  # hidden only once what is kept is back
    hidden -= inside
    env = {
        "SCRATCH": SCRATCH_SIZE, "WORK": WORK,
        "KEEP": "\n".join(str(k) for k in keep), "HIDE": "\n".join(sorted(str(h) for h in hidden)),
        "HIDE_INSIDE": "\n".join(sorted(str(h) for h in inside)),
        "SANDBOX_UID": str(FIRST_UID + slot) if current == "root" else "",
        "LIMITS": f"--as={memory_bytes} --nproc=256 --fsize={512 * 2**20} --core=0",
    }
    if any("\n" in str(p) for p in [*keep, *hidden, *inside]):
        raise SandboxUnavailable("a folder the sandbox must hide or keep has a line break in its name")
    user = ["--user", "--map-root-user"] if current == "user" else []
    command = ["unshare", *user, "--net", "--mount", "--pid", "--fork", "--mount-proc", "--kill-child",
               "sh", "-c", _SETUP, "sandbox", *argv]
    return command, env
