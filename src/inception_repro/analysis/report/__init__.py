"""What the notebooks show (notebooks/*.ipynb): one function per table or figure.

`load()` (re-exported from `analysis.load`) gathers the runs of ONE scale into a `Study`; every
function here takes the study and returns a DataFrame or a `Plot`, written with provenance under
`<output_dir>/tables` or `<output_dir>/figures`, or a one-line `Note` when there is nothing to show
yet, so a notebook pointed at missing runs says so instead of failing. Accuracies are top-1 in %,
deltas in percentage points; the paper's numbers are ImageNet (analysis/paper.py), ours are the scale named
in every table's `scale` column.

This package is the notebooks' one namespace (`report.<function>`, as configs/ablations/*.yaml
names them); the functions live by subject: summary (the study at one glance), variants (one
ablation's variants), paper_tables (Tables 2 and 3 beside ours) and costs (parameters and
multiply-adds), built on rungs (our numbers per rung) and shown (`Text`, `Note`, writing with
provenance).
"""

from ..load import Study, load
from .costs import costed_ablations, costs_figure, costs_figures, costs_table, paper_costs
from .paper_tables import factorization_cost_note, table2, table3_cost_note, table3_ladder
from .shown import Note, Text
from .summary import claims, claims_figure, notebook_index, run_overview, verdict_rule, what_it_can_conclude
from .variants import learning_curves, overtake, variant_figure, variant_table

__all__ = [
    "Note", "Study", "Text",
    "claims", "claims_figure", "costed_ablations", "costs_figure", "costs_figures", "costs_table",
    "factorization_cost_note", "learning_curves", "load", "notebook_index", "overtake", "paper_costs",
    "run_overview", "table2", "table3_cost_note", "table3_ladder", "variant_figure", "variant_table",
    "verdict_rule", "what_it_can_conclude",
]
