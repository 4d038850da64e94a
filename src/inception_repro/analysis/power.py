"""What a paired comparison of n seeds can detect, and how many seeds a sharper one needs.

Everything is for the paired t statistic of `stats` (n pairs, n - 1 degrees of freedom, sample sd
of the per-seed deltas) at ALPHA = 0.05 two-sided, i.e. one-sided tests at ALPHA / 2 each, which
is what reading a verdict off the 95% interval means. Power comes from the noncentral t
distribution (scipy.stats.nct), not from the normal approximation.
"""

from __future__ import annotations

import math

from scipy import optimize
from scipy import stats as sps

ALPHA = 0.05
POWER = 0.80
MAX_SEEDS = 1_000_000  # a search bound, far beyond any budget this project could run


def _t_crit(n: int) -> float:
    return float(sps.t.ppf(1 - ALPHA / 2, n - 1))


def directional_power(effect: float, sd: float, n: int) -> float:
    """Probability that the 95% interval of n paired deltas excludes 0 when the true mean delta
    is `effect` (two-sided paired t-test at ALPHA; noncentral t with nc = effect * sqrt(n) / sd)."""
    nc = abs(effect) * math.sqrt(n) / sd
    tc = _t_crit(n)
    wrong_side = float(sps.nct.cdf(-tc, n - 1, nc))  # NaN where scipy underflows: it is ~0 there
    return float(sps.nct.sf(tc, n - 1, nc)) + (0.0 if math.isnan(wrong_side) else wrong_side)


def equivalence_power(margin: float, sd: float, n: int) -> float:
    """Probability that the 95% interval lies inside +-`margin` when the true delta is 0 (TOST with
    one-sided tests at ALPHA / 2). Uses the usual bound 1 - P(miss low) - P(miss high), each miss a
    one-sided noncentral-t event; it is slightly pessimistic for small n."""
    nc = margin * math.sqrt(n) / sd
    return max(0.0, 1.0 - 2.0 * float(sps.nct.cdf(_t_crit(n), n - 1, nc)))


def minimum_detectable_effect(sd: float, n: int) -> float:
    """The smallest true mean delta (same units as `sd`) a two-sided paired t-test of n pairs
    detects with probability POWER at ALPHA. NaN when n < 2 or sd is not positive."""
    if n < 2 or not sd > 0:
        return math.nan
    high = sd
    while directional_power(high, sd, n) < POWER:
        high *= 2.0
    return float(optimize.brentq(lambda e: directional_power(e, sd, n) - POWER, 0.0, high, xtol=1e-6))


def _smallest_n(enough) -> int:
    """The smallest n >= 2 with enough(n) (monotone in n), by doubling then bisection."""
    low, high = 1, 2
    while not enough(high):
        if high >= MAX_SEEDS:
            return MAX_SEEDS
        low, high = high, min(2 * high, MAX_SEEDS)
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if enough(mid) else (mid, high)
    return high


def seeds_for_half_width(sd: float, half_width: float) -> int:
    """Seeds whose 95% t-interval has half-width <= `half_width` at sample sd `sd`."""
    return _smallest_n(lambda n: _t_crit(n) * sd / math.sqrt(n) <= half_width)


def seeds_for_power(sd: float, effect: float, equivalence: bool = False) -> int:
    """Seeds for POWER: to detect a true mean delta `effect` (directional), or, with
    `equivalence`, to put the interval inside +-`effect` when the true delta is 0."""
    power = equivalence_power if equivalence else directional_power
    return _smallest_n(lambda n: power(effect, sd, n) >= POWER)
