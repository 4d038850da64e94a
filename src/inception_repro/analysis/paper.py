"""The paper's numbers as data (Szegedy et al. 2016, arXiv 1512.00567).

Every number here is copied from `shared/reference/PAPER.md` with the section it comes from. They
are ImageNet (ILSVRC-2012 val, single crop) numbers: a CPU- or GPU-scale run is compared with them
only through the *direction* and size of a delta, never through absolute accuracy.

Deltas (`Claim.paper_delta`) are changes in top-1 ACCURACY, in percentage points, of the variant
relative to the control; derived claims compute them from the tables below so each number is
written once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

TABLE2_TOP1_ACC: dict[str, float] = {"79": 75.2, "151": 76.4, "299": 76.6}
"""§9, Table 2: top-1 accuracy (%) at receptive field 79/151/299 px, almost constant cost."""

FIG2_TOP1_ACC: dict[str, float] = {"linear": 76.2, "relu": 77.2}
"""§3.1, Fig. 2: 5x5 -> two 3x3, linear vs ReLU first activation, top-1 accuracy (%)."""

AUX_BN_GAIN_TOP1 = 0.4
"""§4: batch-normalizing the auxiliary head gives +0.4 % absolute top-1."""

LABEL_SMOOTHING_GAIN_TOP1 = 0.2
"""§7: label smoothing (eps = 0.1) gives about +0.2 % absolute top-1 (and top-5)."""


@dataclass(frozen=True)
class Table3Row:
    """One row of Table 3 (error rates, %; cost in billions of operations)."""

    name: str
    top1_err: float
    top5_err: float | None
    cost_bn_ops: float
    variant: str | None  # our `table3` ablation variant, None for the older networks


TABLE3: tuple[Table3Row, ...] = (
    Table3Row("GoogLeNet", 29.0, 9.2, 1.5, None),
    Table3Row("BN-GoogLeNet", 26.8, None, 1.5, None),
    Table3Row("BN-Inception", 25.2, 7.8, 2.0, None),
    Table3Row("Inception-v2", 23.4, None, 3.8, "v2_sgd"),
    Table3Row("Inception-v2 + RMSProp", 23.1, 6.3, 3.8, "rmsprop"),
    Table3Row("Inception-v2 + Label Smoothing", 22.8, 6.1, 3.8, "label_smoothing"),
    Table3Row("Inception-v2 + Factorized 7x7", 21.6, 5.8, 4.8, "factorized_7x7"),
    Table3Row("Inception-v2 + BN-auxiliary", 21.2, 5.6, 4.8, "bn_aux"),
)
"""§10, Table 3: single-crop ablation; each of the last five rows adds to the previous one."""


@dataclass(frozen=True)
class Claim:
    """A paper claim as a comparison of two variants of one ablation.

    `direction`: +1 the paper finds the variant better, -1 worse, 0 no difference expected.
    `paper_delta`: top-1 accuracy change (percentage points), None where only a direction is given.
    """

    claim: str
    paper_section: str
    ablation: str
    control: str
    variant: str
    paper_delta: float | None
    direction: int
    statement: str


def _t3_acc(variant: str) -> float:
    return next(100.0 - r.top1_err for r in TABLE3 if r.variant == variant)


def _gain(better: float, worse: float) -> float:
    return round(better - worse, 2)


CLAIMS: tuple[Claim, ...] = (
    Claim("aux_bn_vs_plain", "§4", "aux", "plain", "bn", AUX_BN_GAIN_TOP1, +1,
          "A batch-normalized auxiliary head regularizes better than a plain one."),
    Claim("aux_plain_vs_none", "§4", "aux", "none", "plain", None, +1,
          "With the auxiliary head the net overtakes near the end and plateaus slightly higher."),
    Claim("label_smoothing", "§7", "label_smoothing", "eps0", "eps0.1",
          LABEL_SMOOTHING_GAIN_TOP1, +1, "Label smoothing eps=0.1 improves top-1 by about 0.2%."),
    Claim("rmsprop_vs_sgd", "§8; §10, Table 3", "optimizer", "sgd", "rmsprop",
          _gain(_t3_acc("rmsprop"), _t3_acc("v2_sgd")), +1,
          "RMSProp (decay 0.9, eps 1.0) beats SGD with momentum."),
    Claim("fig2_relu_vs_linear", "§3.1, Fig. 2", "factorization", "linear", "baseline",
          _gain(FIG2_TOP1_ACC["relu"], FIG2_TOP1_ACC["linear"]), +1,
          "In the 5x5 -> two 3x3 factorization a ReLU first layer beats a linear one."),
    Claim("factorize_5x5", "§3.1", "factorization", "conv5x5", "baseline", None, 0,
          "Two 3x3 convolutions replace a 5x5 without losing accuracy (28% fewer multiply-adds "
          "per convolution of equal width: 2 x 9 vs 25)."),
    Claim("asymmetric_7x7", "§3.2", "factorization", "full7x7", "baseline", None, 0,
          "1x7 then 7x1 replaces 7x7 on the 17x17 grid at lower cost without losing accuracy."),
    Claim("grid_reduction_efficient_vs_pool_first", "§5, Fig. 9/10", "factorization",
          "pool_first", "baseline", None, +1,
          "Pooling before the convolution is a representational bottleneck."),
    Claim("grid_reduction_efficient_vs_conv_first", "§5, Fig. 9/10", "factorization",
          "conv_first", "baseline", None, 0,
          "The parallel stride-2 reduction avoids the bottleneck and costs less than convolving "
          "first (how much less depends on the grid: see make costs)."),
    Claim("resolution_151_vs_299", "§9, Table 2", "resolution", "299", "151",
          _gain(TABLE2_TOP1_ACC["151"], TABLE2_TOP1_ACC["299"]), 0,
          "At equal cost, 151 px input comes 'quite close' to 299 px."),
    Claim("resolution_79_vs_299", "§9, Table 2", "resolution", "299", "79",
          _gain(TABLE2_TOP1_ACC["79"], TABLE2_TOP1_ACC["299"]), -1,
          "At equal cost, 79 px input is 1.4% worse than 299 px."),
    Claim("table3_rmsprop", "§10, Table 3", "table3", "v2_sgd", "rmsprop",
          _gain(_t3_acc("rmsprop"), _t3_acc("v2_sgd")), +1, "Table 3 row '+ RMSProp'."),
    Claim("table3_label_smoothing", "§10, Table 3", "table3", "rmsprop", "label_smoothing",
          _gain(_t3_acc("label_smoothing"), _t3_acc("rmsprop")), +1,
          "Table 3 row '+ Label Smoothing'."),
    Claim("factorized_7x7", "§6; §10, Table 3", "table3", "label_smoothing", "factorized_7x7",
          _gain(_t3_acc("factorized_7x7"), _t3_acc("label_smoothing")), +1,
          "Table 3 row '+ Factorized 7x7': the stem's first 7x7 as a sequence of 3x3."),
    Claim("table3_bn_aux", "§4; §10, Table 3", "table3", "factorized_7x7", "bn_aux",
          _gain(_t3_acc("bn_aux"), _t3_acc("factorized_7x7")), +1,
          "Table 3 row '+ BN-auxiliary' (= Inception-v3)."),
    Claim("table3_v3_vs_v2", "§10, Table 3", "table3", "v2_sgd", "bn_aux",
          _gain(_t3_acc("bn_aux"), _t3_acc("v2_sgd")), +1,
          "All Table 3 changes together: Inception-v3 vs the Inception-v2 baseline."),
)


def claim(claim_id: str) -> Claim:
    """Return the claim named `claim_id`; KeyError lists the valid ids."""
    for c in CLAIMS:
        if c.claim == claim_id:
            return c
    raise KeyError(f"unknown claim {claim_id!r}; valid: {', '.join(c.claim for c in CLAIMS)}")


def claims_frame() -> pd.DataFrame:
    """All CLAIMS as a DataFrame, one row per claim."""
    return pd.DataFrame([asdict(c) for c in CLAIMS])


def table2_frame() -> pd.DataFrame:
    """§9, Table 2 as rows: resolution (px), top-1 accuracy (%)."""
    return pd.DataFrame({"resolution": [int(k) for k in TABLE2_TOP1_ACC],
                         "top1_acc": list(TABLE2_TOP1_ACC.values())})


def table3_frame() -> pd.DataFrame:
    """Table 3 as rows: name, top1_err, top5_err (NaN where not printed), cost_bn_ops, variant."""
    return pd.DataFrame([asdict(r) for r in TABLE3])
