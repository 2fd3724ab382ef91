# The README's two commands (course, test), plus the graded assignments and JupyterLab.
# Each creates the environment if needed: a virtual environment in .venv with the package installed in editable mode.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LESSONS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))

.PHONY: course test assignments lab clean

course: $(VENV)/.installed  ## run every lesson in batch: executed notebooks, figures and run records in build/
	$(BIN)/lrcourse run $(LESSONS) --output build

test: $(VENV)/.installed  ## unit tests, CLI tests and every lesson under nbval with its CI parameters
	$(BIN)/python -m pytest

assignments: $(VENV)/.installed  ## student and autograder versions of every graded assignment in build/assignments/
	$(BIN)/lrcourse assign --output build/assignments

lab: $(VENV)/.installed  ## open the lessons in JupyterLab
	$(BIN)/python -m pip install -q -e ".[lab]"
	$(BIN)/jupyter lab notebooks/

# The course as a static website in build/site/html: the executed lessons (their default parameters, reusing the
# notebooks `make course` left in build/) and the API reference. `make site PARAMS=ci`: small, fast runs, as CI builds it.
.PHONY: site
PARAMS ?= default
site: $(VENV)/.installed  ## the course as a website in build/site/html (PARAMS=ci for the fast CI variant)
	$(BIN)/python scripts/build_site.py --params $(PARAMS)

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

clean:
	rm -rf build $(VENV)
