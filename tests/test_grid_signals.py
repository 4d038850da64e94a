"""A grid's worker processes never outlive it: a SIGTERM to the grid stops them after each saved its
run's checkpoint (exit 143, one line), a SIGKILL of the grid makes them stop the same way, and the
same command then resumes every run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import needs_fashion_mnist, run_folder, short_run_overrides

pytestmark = [needs_fashion_mnist, pytest.mark.slow]


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _rows(history: Path) -> int:
    return len(history.read_text().splitlines()) if history.is_file() else 0


def _start_grid(tmp_path: Path, fmnist_cache: Path) -> tuple[subprocess.Popen, list[str], list[int]]:
    """``ablate aux --jobs 2``, once both workers train (new history rows in two run folders); the grid and its workers."""
    argv = ["aux", "--seeds", "1", "--jobs", "2", "--", *short_run_overrides(tmp_path, fmnist_cache),
            "trainer.checkpoint_every_n_steps=1"]
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    with open(tmp_path / "grid.log", "w") as log:
        grid = subprocess.Popen([sys.executable, "-m", "inception_repro.ablate", *argv], stdout=subprocess.DEVNULL,
                                stderr=log, env=env, start_new_session=True)
    histories = [run_folder(tmp_path, variant=v) / "metrics.csv" for v in ("none", "plain", "bn")]
    before = [_rows(h) for h in histories]  # a resumed grid's runs have rows already
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and grid.poll() is None:
        if sum(_rows(h) > max(n, 1) for h, n in zip(histories, before)) >= 2:
            break
        time.sleep(0.01)
    workers = [pid for pid in _children(grid.pid) if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text()]
    assert grid.poll() is None and len(workers) == 2, (tmp_path / "grid.log").read_text()[-2000:]
    return grid, argv, workers


def _gone(workers: list[int]) -> None:
    deadline = time.monotonic() + 120
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in workers), "grid workers outlived the grid"


def _statuses(tmp_path: Path) -> list[str]:
    summaries = [run_folder(tmp_path, variant=v) / "summary.json" for v in ("none", "plain", "bn")]
    return [json.loads(s.read_text())["status"] for s in summaries if s.is_file()]


def test_a_stopped_or_killed_grid_takes_its_workers_with_it_and_resumes(tmp_path, fmnist_cache):
    """SIGTERM: exit 143, one line, workers gone; started again and then killed with SIGKILL: workers
    gone; started a third time: every run complete."""
    grid, argv, workers = _start_grid(tmp_path, fmnist_cache)
    grid.send_signal(signal.SIGTERM)
    assert grid.wait(timeout=120) == 143
    errors = [row for row in (tmp_path / "grid.log").read_text().splitlines() if row.startswith("error:")]
    assert errors == ["error: the grid was stopped by SIGTERM; each run in training saved its checkpoint: "
                      "run the same command to resume"], (tmp_path / "grid.log").read_text()[-2000:]
    _gone(workers)
    assert "incomplete" in _statuses(tmp_path)

    grid, argv, workers = _start_grid(tmp_path, fmnist_cache)
    grid.kill()
    assert grid.wait(timeout=60) == -signal.SIGKILL
    _gone(workers)
    assert "incomplete" in _statuses(tmp_path)

    rerun = subprocess.run([sys.executable, "-m", "inception_repro.ablate", *argv], capture_output=True, text=True,
                           env={**os.environ, "WANDB_MODE": "offline"}, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert _statuses(tmp_path) == ["complete"] * 3
