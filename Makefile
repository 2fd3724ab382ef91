# The README's two commands (course, test), plus the graded assignments and JupyterLab.
# Each creates the environment if needed: a virtual environment in .venv with the package installed in editable mode.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LESSONS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))

.PHONY: course test assignments lab clean test-jax test-torch

course: $(VENV)/.installed  ## run every lesson in batch: executed notebooks, figures and run records in build/
	$(BIN)/lrcourse run $(LESSONS) --output build

test: $(VENV)/.installed  ## unit tests, CLI tests and every lesson under nbval with its CI parameters
	$(BIN)/python -m pytest

assignments: $(VENV)/.installed  ## student and autograder versions of every graded assignment in build/assignments/
	$(BIN)/lrcourse assign --output build/assignments

lab: $(VENV)/.installed  ## open the lessons in JupyterLab
	$(BIN)/python -m pip install -q -e ".[lab]"
	$(BIN)/jupyter lab notebooks/

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

# Other Keras backends: the unit tests under JAX and under torch, each in its own environment (.venv-jax,
# .venv-torch) with the package, its test tools and that backend: JAX's CPU build; torch as published (its Linux
# wheel brings the CUDA libraries and does not load without them). The unit tests are the suite less:
#   tests/test_lessons.py      the lessons; through the runner it checks TensorFlow's log lines, which means nothing
#                              on another backend. test-jax runs the lessons at their CI parameters under nbval.
#   tests/test_assignments.py  otter-grader grades the assignment notebooks in its own kernel, on TensorFlow
UNIT_TESTS := --ignore=tests/test_lessons.py --ignore=tests/test_assignments.py

test-jax: .venv-jax/.installed  ## unit tests, then every lesson under nbval with its CI parameters, under JAX
	KERAS_BACKEND=jax .venv-jax/bin/python -m pytest $(UNIT_TESTS)
	KERAS_BACKEND=jax .venv-jax/bin/python -m pytest tests/test_lessons.py -k runs_with_ci_parameters

test-torch: .venv-torch/.installed  ## unit tests under torch
	KERAS_BACKEND=torch .venv-torch/bin/python -m pytest $(UNIT_TESTS)

.venv-%/.installed: pyproject.toml
	$(PYTHON) -m venv .venv-$*
	.venv-$*/bin/python -m pip install -q --upgrade pip
	.venv-$*/bin/python -m pip install -q -e ".[test,$*]"
	touch $@

clean:
	rm -rf build $(VENV) .venv-jax .venv-torch
