"""Plant known bugs one at a time and check that the test suite catches each one (run by hand, not by
``make test``): ``.venv/bin/python tests/mutations.py [--only NAME ...] [--full] [-- PYTEST_ARGS]``.

Each mutation replaces one exact snippet of ``src/`` in a temporary copy of this working tree, then
runs pytest in that copy: the test files that should catch it, or the whole suite with ``--full``
(a failing file fails the whole suite too). A mutation counts as caught when a test fails (pytest's
summary says so). Exit 0 when every mutation is caught, 1 when one survives, 2 when a snippet is no longer
in its file, a mutation does not compile or pytest ends without running the tests.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOP_LEVEL_SKIPPED = {".git", ".venv", "data", ".pytest_cache"}  # the venv and data are linked, not copied
SKIPPED_ANYWHERE = ("__pycache__", "*.egg-info", "checkpoints", "wandb")


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str  # under src/inception_repro/
    old: str
    new: str
    tests: tuple[str, ...]  # the test files expected to catch it


MUTATIONS = (
    Mutation("ema_decay_inverted", "training/ema.py",
             "[c for _, c in floats], 1.0 - decay)", "[c for _, c in floats], decay)",
             ("tests/test_recipe.py",)),
    Mutation("resume_forgets_the_torch_rng", "training/callbacks.py",
             'torch.set_rng_state(states["torch"])', "torch.get_rng_state()",
             ("tests/test_resume.py",)),
    Mutation("lr_decay_off_by_one", "training/schedule.py",
             "rate ** math.floor(step / period)", "rate ** math.floor((step + 1) / period)",
             ("tests/test_recipe.py",)),
    Mutation("holm_ordering_reversed", "analysis/stats.py",
             "family = sorted((v, i) for i, v in enumerate(p) if not math.isnan(v))",
             "family = sorted(((v, i) for i, v in enumerate(p) if not math.isnan(v)), reverse=True)",
             ("tests/test_analysis_stats.py",)),
    Mutation("aux_weight_ignored", "training/module.py",
             "return main + aux_weight * aux, main, aux", "return main + aux, main, aux",
             ("tests/test_recipe.py",)),
    Mutation("run_folder_cleared_without_its_identity", "store/folder.py",
             "if not _same_run(recorded, identity):", "if False:",
             ("tests/test_safety.py",)),
    Mutation("paired_delta_unpaired", "analysis/stats.py",
             "(wide[variant] - wide[control])", "(wide[variant] - wide[control].mean())",
             ("tests/test_analysis_stats.py",)),
    Mutation("label_smoothing_dropped", "training/module.py",
             "main = F.cross_entropy(logits, target, label_smoothing=label_smoothing)",
             "main = F.cross_entropy(logits, target)",
             ("tests/test_recipe.py",)),
    Mutation("resolution_151_stem_stride_changed", "models/geometry.py",
             "151: StemLayout(first_stride=1,", "151: StemLayout(first_stride=2,",
             ("tests/test_model.py",)),
    Mutation("summary_written_non_atomically", "store/folder.py",
             "atomic_write(self.summary, lambda p: p.write_text(text))", "self.summary.write_text(text)",
             ("tests/test_safety.py",)),
    Mutation("rmsprop_eps_outside_the_root", "training/optim.py",
             'roots = torch._foreach_add(squares, group["eps"])\n        torch._foreach_sqrt_(roots)',
             'roots = torch._foreach_sqrt(squares)\n        torch._foreach_add_(roots, group["eps"])',
             ("tests/test_recipe.py",)),
    Mutation("non_finite_checkpoint_written", "training/checkpoint.py",
             "if t.is_floating_point() and not t.isfinite().all()]", "if False]",
             ("tests/test_faults.py",)),
)


def copy_tree(dest: Path) -> None:
    """This working tree without its caches and records of local runs; the venv and data linked."""
    anywhere = shutil.ignore_patterns(*SKIPPED_ANYWHERE)

    def skipped(folder: str, names: list[str]) -> set[str]:
        here = Path(folder).resolve()
        top = TOP_LEVEL_SKIPPED if here == ROOT else {"local"} if here == ROOT / "results" else set()
        return set(anywhere(folder, names)) | (top & set(names))

    shutil.copytree(ROOT, dest, ignore=skipped, symlinks=True)
    for shared in (".venv", "data"):
        if (ROOT / shared).exists():
            (dest / shared).symlink_to(ROOT / shared)


def plant(tree: Path, mutation: Mutation) -> None:
    path = tree / "src" / "inception_repro" / mutation.path
    text = path.read_text()
    if text.count(mutation.old) != 1:
        raise LookupError(f"{mutation.name}: its snippet occurs {text.count(mutation.old)} times in {mutation.path}, not once")
    mutated = text.replace(mutation.old, mutation.new)
    compile(mutated, str(path), "exec")  # a SyntaxError here is a broken mutation, not a caught one
    path.write_text(mutated)


def caught(mutation: Mutation, full: bool, pytest_args: list[str]) -> tuple[bool, float, str]:
    """Whether pytest fails with ``mutation`` planted, its seconds, and its last line."""
    with tempfile.TemporaryDirectory(prefix=f"mutant-{mutation.name}-") as tmp:
        tree = Path(tmp) / "tree"
        copy_tree(tree)
        plant(tree, mutation)
        env = {**os.environ, "PYTHONPATH": str(tree / "src")}
        targets = [] if full else list(mutation.tests)
        command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *targets, *pytest_args]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
        last = (done.stdout.strip().splitlines() or [""])[-1]
        failed = done.returncode in (1, 2) and " failed" in last  # 2: -x stopped the workers after a failure
        if done.returncode != 0 and not failed:
            raise RuntimeError(f"{mutation.name}: pytest exited {done.returncode} without a test failing: {last}")
        return failed, time.perf_counter() - start, last


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="names of the mutations to try")
    parser.add_argument("--full", action="store_true", help="run the whole suite, not the files listed per mutation")
    parser.add_argument("pytest_args", nargs="*", help="after --: more pytest arguments")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if args.only is None or m.name in args.only]
    unknown = sorted(set(args.only or ()) - {m.name for m in MUTATIONS})
    if unknown:
        print(f"error: unknown mutation {', '.join(unknown)}; valid: {', '.join(m.name for m in MUTATIONS)}", file=sys.stderr)
        return 2
    survived = []
    for mutation in chosen:
        try:
            failed, seconds, last = caught(mutation, args.full, args.pytest_args)
        except (LookupError, SyntaxError, RuntimeError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(f"{'caught  ' if failed else 'SURVIVED'} {mutation.name} ({seconds:.0f} s): {last}", flush=True)
        if not failed:
            survived.append(mutation.name)
    print(f"{len(chosen) - len(survived)} of {len(chosen)} mutations caught" + (f"; survived: {', '.join(survived)}" if survived else ""))
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
