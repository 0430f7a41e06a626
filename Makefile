# Two entry points: `make lab` opens the course, `make test` runs every test.
# Both build the virtual environment in .venv on first use (needs only Python 3).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: lab test benchmarks sync student grade site clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -r requirements.txt
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/00_welcome.ipynb

test: $(STAMP)
	$(BIN)/python -m pytest

# One table: training and generation against GPT2LMHeadModel, time to a validation loss;
# each figure a ratio measured in turns in this run (widgets and notebooks: benchmarks/*.py).
benchmarks: $(STAMP)
	$(BIN)/python benchmarks/report.py

# The classroom editions (release/student, release/instructor, release/autograder),
# built with otter-grader from the notebooks' markers.
student: $(STAMP)
	$(BIN)/python tools/editions.py

release/autograder: $(STAMP) tools/editions.py $(wildcard notebooks/[0-9]*.ipynb)
	$(BIN)/python tools/editions.py

# Grade one submission: `make grade SUBMISSION=path/to/04_attention.ipynb`.
grade: release/autograder
	@test -n "$(SUBMISSION)" || { echo "usage: make grade SUBMISSION=path/to/notebook.ipynb" >&2; exit 2; }
	@$(BIN)/python tools/grade.py "$(SUBMISSION)"

# The course as a static website in site/ (self-study edition; student edition in site/student/),
# from the notebooks' stored outputs; open it with: python -m http.server -d site
site: $(STAMP)
	$(BIN)/python tools/build_site.py

sync: $(STAMP)
	$(BIN)/jupytext --sync notebooks/*.py

clean:
	rm -rf $(VENV) .pytest_cache artifacts release site
