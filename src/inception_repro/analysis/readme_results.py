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
import sys
from pathlib import Path

import pandas as pd

from ..ablations import ablation_names, load_ablation
from ..cli import run_cli
from ..errors import UserError
from ..provenance import atomic_write, project_root, short_commit
from .conclusions import COLUMN_GUIDE, RULE, conclusions
from .probe_section import PROBES, probe_section
from .run_records import budget_lines, records_behind, run_commits, study_cost

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


class MissingMarkers(RuntimeError):
    """README.md has no place marked for the results section."""


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
