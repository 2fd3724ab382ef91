"""The repository keeps its promises: matching dependency lists, clean lessons, valid params files."""

import json
import tomllib
from pathlib import Path

import pytest
import yaml

from lrcourse import batch

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_environment_yml_names_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = set(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared |= set(extra)
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    listed = {requirement for requirement in pip_section if not requirement.startswith("-e")}
    assert listed == declared
    assert '-e ".[test,lab,assignments]"' in pip_section  # the package itself, with its extras


def test_there_are_lessons():
    assert [p.name for p in LESSONS] == [
        "01_learning_rate_schedules.ipynb", "02_cyclical_learning_rates.ipynb", "03_learning_rate_range_test.ipynb",
        "04_one_cycle_and_beyond.ipynb"]


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda path: path.stem)
def test_lesson_is_stored_clean_with_a_parameters_cell(lesson):
    nb = json.loads(lesson.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c["outputs"] and c["execution_count"] is None for c in code), "strip outputs (nbstripout)"
    assert "widgets" not in nb["metadata"], "strip widget state"
    assert sum("parameters" in c["metadata"].get("tags", []) for c in code) == 1
    first = "".join(nb["cells"][0]["source"])
    assert first.startswith("# ") and f"notebooks/{lesson.name}" in first and "colab-badge" in first


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda path: path.stem)
@pytest.mark.parametrize("kind", ["ci", "seed"])
def test_params_files_only_set_declared_parameters(lesson, kind):
    values = batch.read_params_file(ROOT / "notebooks" / "params" / f"{lesson.name[:2]}_{kind}.yaml")
    assert values
    batch.check_parameters(lesson, values)


def test_every_parameter_has_a_type_and_help():
    for lesson in LESSONS:
        for name, p in batch.notebook_parameters(lesson).items():
            assert p["type"] != "None" and p["help"], f"{lesson.name}: {name} needs an annotation and a comment"


def test_readme_commands_are_the_ones_ci_and_make_run():
    readme = (ROOT / "README.md").read_text()
    assert "\nmake course\n" in readme and "\nmake test\n" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert "\ncourse:" in makefile and "\ntest:" in makefile
