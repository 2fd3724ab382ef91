"""What a lesson says about its own results is written from its own runs (issue: a learner's run
backs every word). Each lesson runs at its CI parameters with a seed list other than CI's own
(tests/test_site.py checks the lessons it executes with CI's seeds), and every findings block it
shows must be exactly what :func:`lrcourse.statistics.findings` writes from the summary of the runs
it names, rebuilt here from the records the lesson wrote. TensorFlow only (test-main): the runs
take minutes, and what is checked does not depend on the backend.
"""

import re
from pathlib import Path

import nbformat
import pytest

from lrcourse import batch, experiments, statistics
from lrcourse.training import RunResult

REPO = Path(__file__).resolve().parent.parent
LESSONS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
HEADER = re.compile(r"^\*Written from this run's table \(seeds ([\d, ]+?)(?: on (.+?))?\)\.")


def shown_findings(executed_notebook):
    """The findings blocks (Markdown) among an executed notebook's outputs."""
    notebook = nbformat.read(executed_notebook, as_version=4)
    return [output["data"]["text/markdown"] for cell in notebook.cells for output in cell.get("outputs", [])
            if HEADER.match(output.get("data", {}).get("text/markdown", ""))]


def check_findings(executed_notebook, run_dir, seeds, chance=0.1):
    """Every findings block is what ``findings`` writes from the records of the settings it names."""
    blocks = shown_findings(executed_notebook)
    assert blocks, f"{executed_notebook.name} shows no findings written from its runs"
    runs = experiments.runs_table([RunResult.load(path) for path in Path(run_dir, "runs").rglob("seed-*.json")])
    for text in blocks:
        listed, where = HEADER.match(text).groups()
        assert [int(s) for s in listed.split(", ")] == list(seeds)
        names = re.findall(r"^\* \*\*(.+?)\*\*", text, flags=re.M)
        table = statistics.summarise_runs(runs[runs["run"].isin(names)], by="run")
        assert sorted(table.index) == sorted(names) and (table["seeds"] == len(seeds)).all()
        assert text == statistics.findings(table, seeds, where or "", chance=chance)
    return blocks


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda path: path.stem)
def test_findings_follow_the_runs_at_another_seed_list(lesson, tmp_path):
    parameters = batch.read_params_file(REPO / "notebooks" / "params" / f"{lesson.name[:2]}_ci.yaml")
    parameters["seeds"] = [2, 3]
    run = batch.run_lesson(lesson, parameters, output=tmp_path)
    assert run.ok, run.error
    check_findings(run.output_notebook, run.output_notebook.parent, [2, 3])
