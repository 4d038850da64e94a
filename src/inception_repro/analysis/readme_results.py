"""The results sections of README.md (short) and docs/results.md (whole), written from results/
(``make notebooks`` ends with it).

Nothing in the section is typed by hand: what the study can conclude is computed from
``results/tables/claims.csv``, the claims table is ``results/tables/claims.md`` as
``notebooks/00_summary.ipynb`` wrote it, the provenance line comes from its ``.meta.json``, the
verdict rule is ``conclusions.RULE``, figure captions that carry numbers read them from
``results/tables``, and each ablation's training budget is read from the ``config.yaml`` of the
runs that table used.
Each section sits between two markers; ``python -m inception_repro.analysis.readme_results``
rewrites both, and ``--check`` exits 1 when either file is out of date with results/. The README
keeps what the study can conclude, a compact claims table and one figure; docs/results.md adds the
full claims table, the verdict rule, the seeds that would resolve each claim, budgets and figures.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import pandas as pd
import yaml

from ..ablations import ablation_names, load_ablation
from ..cli import run_cli
from ..errors import UserError
from ..provenance import atomic_write, project_root, short_commit
from ..store import RunFolder
from .conclusions import COLUMN_GUIDE, RULE, conclusions
from .power import POWER, minimum_detectable_effect, seeds_for_power
from .stats import pooled_sd

BEGIN = "<!-- results:begin (written by python -m inception_repro.analysis.readme_results) -->"
END = "<!-- results:end -->"
SHORT_FIGURE = ("claims", "Every claim: our paired delta and its 95% interval beside the paper's delta")


def key_figures() -> list[tuple[str, str]]:
    """(figure, caption): every claim's figure, then each ablation's `notebook.readme_figure`
    (configs/ablations/*.yaml) in name order."""
    chosen = [(load_ablation(a).notebook or {}).get("readme_figure") for a in ablation_names()]
    return [SHORT_FIGURE, *((f["figure"], f["caption"]) for f in chosen if f)]


def resolution_caption(tables: Path) -> str:
    """What Table 2's stems saw and cost at the study's scale, from ``table2.csv``."""
    path = tables / "table2.csv"
    if not path.is_file():
        return ""
    t2 = pd.read_csv(path)
    return (f": at scale `{t2['scale'].iloc[0]}` they see {' / '.join(map(str, t2['input_px']))} px "
            f"inputs and cost {' / '.join(f'{m:.2f}' for m in t2['ours_macs_M'])} million "
            "multiply-adds per image")


FULL = Path("docs") / "results.md"
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


class MissingMarkers(RuntimeError):
    """README.md has no place marked for the results section."""


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


def render(root: Path, records: list[tuple[dict, dict]]) -> str:
    """docs/results.md's section from ``<root>/results`` and the ``records_behind`` its tables (its links
    are relative to docs/)."""
    tables, figures = root / "results" / "tables", root / "results" / "figures"
    meta = json.loads((tables / "claims.meta.json").read_text())
    lines = [
        BEGIN,
        "",
        conclusions(pd.read_csv(tables / "claims.csv")),
        "",
        f"Scale `{meta['scale']}`; written {meta['date'][:10]} from commit `{short_commit(meta.get('git_commit'))}` "
        f"by `{meta['command']}`. Deltas are top-1 percentage points of the variant over its control, "
        "paired by seed; `ci_low` / `ci_high` bound the 95% t-interval. The paper's deltas are "
        "ImageNet; ours are Fashion-MNIST at the cpu scale, so they test direction and mechanics, "
        "not ImageNet numbers.",
        "",
        (tables / "claims.md").read_text().strip(),
        "",
        COLUMN_GUIDE,
        "",
        RULE,
        "",
        "The runs behind the table (from each run's `config.yaml` and `summary.json`):",
        "",
        *budget_lines(records),
        "",
    ]
    lines += probe_section(root / PROBES)
    for name, caption in key_figures():
        caption += resolution_caption(tables) if name == "resolution_variants" else ""
        if (figures / f"{name}.png").exists():
            lines += [f"**{caption}** (`results/figures/{name}.png`)", "", f"![{caption}](../results/figures/{name}.png)", ""]
    return "\n".join([*lines, END])


def _signed(x: float) -> str:
    return f"{x:+.2f}"


def compact_claims(claims: pd.DataFrame) -> str:
    """One row per comparison: the paper's delta, ours with its 95% interval, seeds, what the seeds
    could detect, and the verdict before and after Holm's adjustment."""
    rows = ["| claim | paper | ours [95% CI] | seeds | detectable | verdict | Holm |",
            "| --- | ---: | --- | ---: | ---: | --- | --- |"]
    for r in claims.itertuples(index=False):
        paper = _signed(r.paper_delta) if pd.notna(r.paper_delta) else "direction"
        ours = (f"{_signed(r.ours_delta)} [{_signed(r.ci_low)}, {_signed(r.ci_high)}]"
                if pd.notna(r.ci_low) else (_signed(r.ours_delta) if pd.notna(r.ours_delta) else "-"))
        detectable = f"{r.mde_pp:.2f}" if pd.notna(r.mde_pp) else "-"
        rows.append(f"| {r.claim} ({r.paper_section}) | {paper} | {ours} | {int(r.n_seeds) if pd.notna(r.n_seeds) else 0} "
                    f"| {detectable} | {r.verdict} | {r.holm_verdict} |")
    return "\n".join(rows)


STUDY_SEEDS = 9  # the seeds the committed study has for every claim (ablate <ablations> --seeds 9 --store study)


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


def render_short(root: Path, records: list[tuple[dict, dict]]) -> str:
    """README's section: what the study can conclude, the compact claims table, one figure; ``records``:
    the ``records_behind`` its tables."""
    tables = root / "results" / "tables"
    claims = pd.read_csv(tables / "claims.csv")
    meta = json.loads((tables / "claims.meta.json").read_text())
    summary = conclusions(claims).split("\n\nFor the other", 1)[0]
    name, caption = SHORT_FIGURE
    return "\n".join([
        BEGIN, "", summary, "",
        f"Top-1 deltas in percentage points, variant over control, paired by seed (scale `{meta['scale']}`, "
        f"runs of commit {run_commits(records)}, tables written at commit `{short_commit(meta.get('git_commit'))}`); *detectable* is the smallest true delta these seeds "
        "find with 80% power. The paper's deltas are ImageNet; ours are Fashion-MNIST at the cpu scale, "
        "so they test direction and mechanics, not ImageNet numbers.",
        "", compact_claims(claims), "",
        study_cost(root, records, claims), "",
        f"![{caption}](results/figures/{name}.png)", "",
        f"The verdict rule, the full table, what would resolve each claim, the runs' budgets and more "
        f"figures: [{FULL.as_posix()}]({FULL.as_posix()}).", "",
        END,
    ])


def updated(readme: str, section: str) -> str:
    """``readme`` with the text between the markers replaced by ``section``."""
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 or end < start:
        raise MissingMarkers(f"no results markers: put {BEGIN!r} and {END!r} where the section goes")
    return readme[:start] + section + readme[end + len(END):]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=None, help="project root (default: this checkout)")
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md or docs/results.md is out of date")
    args = parser.parse_args(argv)
    root = args.root or project_root()
    code = 0
    claims_meta = root / "results" / "tables" / "claims.meta.json"
    if not claims_meta.is_file():
        raise UserError(f"{claims_meta}: no claims table to write the results sections from: run `make notebooks`")
    records = records_behind(root, json.loads(claims_meta.read_text())["run_dirs"])
    for name, render_section in (("README.md", render_short), (FULL.as_posix(), render)):
        path = root / name
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        try:
            new = updated(text, render_section(root, records))
        except MissingMarkers as e:
            print(f"error: {name}: {e}", file=sys.stderr)
            return 2
        if args.check:
            if new != text:
                print(f"{name}'s results section is out of date: run `make notebooks`", file=sys.stderr)
                code = 1
            continue
        if new != text:
            atomic_write(path, lambda p, new=new: p.write_text(new, encoding="utf-8"))
        print(f"{name} results section: " + ("updated" if new != text else "up to date"))
    return code


if __name__ == "__main__":
    sys.exit(run_cli(main, sys.argv[1:]))  # one line, the traceback in a crash.log
