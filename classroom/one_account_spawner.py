"""A spawner for trying the classroom on one machine, and for its test.

``OneAccountSpawner`` is JupyterHub's ``LocalProcessSpawner`` except that it
does not switch to the student's system account: every student's server runs
as the account that runs the hub, in its own home folder
``<homes_dir>/<user name>`` (``HOME`` points there, and so do the Jupyter,
IPython and matplotlib folders below it). It needs no system accounts and
works as root or not; as root it passes ``--ServerApp.allow_root=True``.

Students are NOT isolated from each other (same account, same files): use it
to try the configuration or to test it, never for a real class.
"""
import os
import re

from jupyterhub.spawner import LocalProcessSpawner
from traitlets import Unicode


class OneAccountSpawner(LocalProcessSpawner):
    """Every server runs as the hub's own account, in ``homes_dir/<name>``."""

    homes_dir = Unicode(
        "",
        help="Folder holding one home folder per user (created when missing).",
    ).tag(config=True)

    def home(self):
        name = self.user.name
        if not re.fullmatch(r"[a-z0-9_.@-]+", name) or name in (".", ".."):
            raise ValueError(f"user name {name!r}: OneAccountSpawner takes only a-z, 0-9 and . _ @ -")
        if not self.homes_dir:
            raise ValueError("OneAccountSpawner.homes_dir is not set: give the folder for the users' homes")
        path = os.path.join(os.path.abspath(self.homes_dir), name)
        os.makedirs(path, exist_ok=True)
        return path

    def make_preexec_fn(self, name):
        home = self.home()

        def preexec():
            os.chdir(home)

        return preexec

    def user_env(self, env):
        env["USER"] = self.user.name
        env["HOME"] = self.home()
        return env

    def get_args(self):
        args = super().get_args()
        if os.geteuid() == 0:
            args.append("--ServerApp.allow_root=True")
        return args
