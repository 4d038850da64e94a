"""Our numbers per rung of a ladder of variants (each against the rung before it, or alone): the
rows that Table 2 (§9), Table 3 and the costs table put beside the paper's.
"""

from __future__ import annotations

from ...metrics import STUDY_METRIC
from ...ablations import Claim, load_ablation
from ..collect import complete_runs
from ..load import Study
from ..stats import NO_RUNS, paired_delta, summarize, verdict


def _claim(ablation: str, control: str, variant: str) -> Claim | None:
    return next((c for c in load_ablation(ablation).claims if (c.control, c.variant) == (control, variant)),
                None)


def ladder_rows(study: Study, ablation: str, rungs: list[tuple[str, str | None]],
                 metric: str = STUDY_METRIC) -> list[dict]:
    """Ours per `(variant, control)` rung: mean, CI, n, mean MACs, paired Δ vs control, verdict."""
    rows = complete_runs(study.runs, study.scale)
    rows = rows[rows["ablation"] == ablation]
    out = []
    for variant, control in rungs:
        own = rows[rows["variant"] == variant]
        s = summarize(100.0 * own[metric])
        d = paired_delta(rows, control, variant, metric, ablation=ablation) if control else None
        c = _claim(ablation, control, variant) if control else None
        out.append({"ours_top1": s.mean, "ours_ci_low": s.ci_low, "ours_ci_high": s.ci_high, "n": s.n,
                    "ours_macs_M": own["macs"].mean() / 1e6,
                    "ours_delta": d.mean if d else float("nan"),
                    "delta_ci_low": d.ci_low if d else float("nan"),
                    "delta_ci_high": d.ci_high if d else float("nan"),
                    "verdict": (NO_RUNS if d.n == 0 else verdict(d.ci_low, d.ci_high, c.direction))
                    if d and c else "", "scale": study.scale})
    return out
