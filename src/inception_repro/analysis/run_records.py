"""The runs behind results/tables, for the results sections: their records (``config.yaml`` and
``summary.json``), the commits that made them, each ablation's budget, and what they cost and
what their seeds could detect.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from pathlib import Path

import pandas as pd
import yaml

from ..errors import UserError
from ..provenance import short_commit
from ..store import RunFolder
from .power import POWER, minimum_detectable_effect, seeds_for_power
from .probe_section import PROBES, probe_choice
from .stats import pooled_sd

STUDY_SEEDS = 9  # the seeds the committed study has for every claim (ablate <ablations> --seeds 9 --store study)


def records_behind(root: Path, run_dirs: list[str]) -> list[tuple[dict, dict]]:
    """(config, summary) of each run a table used (its ``.meta.json`` ``run_dirs``), read once."""
    records = []
    for run in run_dirs:
        folder = RunFolder(root / run)
        summary = folder.read_summary()
        if summary is None or not folder.config.is_file():
            raise UserError(f"{run}: the run behind results/tables is gone: run `make notebooks` again")
        records.append((yaml.safe_load(folder.config.read_text()), summary.to_dict()))
    return records


def run_commits(records: list[tuple[dict, dict]]) -> str:
    """The commits that made the runs, e.g. `` `e487b80` ``."""
    return ", ".join(f"`{c}`" for c in sorted({short_commit(s.get("git_commit")) for _, s in records}))


def budget_lines(records: list[tuple[dict, dict]]) -> list[str]:
    """One line per ablation and budget: the run count and what each of them trained (scale, width,
    epochs x images, the commit it ran)."""
    runs: dict[tuple, int] = defaultdict(int)
    for cfg, summary in records:
        images = cfg["data"]["train_subset"] or "all"
        runs[(summary["ablation"], cfg["scale"]["name"], cfg["model"]["width"], cfg["trainer"]["max_epochs"], images,
              short_commit(summary.get("git_commit")))] += 1
    return [
        f"- `{ablation}`: {n} runs, scale `{scale}`, width {width}, {epochs} epochs x {images} "
        f"training images, commit `{commit}`"
        for (ablation, scale, width, epochs, images, commit), n in sorted(runs.items())
    ]


def study_cost(root: Path, records: list[tuple[dict, dict]], claims: pd.DataFrame) -> str:
    """What the runs behind the table cost (their ``wall_time_s``, a shared run counted once) and
    what STUDY_SEEDS seeds detect at their pooled seed noise, or, before two seeds, at the noise the
    probes measured for the scale's design."""
    summaries = [summary for _, summary in records]
    trained = [s for s in summaries if "shared_from" not in s]
    walls = sorted(s["wall_time_s"] for s in trained)
    by_config: dict[tuple[str, str], list[float]] = defaultdict(list)  # a seed of the study trains each config once
    for s in trained:
        by_config[(s["ablation"], s["variant"])].append(s["wall_time_s"])
    seeds_per_ablation: dict[str, set[int]] = defaultdict(set)
    for s in summaries:
        seeds_per_ablation[s["ablation"]].add(s["seed"])
    counts = sorted({len(seeds) for seeds in seeds_per_ablation.values()})
    seeds = f"{counts[0]} seed{'s' * (counts[0] != 1)}" if len(counts) == 1 else f"{counts[0]} to {counts[-1]} seeds"
    sd, source = pooled_sd(claims), "the pooled paired sd of these runs"
    probes = root / PROBES
    if math.isnan(sd) and probes.is_file() and (chosen := probe_choice(json.loads(probes.read_text()))) is not None:
        sd, source = chosen["pooled_sd_pp"], f"the pooled paired sd the probes measured for this design (`{chosen['name']}`)"
    per_seed = sum(statistics.mean(w) for w in by_config.values()) / 3600
    text = (f"The runs behind this table: {len(summaries)} records of {seeds} per ablation, {len(trained)} "
            f"trained and {len(summaries) - len(trained)} shared; a trained run took {walls[0]:.0f} to {walls[-1]:.0f} s "
            f"(`wall_time_s`, median {statistics.median(walls):.0f} s); one "
            f"seed of the {len(by_config)} configs recorded so far, each at its mean time, is {per_seed:.1f} core-hours.")
    if math.isnan(sd):
        return text
    return (f"{text} At {source}, {sd:.2f} points, {STUDY_SEEDS} seeds detect "
            f"{minimum_detectable_effect(sd, STUDY_SEEDS):.2f} points with {POWER:.0%} power, and a 1-point effect "
            f"needs {seeds_for_power(sd, 1.0)} seeds.")
