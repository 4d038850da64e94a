"""Analysis: run records -> tidy tables, the paper's numbers, statistics, verdicts, figures.

See collect (reading runs), paper (the paper's tables; the claims are in
configs/ablations/*.yaml), stats (the verdict rule), comparisons (the claims table), plots and
tables (outputs with provenance), report (what each notebook shows) and wandb_reports (`make report`).
"""

from .collect import (
    collect_history,
    collect_runs,
    collect_wandb,
    collect_wandb_history,
    complete_runs,
    run_status_counts,
)
from .paper import TABLE3, table3_frame
from .plots import (
    Plot,
    plot_accuracy_vs_cost,
    plot_claims,
    plot_learning_curves,
    plot_variants,
    save_figure,
)
from .comparisons import claims_table
from .stats import (
    PairedDelta,
    Summary,
    paired_delta,
    summarize,
    variant_order,
    variant_summary,
    verdict,
)
from .tables import markdown_table, write_table

__all__ = [
    "TABLE3", "PairedDelta", "Plot", "Summary",
    "claims_table", "collect_history", "collect_runs", "collect_wandb", "collect_wandb_history",
    "complete_runs", "markdown_table", "paired_delta", "plot_accuracy_vs_cost", "plot_claims",
    "plot_learning_curves", "plot_variants", "run_status_counts", "save_figure", "summarize",
    "table3_frame", "variant_order", "variant_summary", "verdict", "write_table",
]
