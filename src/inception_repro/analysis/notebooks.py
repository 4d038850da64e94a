"""One notebook per ablation, written from its YAML: `python -m inception_repro.analysis.notebooks`
(run by `make notebooks` before papermill executes them).

notebooks/<name>.ipynb gets the ablation's title, its prose (`notebook.intro`, else its claim) and
one section per `notebook.sections` entry of configs/ablations/<name>.yaml; each entry's `cells`
name `report` functions, called with the study and the ablation's name (a one-key mapping adds
keyword arguments: `{learning_curves: {metric: val/top5}}`). An ablation without a `notebook` key
gets the default sections. 00_summary.ipynb and costs.ipynb are written by hand.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from ..ablations import Ablation, ablation_names, load_ablation
from ..cli import run_cli
from ..provenance import project_root

PARAMETERS = """\
# Parameters (papermill: -p NAME VALUE). Relative paths are taken from the project root.
results_dir = "results"            # the committed study (results/local: your runs); <results_dir>/runs/<scale>/<ablation>/<variant>/seed<k>/
source = "local"                   # local: the run records above | wandb: the W&B project below
scale = "cpu"                      # cpu | study_gpu | gpu | paper: one scale per notebook, never mixed
wandb_entity = None                # None: your W&B default entity
wandb_project = "inception-repro"  # configs/logger/wandb.yaml
output_dir = None                  # tables/ and figures/ are written here; None: results_dir"""

DEFAULT_SECTIONS = (
    {"title": "Test top-1 per variant", "cells": ["variant_table"]},
    {"title": "The claims", "cells": ["claims", "variant_figure"]},
    {"title": "Validation top-1 during training", "cells": ["learning_curves"]},
)
"""What an ablation whose YAML has no `notebook` key shows."""

KERNELSPEC = {"display_name": "inception-repro", "language": "python", "name": "inception-repro"}


def _call(ablation: str, cell: str | dict) -> str:
    """`report.<function>(study, "<ablation>", <keyword arguments>)` for one YAML cell entry."""
    if isinstance(cell, str):
        function, kwargs = cell, {}
    else:
        ((function, kwargs),) = cell.items()
    args = ["study", repr(ablation), *(f"{k}={v!r}" for k, v in (kwargs or {}).items())]
    return f"report.{function}({', '.join(args)})"


def setup_source(notebook: str) -> str:
    """The cell after the parameters: load the study of one scale."""
    return ("import pandas as pd\n\nfrom inception_repro.analysis import report\n\n"
            'pd.set_option("display.precision", 2)\n'
            "study = report.load(results_dir, source, scale, wandb_entity, wandb_project, output_dir,\n"
            f'                    notebook="{notebook}")\nstudy')


def header_cells(notebook: str, title_and_intro: str) -> list:
    """Title and prose, the tagged parameters cell, and the study-loading cell."""
    parameters = nbformat.v4.new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]})
    return [nbformat.v4.new_markdown_cell(title_and_intro), parameters,
            nbformat.v4.new_code_cell(setup_source(notebook))]


SCALE_NOTE = (
    "**Scale.** Our numbers come from the scale in every table's `scale` column, the paper's from "
    "ImageNet (ILSVRC-2012 val, single crop). At `scale=cpu` the data are Fashion-MNIST (28 px, "
    "grayscale, 10 classes), the network is 1/16 wide, works on 25 / 12 / 5 module grids, not the "
    "paper's 35 / 17 / 8 (17 / 8 / 3 where the stem is ablated: docs/scales.md) and trains for one "
    "short epoch (`configs/scale/cpu.yaml`): a cpu-scale run tests the mechanics and the *direction* "
    "of an effect, never an ImageNet number. So the paper's values appear only as deltas beside ours, "
    "never on our accuracy axis."
)
"""What every ablation notebook says of the scale, after the ablation's own claim and variants."""


def ablation_notebook(ablation: Ablation) -> nbformat.NotebookNode:
    """The notebook of one ablation, from its YAML: its claim and variants (``notebook.intro``), the
    scale (``SCALE_NOTE``), then its own caveats (``notebook.caveats``)."""
    spec = ablation.notebook or {}
    title = spec.get("title") or f"{ablation.paper_section}: {ablation.name}"
    intro = spec.get("intro") or f"**Claim ({ablation.paper_section}).** {ablation.claim}"
    prose = "\n\n".join(t.strip() for t in (intro, SCALE_NOTE, spec.get("caveats") or "") if t.strip())
    cells = header_cells(ablation.name, f"# {title}\n\n{prose}")
    for section in spec.get("sections") or DEFAULT_SECTIONS:
        heading = "\n\n".join(t.strip() for t in (f"## {section['title']}" if section.get("title") else "",
                                                     section.get("text") or "") if t)
        if heading:
            cells.append(nbformat.v4.new_markdown_cell(heading))
        cells += [nbformat.v4.new_code_cell(_call(ablation.name, c)) for c in section["cells"]]
    notebook = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC})
    for i, cell in enumerate(notebook.cells):
        cell["id"] = f"{ablation.name.replace('.', '-')}-{i}"  # stable ids: regenerating changes nothing
    return notebook


def write_notebooks(out_dir: Path) -> list[Path]:
    """notebooks/<ablation>.ipynb for every configs/ablations/*.yaml; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in ablation_names():
        path = out_dir / f"{name}.ipynb"
        nbformat.write(ablation_notebook(load_ablation(name)), path)
        paths.append(path)
    return paths


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=project_root() / "notebooks",
                        help="folder for the notebooks (default: notebooks/)")
    args = parser.parse_args(argv)
    for path in write_notebooks(args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, sys.argv[1:]))  # one line, the traceback in a crash.log
