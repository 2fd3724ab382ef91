"""The repository keeps its promises: matching dependency lists, clean lessons, valid params files."""

import importlib.util
import json
import re
import shutil
import tomllib
from pathlib import Path

import pytest
import yaml

from lrcourse import batch

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_environment_yml_names_the_same_dependencies_as_pyproject():
    """environment.yml lists the package's dependencies and those of the extras it installs the package with."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    assert '-e ".[test,lab,assignments]"' in pip_section  # the package itself, with its extras

    def requirements(extras):
        for extra in extras:
            for requirement in project["optional-dependencies"][extra]:
                if requirement.startswith("lrcourse["):  # an extra naming other extras
                    yield from requirements(requirement.removeprefix("lrcourse[").rstrip("]").split(","))
                else:
                    yield requirement

    declared = set(project["dependencies"]) | set(requirements(["test", "lab", "assignments"]))
    listed = {requirement for requirement in pip_section if not requirement.startswith("-e")}
    assert listed == declared


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


# --- where the course lives: one setting, pyproject.toml's [project.urls] Repository ----------------------

def load_set_repository():
    spec = importlib.util.spec_from_file_location("set_repository", ROOT / "scripts" / "set_repository.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def setup_cell(notebook):
    return next("".join(c["source"]) for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code")


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda path: path.stem)
def test_every_lesson_installs_on_colab_from_the_repository_setting(lesson):
    url = load_set_repository().current()
    lines = setup_cell(lesson).splitlines()
    assert f'REPOSITORY = "{url}"' in [line.split("  #")[0] for line in lines]
    install = lines.index("if IN_COLAB:") + 1
    assert lines[install].strip().startswith("subprocess.run(") and 'f"lrcourse @ git+{REPOSITORY}"' in lines[install]
    badge = f"https://colab.research.google.com/github/{url.removeprefix('https://github.com/')}/blob/main/notebooks/"
    assert badge + lesson.name in "".join(json.loads(lesson.read_text())["cells"][0]["source"])


def test_every_address_of_the_course_is_the_repository_setting():
    module = load_set_repository()
    path = module.current().removeprefix("https://github.com/")
    for file in module.files_that_spell_it():
        text = file.read_text()
        assert set(module.GITHUB.findall(text)) <= {path, "OWNER/NAME"}, f"{file.name} names another repository"
        assert set(re.findall(r"colab\.research\.google\.com/github/([\w.-]+/[\w.-]+)/", text)) <= {path}, file.name
    for assignment in sorted((ROOT / "assignments").glob("*.ipynb")):
        assert f"lrcourse[assignments] @ git+{module.current()}" in setup_cell(assignment)


def test_set_repository_moves_every_address_and_refuses_one_colab_cannot_open(tmp_path):
    module = load_set_repository()
    for name in ("pyproject.toml", "README.md", "notebooks", "assignments"):
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / name)
    old = module.current()
    changed = module.set_repository("https://github.com/a-teacher/lr-course", root=tmp_path)
    assert len(changed) == 2 + len(LESSONS) + 3  # pyproject, README, the lessons, the assignments
    assert module.current(tmp_path) == "https://github.com/a-teacher/lr-course"
    for file in module.files_that_spell_it(tmp_path):
        assert old not in file.read_text() and "github/lrcourse/lrcourse/" not in file.read_text()
    assert 'REPOSITORY = "https://github.com/a-teacher/lr-course"' in setup_cell(tmp_path / "notebooks" / LESSONS[0].name)
    readme = tmp_path / "README.md"
    readme.write_text(readme.read_text() + "\nData: https://github.com/a-teacher/lr-course-data\n")
    module.set_repository("https://github.com/someone/else", root=tmp_path)
    assert readme.read_text().endswith("Data: https://github.com/a-teacher/lr-course-data\n")  # a longer name stays
    for refused in ("https://gitlab.com/a-teacher/lr-course", "https://github.com/a-teacher/lr-course.git"):
        with pytest.raises(ValueError, match="must be a GitHub address like https://github.com/OWNER/NAME"):
            module.set_repository(refused, root=tmp_path)
