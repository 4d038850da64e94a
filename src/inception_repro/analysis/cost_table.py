"""``make costs``: parameters and multiply-adds of every ablation variant at the paper's size.

Writes results/tables/model_costs.csv (+ .md and .meta.json with provenance). Each variant is
composed through the same config path as training, at scale=paper (width 1.0, 299/151/79 px) with
1000 classes and 3 input channels.
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from inception_repro.ablations import ablation_names, load_ablation
from inception_repro.analysis.paper import TABLE3
from inception_repro.analysis.tables import write_table
from inception_repro.cli import run_cli
from inception_repro.config import compose_run
from inception_repro.models.config import InceptionConfig
from inception_repro.models.costs import model_costs

COLUMNS = ["ablation", "variant", "input_size", "aux", "params", "macs", "paper_bn_ops"]
PAPER_BN_OPS = {row.variant: row.cost_bn_ops for row in TABLE3 if row.variant}


def paper_model_config(ablation: str, variant: str) -> InceptionConfig:
    """The network of one variant at the paper's scale (ImageNet: 1000 classes, RGB)."""
    cfg = compose_run([f"ablation={ablation}", f"variant={variant}", "scale=paper", "logger=none"])
    return InceptionConfig.from_dict({**cfg.model, "num_classes": 1000, "in_chans": 3})


def cost_rows() -> pd.DataFrame:
    rows = []
    for name in ablation_names():
        for variant in load_ablation(name).variants:
            model = paper_model_config(name, variant)
            rows.append(
                {
                    "ablation": name,
                    "variant": variant,
                    "input_size": model.pixels,
                    "aux": model.aux,
                    **model_costs(model),
                    "paper_bn_ops": PAPER_BN_OPS.get(variant) if name == "table3" else None,
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default=None, help="default: results/tables")
    args = parser.parse_args(argv)
    table = cost_rows()
    write_table(table, "model_costs", scale="paper", run_dirs=[], out_dir=args.out_dir, floatfmt=".1f")
    print(table.to_string(index=False))


if __name__ == "__main__":
    sys.exit(run_cli(main, sys.argv[1:]))  # one line, the traceback in a crash.log
