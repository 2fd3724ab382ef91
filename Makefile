# The README's two commands (course, test), the parts of `make test`, the graded assignments, the site and JupyterLab.
# Each creates the environment it needs: a virtual environment with the package installed in editable mode, .venv for
# the course and the main tests, and one beside it for each other setting the tests cover (.venv-colab, -jax, -torch).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LESSONS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))

.PHONY: course test test-main test-colab test-jax test-torch assignments site lab clean

course: $(VENV)/.installed  ## run every lesson in batch: executed notebooks, figures and run records in build/
	$(BIN)/lrcourse run $(LESSONS) --output build

test: test-main test-colab test-jax test-torch  ## every test below, as CI runs them

test-main: $(VENV)/.installed  ## TensorFlow: unit, CLI, lessons (nbval), assignments, the site, explorers in Chromium
	$(BIN)/python -m pytest

# Colab's widgets: ipywidgets 7.7.1 as Colab ships it (otter-grader needs ipywidgets 8, so this environment has only the
# test runner beside the package): the explorers' tests and every lesson under nbval with its CI parameters.
test-colab: $(VENV)-colab/.installed  ## the widget tests and the lessons with Colab's ipywidgets 7.7.1
	$(VENV)-colab/bin/python -c 'import ipywidgets, sys; sys.exit(ipywidgets.__version__ != "7.7.1" and f"ipywidgets {ipywidgets.__version__} in $(VENV)-colab, not 7.7.1")'
	$(VENV)-colab/bin/python -m pytest tests/test_plots_widgets.py tests/test_lessons.py

# Other Keras backends: the unit tests under JAX and under torch, each in its own environment with that backend: JAX's
# CPU build; torch as published (its Linux wheel brings the CUDA libraries and does not load without them). The unit
# tests are the suite less what is about TensorFlow's notebooks, which test-main covers:
#   tests/test_lessons.py      the lessons; test-jax runs them under nbval with their CI parameters on JAX
#   tests/test_lesson_findings.py  each lesson's findings against its own runs, at another seed list: minutes of runs
#   tests/test_assignments.py  otter-grader grades the assignment notebooks in its own kernel, on TensorFlow
#   tests/test_site.py         the website of the lessons as `make site` executes them, on TensorFlow
#   tests/test_browser.py      the explorers in JupyterLab: drawing code, the same on every backend
# and three whose subject is not the backend: tests/test_sweeps.py (Dask's scheduling, retries and Ctrl-C, minutes of
# worker processes), tests/test_gpu_path.py (the GPU benchmark, which test-main already runs under JAX) and
# tests/test_range_test_vs_grid.py (the benchmark of range-test readings: NumPy, and a minute of training runs).
UNIT_TESTS := --ignore=tests/test_lessons.py --ignore=tests/test_lesson_findings.py --ignore=tests/test_assignments.py --ignore=tests/test_site.py \
	--ignore=tests/test_browser.py --ignore=tests/test_sweeps.py --ignore=tests/test_gpu_path.py --ignore=tests/test_range_test_vs_grid.py

test-jax: $(VENV)-jax/.installed  ## unit tests, then every lesson under nbval with its CI parameters, under JAX
	KERAS_BACKEND=jax $(VENV)-jax/bin/python -m pytest $(UNIT_TESTS)
	KERAS_BACKEND=jax $(VENV)-jax/bin/python -m pytest tests/test_lessons.py

test-torch: $(VENV)-torch/.installed  ## unit tests under torch
	KERAS_BACKEND=torch $(VENV)-torch/bin/python -m pytest $(UNIT_TESTS)

assignments: $(VENV)/.installed  ## student and autograder versions of every graded assignment in build/assignments/
	$(BIN)/lrcourse assign --output build/assignments

# The course as a static website in build/site/html: the executed lessons (their default parameters, reusing the
# notebooks `make course` left in build/) and the API reference. `make site PARAMS=ci`: small, fast runs, as CI builds it.
PARAMS ?= default
site: $(VENV)/.installed  ## the course as a website in build/site/html (PARAMS=ci for the fast CI variant)
	$(BIN)/python scripts/build_site.py --params $(PARAMS)

lab: $(VENV)/.installed  ## open the lessons in JupyterLab
	$(BIN)/jupyter lab notebooks/

# What each environment installs beside the package.
$(VENV)/.installed: INSTALL := -e ".[test]"
$(VENV)-colab/.installed: INSTALL := -e ".[check]" "ipywidgets==7.7.1"
$(VENV)-jax/.installed: INSTALL := -e ".[test,jax]"
$(VENV)-torch/.installed: INSTALL := -e ".[test,torch]"

# setuptools' editable install warns in a box of asterisks that a folder named like the package may shadow it: that is
# this checkout, on purpose, so the box is left out of the terminal.
%/.installed: pyproject.toml
	$(PYTHON) -m venv $*
	$*/bin/python -m pip install -q --upgrade pip
	PYTHONWARNINGS="ignore:Editable installation" $*/bin/python -m pip install -q $(INSTALL)
	touch $@

clean:
	rm -rf build $(VENV) $(VENV)-colab $(VENV)-jax $(VENV)-torch
