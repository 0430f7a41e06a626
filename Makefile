# Two entry points: `make lab` opens the course, `make test` runs every test
# (`make check`: the everyday subset, see the README's "Tests and benchmarks").
# Both build the virtual environment in .venv on first use (needs only Python 3.11+):
# `make lab` installs the course (requirements.txt), `make test` adds the test stack
# (requirements-test.txt); each has its own stamp file.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
COURSE := $(VENV)/.installed-course
TESTS := $(VENV)/.installed-tests
LAB_SETTINGS := jupyter/lab/settings/overrides.d/glmlib.json
# JupyterLab refuses to run as root (a container, many lab images) unless told
ALLOW_ROOT := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)

.PHONY: lab lab-zh translations test check benchmarks sync student grade site clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(None if (3, 11) <= v <= (3, 14) else \
	  f"the course needs Python 3.11 to 3.14; $(PYTHON) is {v[0]}.{v[1]} (try: make $(MAKECMDGOALS) PYTHON=python3.12)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

# the course; an editable install copies no data files, so the course's lab settings
# (no news, no update checks) are copied into the environment here
$(COURSE): requirements.txt pyproject.toml $(LAB_SETTINGS) jupyter/install_settings.py | $(BIN)/python
	$(BIN)/python -m pip install -r requirements.txt
	$(BIN)/python jupyter/install_settings.py
	touch $@

$(TESTS): requirements-test.txt $(COURSE)
	$(BIN)/python -m pip install -r requirements-test.txt
	touch $@

lab: $(COURSE)
	$(BIN)/jupyter lab $(ALLOW_ROOT) notebooks/00_welcome.ipynb

# the Chinese edition (中文版): notebooks/zh-CN/, checker messages and explorer labels in Chinese
lab-zh: $(COURSE)
	GLMLIB_LANG=zh-CN $(BIN)/jupyter lab $(ALLOW_ROOT) notebooks/zh-CN/00_welcome.ipynb

# rebuild the translated notebooks and pages from the English ones and i18n/ (see i18n/README.md)
translations: $(COURSE)
	$(BIN)/python tools/i18n.py build

# the classroom test's proxy (configurable-http-proxy) comes from npm; without npm that test
# says how to get it and is skipped (it fails in CI, where .ci/run installs npm)
PROXY := .proxy/node_modules/.bin/configurable-http-proxy

# Every test, spread over two processes; tests sharing a server or a build stay on one (conftest.py).
# pytest's exit status is make's: "no tests collected" (5) fails like any other.
PYTEST_WORKERS ?= 2
test: $(TESTS)
	@test -x $(PROXY) || ! command -v npm >/dev/null || \
	  npm install --prefix .proxy --no-fund --no-audit --loglevel=error configurable-http-proxy@5
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup

# The everyday tier (a couple of minutes): the unit and checker tests (not `slow`, no browser; not the
# editions, install and classroom tests, which build releases and environments), and
# a run of each notebook changed relative to main (committed or not). `make test` before a merge.
CHANGED_NOTEBOOKS = $(shell { git diff --name-only main -- notebooks; \
  git ls-files --others --exclude-standard -- notebooks; } 2>/dev/null | \
  sed -n 's|^\(notebooks/[0-9][0-9]_[a-z0-9_]*\)\.\(py\|ipynb\)$$|\1.ipynb|p' | sort -u)
check: $(TESTS)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup -m "not slow and not browser" \
	  --ignore=tests/test_editions.py --ignore=tests/test_install.py --ignore=tests/test_classroom_hub.py \
	  tests $(filter $(wildcard notebooks/*.ipynb),$(CHANGED_NOTEBOOKS))

# One table: training and generation against GPT2LMHeadModel, time to a validation loss;
# each figure a ratio measured in turns in this run (widgets and notebooks: benchmarks/*.py).
benchmarks: $(TESTS)
	$(BIN)/python benchmarks/report.py

# The classroom editions (release/student, release/instructor, release/autograder),
# built with otter-grader from the notebooks' markers.
student: $(COURSE)
	$(BIN)/python tools/editions.py

release/autograder: $(COURSE) tools/editions.py $(wildcard notebooks/[0-9]*.ipynb)
	$(BIN)/python tools/editions.py

# Grade one submission, `make grade SUBMISSION=path/to/04_attention.ipynb` (the last line is
# "score: X / Y"), or a class, `make grade SUBMISSIONS=folder/` (one subfolder per student, or files
# named by student; gradebook and feedback in folder/grades/, or OUT=...; JOBS=n at once, default the
# cores; GRADE_FLAGS=... more options of tools/grade.py). Sandboxed; graded against the course
# notebooks in notebooks/ (no release/ needed).
grade: $(COURSE)
	@if [ -n "$(SUBMISSIONS)" ]; then \
	  $(BIN)/python tools/grade.py --class "$(SUBMISSIONS)" $(if $(OUT),--out "$(OUT)") $(if $(JOBS),--jobs $(JOBS)) $(GRADE_FLAGS); \
	elif [ -n "$(SUBMISSION)" ]; then \
	  $(BIN)/python tools/grade.py "$(SUBMISSION)" $(GRADE_FLAGS); \
	else echo "usage: make grade SUBMISSION=path/to/notebook.ipynb, or make grade SUBMISSIONS=folder/" >&2; exit 2; fi

# The course as a static website in site/ (self-study edition; student edition in site/student/),
# from the notebooks' stored outputs; open it with: python -m http.server -d site
site: $(TESTS)
	$(BIN)/python tools/build_site.py

sync: $(COURSE)
	$(BIN)/jupytext --sync notebooks/*.py

clean:
	rm -rf $(VENV) .pytest_cache artifacts release site .proxy
