"""Install the course's JupyterLab settings into the running Python's environment.

``python jupyter/install_settings.py`` copies ``lab/settings/overrides.d/glmlib.json``
(no news, no update checks) to ``<environment>/share/jupyter/lab/settings/overrides.d/``,
where ``jupyter lab`` started from that environment reads it. ``pip install .``
installs the same file by itself; an editable install (``-e .``) does not,
hence this script (``make lab`` runs it).
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

SOURCE = Path(__file__).resolve().parent / "lab" / "settings" / "overrides.d" / "glmlib.json"


def main() -> int:
    target = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.d"
    if sys.prefix == sys.base_prefix:
        print(f"note: {sys.executable} is not a virtual environment; installing into {target}",
              file=sys.stderr)
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SOURCE, target / SOURCE.name)
    print(f"JupyterLab settings: {target / SOURCE.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
