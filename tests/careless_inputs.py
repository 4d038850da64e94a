"""Careless inputs to the project's real commands, counted: the acceptance check of issue 27.

"At least 100 careless inputs, counted in a test or a script, give 0 'unexpected' errors,
0 tracebacks, 0 hangs and 0 data loss."

Each input is a command line (``python -m inception_repro.train|ablate``, the readers
``analysis.wandb_push`` / ``analysis.wandb_reports``, ``data.provide``, ``make`` targets), with an
optional setup of files in its own temp folder (malformed run records, a copied configs/ folder with a
broken ablation YAML, a garbage checkpoint, a file where a folder should be...). Each runs as a child
process with a timeout, ``WANDB_MODE=offline`` and ``PYTHONPATH=<this checkout>/src``, usually from its
temp folder. For each input this records the exit status, the ``error:`` lines on stderr, whether
``Traceback`` or ``error: unexpected`` appears anywhere in its output, whether it hung (ran past the
timeout; its process group is then killed), and data loss: the (path, size, mtime) of every file of
the project's results/ folder and of the files the setup put in the temp folder, before and after;
a file changed or deleted is data loss (a new file is only noted).

Outcome of an input:
  CLEAR    exit != 0, exactly one ``error:`` line, no traceback, no ``error: unexpected``
  WORKS    exit 0 (``--help``, ``--cfg job``, a value that is allowed after all)
  FAILURE  anything else, named: hang, traceback, unexpected, data loss, no error: line, N error: lines

An ``error:`` line is a stderr line starting ``error:``; for make, also make's own
``Makefile:N: *** error: ...`` (the Makefile's ``$(error ...)``). make's trailer
``make: *** [Makefile:N: target] Error 2`` is make's, not the command's, and is not counted.

Nothing trains a real run: every input fails at validation, or is a tiny run (width 1/16, 64 images,
one epoch, no logger) in a temp results folder. make runs with ``-o .venv/.installed`` so that it never
reinstalls the virtual environment (which may be shared with another checkout), and only targets that
fail during validation.

Usage:  .venv/bin/python tests/careless_inputs.py [--only SUBSTRING] [--jobs 1|2] [--timeout S] [--keep] [--list]
Exit status 1 if any input is a FAILURE (or the committed files changed), else 0.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
RESULTS = ROOT / "results"
STUDY_RUN = RESULTS / "runs" / "cpu" / "aux" / "bn" / "seed0"
TRAIN = [PY, "-m", "inception_repro.train"]
ABLATE = [PY, "-m", "inception_repro.ablate"]
PUSH = [PY, "-m", "inception_repro.analysis.wandb_push"]
REPORT = [PY, "-m", "inception_repro.analysis.wandb_reports"]
PROVIDE = [PY, "-m", "inception_repro.data.provide"]
COSTS = [PY, "-m", "inception_repro.analysis.cost_table"]
# -o: never remake the venv stamp (a pip install into a venv that may be shared with another checkout).
MAKE = ["make", "--no-print-directory", "-C", str(ROOT), "-o", ".venv/.installed"]
OUT = ["results_dir={tmp}/results", "allow_outside_results=true"]
TINY = ["scale=cpu", "model.width=0.0625", "data.batch_size=16", "data.eval_batch_size=64", "data.train_subset=64",
        "data.val_subset=64", "data.test_subset=64", "trainer.max_epochs=1", "logger=none"]
ERROR_LINE = re.compile(r"^(error:|Makefile:\d+: \*\*\* error:)")


@dataclass
class Case:
    name: str
    argv: list[str]
    setup: Callable[[Path], None] | None = None
    cwd: str = "tmp"  # "tmp": the input's temp folder; "root": the checkout
    env: dict[str, str] = field(default_factory=dict)
    expect_error: bool = True  # False: exit 0 is the right answer (help, --cfg job)


@dataclass
class Outcome:
    case: Case
    status: int | None
    seconds: float
    error_lines: list[str]
    traceback: bool
    unexpected: bool
    hung: bool
    lost: list[str]
    new: list[str]
    tail: list[str]

    @property
    def failures(self) -> list[str]:
        found = [w for w, bad in (("hang", self.hung), ("traceback", self.traceback), ("unexpected", self.unexpected),
                                  ("data loss", bool(self.lost))) if bad]
        if not self.hung and self.status != 0 and len(self.error_lines) != 1:
            found.append(f"{len(self.error_lines)} error: lines" if self.error_lines else "no error: line")
        return found

    @property
    def verdict(self) -> str:
        if self.failures:
            return "FAILURE"
        return "WORKS" if self.status == 0 else "CLEAR"


# --- setups: files put in the input's temp folder -------------------------------------------------

def write(rel: str, content: str | bytes) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        path = tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return setup


def both(*setups: Callable[[Path], None]) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        for s in setups:
            s(tmp)
    return setup


def study_copy(rel: str = "res/runs/cpu/aux/bn/seed0") -> Callable[[Path], None]:
    """A copy of a committed record (aux/bn/seed0) at ``rel`` of the temp folder."""
    def setup(tmp: Path) -> None:
        shutil.copytree(STUDY_RUN, tmp / rel)
    return setup


def edit_record(file: str, change: Callable[[str], str], rel: str = "res/runs/cpu/aux/bn/seed0") -> Callable[[Path], None]:
    """A copy of the committed aux/bn/seed0 record whose ``file`` is ``change``d."""
    def setup(tmp: Path) -> None:
        study_copy(rel)(tmp)
        path = tmp / rel / file
        path.write_text(change(path.read_text()))
    return setup


def summary_with(**values) -> Callable[[str], str]:
    def change(text: str) -> str:
        summary = json.loads(text)
        for key, value in values.items():
            if value is None:
                summary.pop(key, None)
            else:
                summary[key] = value
        return json.dumps(summary, indent=2)
    return change


def metrics_cell(line: int, column: str, value: str) -> Callable[[str], str]:
    def change(text: str) -> str:
        lines = text.splitlines(keepends=True)
        header = lines[0].rstrip("\n").split(",")
        cells = lines[line - 1].rstrip("\n").split(",")
        cells[header.index(column)] = value
        lines[line - 1] = ",".join(cells) + "\n"
        return "".join(lines)
    return change


def configs_copy(edit: Callable[[Path], None] | None = None) -> Callable[[Path], None]:
    """A copy of configs/ in the temp folder (INCEPTION_REPRO_CONFIGS points at it), then ``edit``."""
    def setup(tmp: Path) -> None:
        shutil.copytree(ROOT / "configs", tmp / "configs")
        if edit:
            edit(tmp / "configs")
    return setup


def aux_yaml(old: str, new: str) -> Callable[[Path], None]:
    def edit(configs: Path) -> None:
        path = configs / "ablations" / "aux.yaml"
        text = path.read_text()
        assert old in text, old
        path.write_text(text.replace(old, new, 1))
    return edit


def replace_file(rel: str, content: str) -> Callable[[Path], None]:
    def edit(configs: Path) -> None:
        (configs / rel).write_text(content)
    return edit


CONFIGS_ENV = {"INCEPTION_REPRO_CONFIGS": "{tmp}/configs"}


# --- the inputs -----------------------------------------------------------------------------------

def train(name: str, *args: str, out: bool = True, tiny: bool = False, **kw) -> Case:
    return Case(f"train {name}", [*TRAIN, "ablation=aux", "variant=plain", *(TINY if tiny else []), *(OUT if out else []), *args], **kw)


def ablate(name: str, *args: str, **kw) -> Case:
    return Case(f"ablate {name}", [*ABLATE, *args], **kw)


def grid(name: str, *opts: str, overrides: tuple[str, ...] = (), tiny: bool = True, **kw) -> Case:
    """``ablate aux --seeds 1 <opts> -- <temp results> [tiny] <overrides>``: cheap if it ever trains."""
    return Case(f"ablate {name}", [*ABLATE, "aux", "--seeds", "1", *opts, "--", "results_dir={tmp}/res",
                                   "allow_outside_results=true", *(TINY if tiny else []), *overrides], **kw)


def push(name: str, *args: str, **kw) -> Case:
    return Case(f"wandb_push {name}", [*PUSH, "--runs", "{tmp}/res/runs", "--dir", "{tmp}/wandb", *args], **kw)


def make(name: str, *args: str, **kw) -> Case:
    return Case(f"make {name}", [*MAKE, *args], cwd="root", **kw)


def cases() -> list[Case]:
    bad_values = [
        # model (InceptionConfig)
        "model.width=-1", "model.width=2.01", "model.width=[0.5]", "model.width=''",
        "model.input_size=0", "model.input_size=-1", "model.input_size=25.5", "model.input_size=abc",
        "model.resolution=100", "model.stem=5x5", "model.aux=yes", "model.aux=true", "model.grid_reduction=best",
        "model.factorized_activation=tanh", "model.factorize_5x5=maybe", "model.asymmetric=2",
        "model.dropout=1", "model.dropout=-0.1", "model.num_classes=0", "model.in_chans=0",
        "model.stem_min_channels=0", "model.bn_eps=abc",
        # data
        "data.batch_size=32.5", "data.batch_size=true", "data.batch_size=-64", "data.eval_batch_size=0",
        "data.val_size=60000", "data.val_size=-5", "data.split_seed=-1", "data.train_subset=0",
        "data.val_subset=-1", "data.test_subset=abc", "data.in_chans=2", "data.hflip=sometimes",
        "data.num_workers=1.5", "data.download=maybe", "data.train_subset=100000",
        # optimizer
        "optimizer.lr=0", "optimizer.lr=inf", "optimizer.lr=abc", "optimizer.momentum=1", "optimizer.momentum=-0.1",
        "optimizer.weight_decay=-1", "optimizer.lr_decay_rate=0", "optimizer.lr_decay_rate=1.5",
        "optimizer.decay=1", "optimizer.eps=0", "optimizer.reference_batch=-1", "optimizer.epochs_per_decay=inf",
        # trainer
        "trainer.max_epochs=1.5", "trainer.max_epochs=-1", "trainer.num_nodes=0", "trainer.val_check_interval=0",
        "trainer.val_check_interval=-0.5", "trainer.checkpoint_every_minutes=-1", "trainer.checkpoint_every_n_steps=1.5",
        "trainer.gradient_clip_val=0", "trainer.threads=0", "trainer.threads=-1", "trainer.limit_val_batches=-1",
        "trainer.log_every_n_steps=abc", "trainer.deterministic=maybe", "trainer.compile=yes",
        "trainer.precision=bf17", "trainer.strategy=ddp_wrong", "trainer.devices=abc", "trainer.accelerator=tpu",
        # loss, ema, logger, scale, top level
        "loss.label_smoothing=-0.1", "loss.label_smoothing=abc", "loss.aux_weight=-1", "loss.aux_weight=nan",
        "ema.decay=-0.5", "ema.decay=abc", "logger=wandb logger.init_timeout=0", "scale.seeds=0",
        "seed=1e3", "seed=null", "seed=0x10", "allow_outside_results=maybe",
    ]
    out: list[Case] = [train(v, *v.split()) for v in bad_values]
    out += [
        # unknown keys, groups, override syntax
        train("model.depth=3", "model.depth=3"),
        train("+model.depth=3", "+model.depth=3"),
        train("+seed=1 (already there)", "+seed=1"),
        train("++data.foo=1", "++data.foo=1"),
        train("~model.width (deleted)", "~model.width"),
        train("optimizer=sgd optimizer.decay=0.9 (rmsprop's key)", "optimizer=sgd", "optimizer.decay=0.9"),
        train("logger=none logger.mode=offline", "logger=none", "logger.mode=offline"),
        train("model=resnet", "model=resnet"),
        train("data=imagenet", "data=imagenet"),
        train("optimizer=adam", "optimizer=adam"),
        train("scale=tpu", "scale=tpu"),
        train("logger=tensorboard", "logger=tensorboard"),
        train("trainer=fast", "trainer=fast"),
        train("loss=focal", "loss=focal"),
        train("model.width==0.5", "model.width==0.5"),
        train("=0.5", "=0.5"),
        train("model.width 0.5 (space)", "model.width", "0.5"),
        train("model.width={a:1}", "model.width={a:1}"),
        train("ablation=nope", "ablation=nope"),
        train("variant=huge", "variant=huge"),
        train("variant= (empty)", "variant="),
        train("ablation=adhoc variant=a;b", "ablation=adhoc", "variant=a;b"),
        train("--forse (typo)", "--forse"),
        train("--version", "--version"),
        # paths
        train("results_dir=/tmp elsewhere, no allow", "results_dir={tmp}/elsewhere", out=False),
        train("results_dir= (empty), from the checkout", "results_dir=", out=False, cwd="root"),
        train("run_dir=results/../../escape", "run_dir=results/../../escape", out=False, cwd="root"),
        train("run_dir=results/local/../../x", "run_dir=results/local/../../x", out=False, cwd="root"),
        train("default results_dir from another folder", "model.width=0.0625", out=False),
        train("data.root=/no/such/folder", "data.root=/no/such/folder", tiny=True),
        train("data.root=<empty folder>", "data.root={tmp}/empty", tiny=True, setup=write("empty/.keep", "")),
        train("data.root=<a file>", "data.root={tmp}/notes.txt", tiny=True, setup=write("notes.txt", "mine")),
        train("data.cache_dir=<a file>", "data.cache_dir={tmp}/notes.txt", tiny=True, setup=write("notes.txt", "mine")),
        train("data.root=<a folder of garbage .gz files>", "data.root={tmp}/fm", "data.cache_dir={tmp}/cache", tiny=True,
              setup=both(*(write(f"fm/{n}.gz", b"\x1f\x8bgarbage") for n in
                           ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")))),
        train("results_dir=<a file>", "results_dir={tmp}/notes.txt/results", "allow_outside_results=true", out=False,
              tiny=True, setup=write("notes.txt", "mine")),
        train("--force run_dir=<folder with my files>", "--force", "run_dir={tmp}/mine", "allow_outside_results=true",
              out=False, tiny=True, setup=write("mine/notes.txt", "precious")),
        train("--force over another run's record", "--force", "results_dir={tmp}/res", "allow_outside_results=true",
              out=False, tiny=True, setup=study_copy("res/runs/cpu/aux/plain/seed0")),
        train("--force run_dir=results (the committed study root)", "--force", "run_dir=results", out=False, tiny=True,
              cwd="root"),
        train("changed config over the committed study record", "variant=bn", "results_dir=results", "data.val_subset=32",
              out=False, cwd="root"),
        train("data=imagefolder scale=gpu data.root=<empty>", "data=imagefolder", "scale=gpu", "data.root={tmp}/empty",
              setup=write("empty/.keep", "")),
        train("scale=gpu (no GPU here)", "scale=gpu"),
        train("garbage checkpoint", "results_dir={tmp}/res", "allow_outside_results=true", out=False, tiny=True,
              setup=write("res/runs/cpu/aux/plain/seed0/checkpoints/last.ckpt", b"\x80\x02garbage" * 10)),
        train("empty checkpoint", "results_dir={tmp}/res", "allow_outside_results=true", out=False, tiny=True,
              setup=write("res/runs/cpu/aux/plain/seed0/checkpoints/last.ckpt", b"")),
        train("checkpoint is a folder", "results_dir={tmp}/res", "allow_outside_results=true", out=False, tiny=True,
              setup=write("res/runs/cpu/aux/plain/seed0/checkpoints/last.ckpt/x", "x")),
        train("summary.json not JSON in the run folder", "results_dir={tmp}/res", "allow_outside_results=true", out=False,
              tiny=True, setup=write("res/runs/cpu/aux/plain/seed0/summary.json", '{"status": "compl')),
        train("summary.json is a list", "results_dir={tmp}/res", "allow_outside_results=true", out=False, tiny=True,
              setup=write("res/runs/cpu/aux/plain/seed0/summary.json", "[1, 2]")),
        train("run folder is a file", "results_dir={tmp}/res", "allow_outside_results=true", out=False, tiny=True,
              setup=write("res/runs/cpu/aux/plain/seed0", "not a folder")),
        train("broken configs/train.yaml", env=CONFIGS_ENV, setup=configs_copy(replace_file("train.yaml", "defaults: [model: {\n"))),
        train("INCEPTION_REPRO_CONFIGS=/no/such", env={"INCEPTION_REPRO_CONFIGS": "/no/such/configs"}),
        # --cfg and --help
        train("--cfg (no value)", "--cfg"),
        train("--cfg hydra", "--cfg", "hydra"),
        train("--cfg all", "--cfg", "all"),
        train("--cfg job model.width=abc", "--cfg", "job", "model.width=abc"),
        train("--cfg=job", "--cfg=job"),
        train("--cfg job", "--cfg", "job", expect_error=False),
        train("--help", "--help", out=False, expect_error=False),
        train("-h model.width=abc", "-h", "model.width=abc", out=False, expect_error=False),
        # bad values found only once a (tiny) run starts
        train("model.width=1e-9 (tiny run)", "model.width=1e-9", tiny=True),
        train("model.bn_eps=-1 (tiny run)", "model.bn_eps=-1", tiny=True),
        train("model.bn_momentum=5 (tiny run)", "model.bn_momentum=5", tiny=True),
        train("trainer.val_check_interval=5.0 (tiny run)", "trainer.val_check_interval=5.0", tiny=True),
        train("trainer.devices=-5 (tiny run)", "trainer.devices=-5", tiny=True),
        train("trainer.devices=0 (tiny run)", "trainer.devices=0", tiny=True),
        train("trainer.strategy=ddp (tiny run)", "trainer.strategy=ddp", tiny=True),
        train("trainer.limit_train_batches=1000 (tiny run)", "trainer.limit_train_batches=1000", tiny=True),
        # ablate: names, options
        ablate("(no ablation)"),
        ablate("--seeds 2 (no ablation)", "--seeds", "2"),
        ablate("nope", "nope"),
        ablate("aux nope", "aux", "nope", cwd="root"),
        ablate("AUX", "AUX"),
        ablate("aux.yaml", "aux.yaml"),
        ablate("configs/ablations/aux", "configs/ablations/aux"),
        ablate("aux,label_smoothing", "aux,label_smoothing"),
        ablate("aux --seeds 0", "aux", "--seeds", "0", "--", *OUT),
        ablate("aux --seeds -1", "aux", "--seeds", "-1", "--", *OUT),
        ablate("aux --seeds a", "aux", "--seeds", "a", "--", *OUT),
        ablate("aux --seeds 1000000", "aux", "--seeds", "1000000", "--", *OUT),
        ablate("aux --seeds 1,1", "aux", "--seeds", "1,1", "--", *OUT),
        ablate("aux --seeds ''", "aux", "--seeds", "", "--", *OUT),
        ablate("aux --seeds 1.5", "aux", "--seeds", "1.5", "--", *OUT),
        ablate("aux --seeds 4294967296", "aux", "--seeds", "4294967296", "--", *OUT),
        ablate("aux --seeds 0,-3", "aux", "--seeds", "0,-3", "--", *OUT),
        ablate("aux --seeds (no value)", "aux", "--seeds"),
        ablate("aux --sedes 2", "aux", "--sedes", "2"),
        grid("--jobs 0", "--jobs", "0"),
        grid("--jobs -2", "--jobs", "-2"),
        grid("--jobs abc", "--jobs", "abc"),
        grid("--jobs 2 trainer.threads=null", "--jobs", "2", overrides=("trainer.threads=null",)),
        grid("--store mine", "--store", "mine"),
        grid("--store ''", "--store", ""),
        grid("--scale tpu", "--scale", "tpu"),
        grid("--scale gpu (no GPU here)", "--scale", "gpu", tiny=False, overrides=("logger=none",)),
        grid("--launcher slurm (no sbatch)", "--launcher", "slurm"),
        grid("--launcher k8s", "--launcher", "k8s"),
        grid("-- seed=3", overrides=("seed=3",)),
        grid("-- +seed=3", overrides=("+seed=3",)),
        grid("-- variant=bn", overrides=("variant=bn",)),
        grid("-- ablation=aux", overrides=("ablation=aux",)),
        grid("-- run_dir=x", overrides=("run_dir={tmp}/x",)),
        grid("-- --seeds 2 (option after --)", overrides=("--seeds", "2")),
        grid("-- model.aux=deep", overrides=("model.aux=deep",)),
        grid("-- optimizer=adam", overrides=("optimizer=adam",)),
        grid("-- model.width=abc", overrides=("model.width=abc",)),
        ablate("aux --force --retry-failed over a broken record", "aux", "--seeds", "1", "--force", "--retry-failed", "--",
               "results_dir={tmp}/res", "allow_outside_results=true", *TINY,
               setup=write("res/runs/cpu/aux/bn/seed0/summary.json", "not json")),
        ablate("all --seeds 1 -- model.depth=3", "all", "--seeds", "1", "--", *OUT, "model.depth=3"),
        ablate("aux --store study -- data.val_subset=32 (the committed study)", "aux", "--store", "study", "--seeds", "1",
               "--", "data.val_subset=32", "logger=none", cwd="root"),
        ablate("aux --help", "aux", "--help", expect_error=False),
        # malformed records under a grid
        grid("over summary.json not JSON", setup=edit_record("summary.json", lambda t: t[: len(t) // 2])),
        grid("over summary.json empty", setup=edit_record("summary.json", lambda t: "")),
        grid("over summary.json test_top1='x'", setup=edit_record("summary.json", summary_with(test_top1="x"))),
        grid("over summary.json status='bogus'", setup=edit_record("summary.json", summary_with(status="bogus"))),
        grid("over summary.json seed='zero'", setup=edit_record("summary.json", summary_with(seed="zero"))),
        grid("over summary.json with an unknown field", setup=edit_record("summary.json", summary_with(colour="blue"))),
        grid("over summary.json without status", setup=edit_record("summary.json", summary_with(status=None))),
        grid("over a run folder that is a file", setup=write("res/runs/cpu/aux/bn/seed0", "x")),
        grid("over an ablation folder that is a file", setup=write("res/runs/cpu/aux", "x")),
        # malformed ablation YAML (a copy of configs/ through INCEPTION_REPRO_CONFIGS)
        *(Case(f"ablate aux over ablation YAML: {label}", [*ABLATE, "aux", "--seeds", "1", "--", *OUT, *TINY],
               env=CONFIGS_ENV, setup=configs_copy(edit))
          for label, edit in [
              ("not YAML", replace_file("ablations/aux.yaml", "name: aux\nvariants: {bn: [a\n")),
              ("empty", replace_file("ablations/aux.yaml", "")),
              ("a list", replace_file("ablations/aux.yaml", "- aux\n- bn\n")),
              ("no control", aux_yaml("control: plain\n", "")),
              ("unknown key", aux_yaml("variants:", "variantz:")),
              ("variants a list", aux_yaml("variants:\n  none: [model.aux=none]\n  plain: [model.aux=plain]\n  bn: [model.aux=bn]",
                                           "variants: [none, plain, bn]")),
              ("name mismatch", aux_yaml("name: aux", "name: auxiliary")),
              ("variant override of an unknown key", aux_yaml("bn: [model.aux=bn]", "bn: [model.depth=3]")),
              ("variant override of a bad value", aux_yaml("bn: [model.aux=bn]", "bn: [model.aux=deep]")),
              ("variant named ../x", aux_yaml("bn: [model.aux=bn]", "../x: [model.aux=bn]")),
              ("control not a variant", aux_yaml("control: plain\n", "control: deep\n")),
              ("paper_delta: lots", aux_yaml("paper_delta: 0.4", "paper_delta: lots")),
          ]),
        Case("ablate aux over an ablation YAML that is a folder", [*ABLATE, "aux", "--seeds", "1", "--", *OUT, *TINY],
             env=CONFIGS_ENV, setup=configs_copy(lambda c: ((c / "ablations" / "aux.yaml").unlink(),
                                                            (c / "ablations" / "aux.yaml").mkdir()))),
        # the readers: make wandb-push's command over malformed records
        push("summary.json not JSON", setup=edit_record("summary.json", lambda t: t[:40])),
        push("summary.json a list", setup=edit_record("summary.json", lambda t: "[]")),
        push("summary.json test_top1='x'", setup=edit_record("summary.json", summary_with(test_top1="x"))),
        push("metrics.csv cut in half", setup=edit_record("metrics.csv", lambda t: t[: len(t) // 2])),
        push("metrics.csv bad cell", setup=edit_record("metrics.csv", metrics_cell(4, "val/top1", "abc"))),
        push("metrics.csv empty", setup=edit_record("metrics.csv", lambda t: "")),
        push("metrics.csv binary garbage", setup=edit_record("metrics.csv", lambda t: "\x00\xff" * 50)),
        push("config.yaml not YAML", setup=edit_record("config.yaml", lambda t: "model: {width: [\n")),
        push("config.yaml missing", setup=both(study_copy(), lambda tmp: (tmp / "res/runs/cpu/aux/bn/seed0/config.yaml").unlink())),
        push("--mode disabled", "--mode", "disabled", setup=study_copy()),
        push("--mode loud", "--mode", "loud", setup=study_copy()),
        push("--scale tpu", "--scale", "tpu", setup=study_copy()),
        push("nope (unknown ablation)", "nope", setup=study_copy()),
        push("--runs missing"),
        Case("wandb_push --runs <a file>", [*PUSH, "--runs", "{tmp}/notes.txt", "--dir", "{tmp}/wandb"], setup=write("notes.txt", "mine")),
        Case("wandb_push --bogus", [*PUSH, "--bogus"]),
        Case("wandb_reports nope", [*REPORT, "nope"]),
        Case("wandb_reports --scale (no value)", [*REPORT, "--scale"]),
        Case("wandb_reports --results <missing>", [*REPORT, "--results", "{tmp}/missing"]),
        Case("data.provide data.cache_dir=<a file>", [*PROVIDE, "data.cache_dir={tmp}/notes.txt"], setup=write("notes.txt", "mine")),
        Case("data.provide data.root=/no/such", [*PROVIDE, "data.root=/no/such", "data.cache_dir={tmp}/cache"]),
        Case("cost_table --out-dir <a file>", [*COSTS, "--out-dir", "{tmp}/notes.txt"], setup=write("notes.txt", "mine")),
        # make: the Makefile's variables, each refused during validation
        make("ablation-aux SEEDS=abc", "ablation-aux", "SEEDS=abc"),
        make("ablation-aux SEEDS=-1", "ablation-aux", "SEEDS=-1"),
        make("ablation-aux SEEDS=0,0", "ablation-aux", "SEEDS=0,0"),
        make("ablation-aux FORCE=yes", "ablation-aux", "FORCE=yes"),
        make("ablation-aux RETRY_FAILED=true", "ablation-aux", "RETRY_FAILED=true"),
        make("ablation-aux JOBS=0", "ablation-aux", "JOBS=0", "SEEDS=1", "ARGS=results_dir={tmp}/res allow_outside_results=true logger=none"),
        make("ablation-aux JOBS=abc", "ablation-aux", "JOBS=abc"),
        make("ablation-aux SCALE=nope", "ablation-aux", "SCALE=nope"),
        make("ablation-aux STORE=mine", "ablation-aux", "STORE=mine"),
        make("ablation-aux LAUNCHER=k8s", "ablation-aux", "LAUNCHER=k8s"),
        make("ablation-aux LAUNCHER=slurm (no sbatch)", "ablation-aux", "LAUNCHER=slurm", "SEEDS=1",
             "ARGS=results_dir={tmp}/res allow_outside_results=true logger=none"),
        make("ablation-aux ARGS=seed=3", "ablation-aux", "ARGS=seed=3"),
        make("ablation-aux ARGS=model.depth=3", "ablation-aux", "ARGS=model.depth=3"),
        make("ablation-nope", "ablation-nope"),
        make("ablations SEEDS=1000000", "ablations", "SEEDS=1000000"),
        make("smoke ARGS=model.width=abc", "smoke", "ARGS=model.width=abc"),
        make("data ARGS=data.cache_dir=<a file>", "data", "ARGS=data.cache_dir={tmp}/notes.txt", setup=write("notes.txt", "mine")),
        make("wandb-push SCALE=tpu", "wandb-push", "SCALE=tpu"),
    ]
    return out


# --- running and counting -------------------------------------------------------------------------

def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime) of every file under ``folder`` (its runs' empty lock files left out)."""
    found = {}
    for dirpath, _, files in os.walk(folder):
        for name in files:
            path = Path(dirpath) / name
            if path.suffix == ".lock":
                continue
            try:
                st = path.lstat()
            except FileNotFoundError:
                continue
            found[str(path)] = (st.st_size, st.st_mtime_ns)
    return found


# An unexpected error appends its traceback here (cli.write_crash_log): counted as 'unexpected', not as
# data loss (and with 2 inputs at once it would be blamed on whichever input ran beside it).
CRASH_LOG = str(RESULTS / "local" / "crash.log")


def diff(before: dict, after: dict) -> tuple[list[str], list[str]]:
    """(changed or deleted, new) paths; results/local/crash.log growing is not data loss."""
    lost = [f"{'changed' if p in after else 'deleted'} {p}" for p, v in before.items()
            if after.get(p) != v and not (p == CRASH_LOG and p in after and after[p][0] >= v[0])]
    return lost, sorted(set(after) - set(before))


def substitute(text: str, tmp: Path) -> str:
    return text.replace("{tmp}", str(tmp)).replace("{root}", str(ROOT))


_results_lock = threading.Lock()


def run_case(case: Case, timeout: float, keep: bool) -> Outcome:
    tmp = Path(tempfile.mkdtemp(prefix="careless-"))
    try:
        if case.setup:
            case.setup(tmp)
        tmp_before = snapshot(tmp)
        results_before = snapshot(RESULTS)
        env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
               **{k: substitute(v, tmp) for k, v in case.env.items()}}
        argv = [substitute(a, tmp) for a in case.argv]
        start = time.monotonic()
        proc = subprocess.Popen(argv, cwd=tmp if case.cwd == "tmp" else ROOT, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
                                start_new_session=True)
        hung = False
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            hung = True
            for sig in (signal.SIGTERM, signal.SIGKILL):  # the input's own process group only
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    stdout, stderr = proc.communicate(timeout=10)
                    break
                except subprocess.TimeoutExpired:
                    continue
        seconds = time.monotonic() - start
        lost_tmp, new_tmp = diff(tmp_before, snapshot(tmp))
        lost_res, new_res = diff(results_before, snapshot(RESULTS))
        text = f"{stdout}\n{stderr}"
        return Outcome(
            case=case, status=None if hung else proc.returncode, seconds=seconds,
            error_lines=[line for line in stderr.splitlines() if ERROR_LINE.match(line)],
            traceback="Traceback" in text, unexpected="error: unexpected" in text, hung=hung,
            lost=[*lost_res, *(x.replace(str(tmp), "{tmp}") for x in lost_tmp)],
            new=[str(Path(p).relative_to(ROOT)) for p in new_res],
            tail=[line for line in text.strip().splitlines() if line.strip()][-5:],
        )
    finally:
        if keep:
            print(f"kept {tmp} for {case.name}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def tracked_changes() -> list[str]:
    """``git status`` lines of tracked files (committed files changed or deleted)."""
    done = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.splitlines()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run only the inputs whose name contains this")
    parser.add_argument("--jobs", type=int, default=2, choices=(1, 2), help="inputs run at once (default 2)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds before an input counts as a hang")
    parser.add_argument("--keep", action="store_true", help="keep each input's temp folder")
    parser.add_argument("--list", action="store_true", help="list the inputs and exit")
    args = parser.parse_args()
    todo = [c for c in cases() if not args.only or args.only in c.name]
    names = [c.name for c in todo]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})
    if args.list:
        for c in todo:
            print(f"{c.name}:  {' '.join(c.argv[2:] if c.argv[0] == PY else c.argv)}")
        print(f"{len(todo)} inputs")
        return 0
    git_before = tracked_changes()
    results_before = snapshot(RESULTS)
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run_case, c, args.timeout, args.keep) for c in todo]
        outcomes = []
        for i, f in enumerate(futures, 1):
            o = f.result()
            outcomes.append(o)
            shown = o.error_lines[0] if o.error_lines else (o.tail[-1] if o.tail else "")
            rc = "hang" if o.hung else o.status
            print(f"{i:3d} {o.verdict:7s} rc={rc!s:4s} {o.seconds:5.1f}s  {o.case.name:58.58s}  {shown[:150]}", flush=True)
    lost_all, new_all = diff(results_before, snapshot(RESULTS))
    git_after = tracked_changes()
    counts = {v: sum(o.verdict == v for o in outcomes) for v in ("CLEAR", "WORKS", "FAILURE")}
    print(f"\n{len(outcomes)} inputs in {time.monotonic() - start:.0f} s: " + ", ".join(f"{n} {v}" for v, n in counts.items()))
    print("issue criteria: " + ", ".join(f"{sum(w in o.failures for o in outcomes)} {w}" for w in
                                          ("unexpected", "traceback", "hang", "data loss")))
    accepted = [o for o in outcomes if o.case.expect_error and o.status == 0]
    if accepted:
        print(f"\naccepted (exit 0) though a careless input, worth a look: {', '.join(o.case.name for o in accepted)}")
    noted = [o for o in outcomes if o.new]
    for o in noted:
        print(f"note: {o.case.name} left new files in the checkout's results/: {', '.join(o.new[:5])}")
    failures = [o for o in outcomes if o.failures]
    for o in failures:
        argv = " ".join(o.case.argv)
        print(f"\nFAILURE ({', '.join(o.failures)}): {o.case.name}\n  command: {argv}\n  cwd: {o.case.cwd}"
              f"{'  env: ' + str(o.case.env) if o.case.env else ''}\n  exit: {'hang' if o.hung else o.status}")
        for line in o.lost:
            print(f"  lost: {line}")
        for line in o.tail:
            print(f"  | {line[:400]}")
    whole = [f"results/: {x}" for x in lost_all] + [f"git: {x}" for x in git_after if x not in git_before]
    if whole:
        print("\ncommitted or recorded files changed during the run:\n  " + "\n  ".join(whole))
    return 1 if failures or whole else 0


if __name__ == "__main__":
    sys.exit(main())
