"""Shared fixtures: real Fashion-MNIST (Debian's package, $FASHION_MNIST_ROOT or data/), small fast runs.

Tests marked ``needs_fashion_mnist`` FAIL, never skip, when the data is missing: ``make test`` provides
it first; ``make test-nodata`` (``pytest -m "not fashion_mnist"``) runs only the tests without data.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from inception_repro.data import DEBIAN_FASHION_MNIST_DIR
from inception_repro.data.fashion_mnist_files import FILES
from inception_repro.provenance import project_root
from inception_repro.store import run_path

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

needs_fashion_mnist = pytest.mark.fashion_mnist
DOWNLOADED = project_root() / "data" / "FashionMNIST" / "raw"  # where `make data` downloads without apt


def _has_gz_files(folder: Path) -> bool:
    return all((folder / f"{name}.gz").is_file() for name in FILES)


def fashion_mnist_gz_dir() -> Path | None:
    """A folder with the four gzipped IDX files: $FASHION_MNIST_ROOT, Debian's package, or `make data`'s
    download; None if there is none."""
    candidates = [Path(os.environ["FASHION_MNIST_ROOT"])] if os.environ.get("FASHION_MNIST_ROOT") else []
    return next((d for d in [*candidates, DEBIAN_FASHION_MNIST_DIR, DOWNLOADED] if _has_gz_files(d)), None)


def pytest_collection_modifyitems(items):
    """Files with a test marked ``slow`` first (a stable sort), so that pytest-xdist starts the long
    files while the short ones fill in around them, instead of ending on one long file."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)


def pytest_runtest_setup(item):
    if item.get_closest_marker("fashion_mnist") and fashion_mnist_gz_dir() is None:
        pytest.fail(
            "Fashion-MNIST not found (no $FASHION_MNIST_ROOT, no /usr/share/datasets/fashion-mnist, no data/): "
            "run `make data` first, or `make test-nodata` for the tests that need no data",
            pytrace=False,
        )


TINIER_SUBSETS = ["data.train_subset=16", "data.batch_size=8", "data.val_subset=16", "data.test_subset=16",
                  "data.eval_batch_size=16"]
"""Appended to `tiny_run_overrides`: smaller still, 2 steps of 8 images, 16 val and test images."""


def tiny_run_overrides(results_dir, cache_dir) -> list[str]:
    """A real training run on a Fashion-MNIST subset, a handful of steps at the study width (1/16), validated twice."""
    root = fashion_mnist_gz_dir()
    return [
        "scale=cpu",
        f"results_dir={results_dir}",
        "allow_outside_results=true",
        f"data.cache_dir={cache_dir}",
        *([f"data.root={root}"] if root else []),
        "model.width=0.0625",
        "data.batch_size=16",
        "data.eval_batch_size=64",
        "data.train_subset=64",
        "data.val_subset=64",
        "data.test_subset=64",
        "trainer.max_epochs=1",
        "trainer.val_check_interval=0.5",  # twice an epoch (the cpu scale's tenth would be every step here)
        "trainer.log_every_n_steps=1",
        "logger=none",
    ]


@pytest.fixture(scope="session")
def fmnist_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("fmnist-cache")


def short_run_overrides(results_dir, cache_dir) -> list[str]:
    """``tiny_run_overrides`` over 12 steps (96 images, two epochs), a checkpoint every 3, deterministic."""
    return [
        *tiny_run_overrides(results_dir, cache_dir), "data.train_subset=96", "trainer.max_epochs=2",
        "trainer.checkpoint_every_n_steps=3", "trainer.deterministic=true",
    ]


def run_folder(results_dir, ablation: str = "aux", variant: str = "bn", seed: int = 0, scale: str = "cpu"):
    return run_path(results_dir, scale, ablation, variant, seed)


@pytest.fixture(scope="session", autouse=True)
def one_thread_per_test_process():
    """Every test trains on one thread, here and in the processes it starts (OMP_NUM_THREADS=1): a run
    and its resumed copy use the same kernels, so they compare bitwise. Under pytest-xdist each worker
    also keeps to cores of its own (os.sched_setaffinity, inherited by the runs it starts), so the
    workers never stall each other and a grid sees the cores its worker has, as on a smaller machine."""
    previous_env, previous_threads = os.environ.get("OMP_NUM_THREADS"), torch.get_num_threads()
    previous_cores = os.sched_getaffinity(0)
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    worker, workers = os.environ.get("PYTEST_XDIST_WORKER"), int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    cores = sorted(previous_cores)
    if worker and len(cores) >= workers > 1:
        os.sched_setaffinity(0, cores[int(worker.removeprefix("gw")) % workers::workers])
    yield
    os.sched_setaffinity(0, previous_cores)
    torch.set_num_threads(previous_threads)
    if previous_env is None:
        os.environ.pop("OMP_NUM_THREADS")
    else:
        os.environ["OMP_NUM_THREADS"] = previous_env


def _logged_steps(metrics: Path) -> list[int]:
    try:
        with open(metrics, newline="") as f:
            return [int(float(row["step"])) for row in csv.DictReader(f)]
    except FileNotFoundError:
        return []


def kill_once_logged(module: str, argv: list[str], metrics: Path, step: int, log: Path) -> None:
    """Start ``python -m module argv``; SIGKILL its whole process group (the run and any DDP ranks it
    started), as a preemption would, once ``metrics`` has a row at ``step`` or later."""
    status = signal_once_logged(module, argv, metrics, step, log, signal.SIGKILL)
    assert status == -signal.SIGKILL, log.read_text()[-3000:]


def _default_sigint() -> None:
    """A child started from a background job inherits SIGINT ignored, and Python then never raises
    KeyboardInterrupt: give it the default, as a terminal's Ctrl-C finds it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def signal_once_logged(module: str, argv: list[str], metrics: Path, step: int, log: Path, signum: int) -> int:
    """Start ``python -m module argv``; send ``signum`` to its whole process group once ``metrics`` has
    a row at ``step`` or later; its exit status (stderr in ``log``)."""
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    with open(log, "w") as err:
        child = subprocess.Popen([sys.executable, "-m", module, *argv], stdout=subprocess.DEVNULL, stderr=err,
                                 env=env, start_new_session=True, preexec_fn=_default_sigint)
        deadline = time.monotonic() + 300
        while child.poll() is None and time.monotonic() < deadline:
            if any(s >= step for s in _logged_steps(metrics)):
                os.killpg(child.pid, signum)
                break
            time.sleep(0.002)
        return child.wait(timeout=300)


@pytest.fixture
def fresh_wandb():
    """wandb reads its environment once per process; let it read this test's."""
    import wandb

    wandb.teardown()
    yield
    wandb.teardown()


@pytest.fixture
def no_wandb_login(monkeypatch, tmp_path, fresh_wandb):
    """A user who never ran `wandb login`: no key in the environment, no netrc, no wandb settings."""
    home = tmp_path / "home"
    home.mkdir()
    for name in ("WANDB_API_KEY", "WANDB_IDENTITY_TOKEN_FILE", "WANDB_BASE_URL", "WANDB_MODE", "NETRC"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(home / ".config" / "wandb"))
    return home


class StandIn:
    """A W&B server stand-in on loopback: records each request and refuses it (401), as a server
    refusing the key would; nothing beyond this machine is contacted."""

    def __init__(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[dict] = []
        requests = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                requests.append({"method": self.command, "path": self.path, "body": body,
                                 "authorization": self.headers.get("Authorization")})
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"errors": [{"message": "the stand-in refuses every key"}]}')

            do_GET = do_PUT = do_POST

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self):
        import threading

        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def wandb_standin(no_wandb_login, monkeypatch):
    """WANDB_BASE_URL at a loopback stand-in and a well-formed key in WANDB_API_KEY. wandb's service
    is stopped while the stand-in still answers, so that its last requests do not wait on a closed port."""
    import wandb

    with StandIn() as standin:
        monkeypatch.setenv("WANDB_BASE_URL", standin.url)
        monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
        yield standin
        wandb.teardown()


def error_line(capsys) -> str:
    """The one ``error:`` line a command printed on stderr; no traceback."""
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]
