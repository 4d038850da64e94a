"""The paper's numbers as data (Szegedy et al. 2016, arXiv 1512.00567).

Every number here is copied from the paper with the section it comes from. They
are ImageNet (ILSVRC-2012 val, single crop) numbers: a CPU- or GPU-scale run is compared with them
only through the *direction* and size of a delta, never through absolute accuracy.

The claims these numbers support, with their deltas, live with their ablation in
configs/ablations/<name>.yaml (`inception_repro.ablations.all_claims`); tests check the deltas
against the tables here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

TABLE2_TOP1_ACC: dict[str, float] = {"79": 75.2, "151": 76.4, "299": 76.6}
"""§9, Table 2: top-1 accuracy (%) at receptive field 79/151/299 px, almost constant cost."""

FIG2_TOP1_ACC: dict[str, float] = {"linear": 76.2, "relu": 77.2}
"""§3.1, Fig. 2: 5x5 -> two 3x3, linear vs ReLU first activation, top-1 accuracy (%)."""


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


def table3_frame() -> pd.DataFrame:
    """Table 3 as rows: name, top1_err, top5_err (NaN where not printed), cost_bn_ops, variant."""
    return pd.DataFrame([asdict(r) for r in TABLE3])
