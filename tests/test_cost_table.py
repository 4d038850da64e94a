"""``make costs``: one row per ablation variant at the paper's size, with provenance."""

import json

import pandas as pd
import pytest

from inception_repro.ablations import ablation_names, load_ablation
from inception_repro.analysis.cost_table import COLUMNS, main


@pytest.mark.slow
def test_cost_table_has_a_row_per_variant_and_provenance(tmp_path):
    main(["--out-dir", str(tmp_path)])
    table = pd.read_csv(tmp_path / "model_costs.csv", dtype={"variant": str})
    assert list(table.columns) == COLUMNS
    expected = {(a, v) for a in ablation_names() for v in load_ablation(a).variants}
    assert set(zip(table.ablation, table.variant)) == expected and len(table) == len(expected)
    resolution = table[table.ablation == "resolution"].set_index("variant")
    assert resolution.loc["79", "input_size"] == 79 and resolution.loc["299", "input_size"] == 299
    table3 = table[table.ablation == "table3"]
    assert table3.paper_bn_ops.notna().all() and table[table.ablation != "table3"].paper_bn_ops.isna().all()
    meta = json.loads((tmp_path / "model_costs.meta.json").read_text())
    assert {"git_commit", "command", "date", "machine"} <= meta.keys()
