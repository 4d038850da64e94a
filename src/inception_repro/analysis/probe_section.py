"""How the study scale was chosen, for docs/results.md: the probe table of results/bench/probes.json
(``make probe``, bench/probe.py) in Markdown, and the design with the smallest effect detectable
within the budget.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import UserError
from ..provenance import short_commit

PROBES = Path("results") / "bench" / "probes.json"


def fmt(x: float | None, spec: str = ".2f") -> str:
    """A table cell: ``x`` formatted, or - where there is no value."""
    return "-" if x is None else format(x, spec)


def probe_table(result: dict) -> str:
    """The probe table (results/bench/probes.json, written by ``make probe``) in Markdown."""
    commits = sorted({short_commit(r.get("git_commit")) for d in result["designs"] for r in d["runs"]})
    labels = [f"{c['ablation']} `{c['variant']}` - `{c['control']}`" for c in result["comparisons"]]
    rows = [
        f"Paired deltas of test top-1 in percentage points: {', '.join(labels)}; *pooled sd*: their sds pooled "
        f"(weighted by degrees of freedom). Budget {result['budget_hours']:g} h of this machine for one seed = "
        f"{result['study_runs_per_seed']} runs, {result['workers']} at a time; *detectable*: the smallest true "
        f"delta a paired t-test finds with {result['power']:.0%} power at alpha {result['alpha']}, at the pooled sd "
        f"(from `results/bench/probes.json`; runs made by commit {', '.join(f'`{c}`' for c in commits)}).",
        "",
        "| design | overrides of the cpu scale | grids | s/run | seeds | paired sd per comparison | pooled sd "
        "| detectable | seeds in budget | detectable in budget |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for d in result["designs"]:
        grids = next((r["grid_sizes"] for r in d["runs"] if r.get("grid_sizes")), None)
        overrides = " ".join(f"`{o}`" for o in d["overrides"]) or "(none)"
        rows.append(f"| {d['name']} | {overrides} | {'/'.join(map(str, grids)) if grids else '-'} "
                    f"| {fmt(d['seconds_per_run'], '.0f')} | {d['n_seeds']} "
                    f"| {' / '.join(fmt(c['paired_sd_pp']) for c in d['comparisons'])} | {fmt(d['pooled_sd_pp'])} "
                    f"| {fmt(d['detectable_pp'])} | {fmt(d['seeds_in_budget'], 'd')} | {fmt(d['detectable_in_budget_pp'])} |")
    return "\n".join(rows)


def probe_choice(result: dict) -> dict | None:
    """The probed design (of a probes.json ``result``) with the smallest effect detectable within the budget, or None."""
    scored = [d for d in result["designs"] if d["detectable_in_budget_pp"] is not None]
    return min(scored, key=lambda d: d["detectable_in_budget_pp"]) if scored else None


def probe_section(path: Path) -> list[str]:
    """How the study scale was chosen: the probe table (``make probe``) and the design it picks."""
    if not path.is_file():
        return []
    result = json.loads(path.read_text())
    if "comparisons" not in result or any("n_seeds" not in d for d in result.get("designs", [])):
        raise UserError(f"{path} is a probe result of an older version: run make probe (or its --merge) again")
    scored = [d for d in result["designs"] if d["detectable_in_budget_pp"] is not None]
    lines = ["### How the study scale was chosen", "", probe_table(result), ""]
    if scored:
        best = probe_choice(result)
        lines += [f"The smallest effect detectable within the budget is {best['detectable_in_budget_pp']:.2f} points, "
                  f"with `{best['name']}`: configs/scale/cpu.yaml is that design. *seeds*: the fewest seeds any of "
                  f"its comparisons has; each design's pooled sd comes from {min(d['n_seeds'] for d in scored)} to "
                  f"{max(d['n_seeds'] for d in scored)} seeds, and its comparisons share their control's runs (one "
                  "config), so they are not independent and the pooled sd is less certain than its degrees of "
                  "freedom suggest. Seconds per run are those of the probed configs, measured while other probes "
                  "shared the cores; the study's variants with the paper's stems (Table 2, Table 3) cost more per "
                  "run, so *seeds in budget* overstates what the whole study affords: the README gives what its runs "
                  "cost.", ""]
    return lines
