"""Provide Fashion-MNIST before a command needs it: ``python -m inception_repro.data.provide [overrides]``.

The Makefile's commands call it first. If the data is already there (``data.root``, the unpacked
copy in ``data.cache_dir``, Debian's /usr/share/datasets/fashion-mnist) nothing is done. Otherwise
Debian's package ``dataset-fashion-mnist`` is installed with apt-get when running as root with apt
available, else torchvision downloads it into ``data.cache_dir``. When neither works the command
prints one line naming ``data.root`` and exits 2. Overrides other than ``data=``, ``data.root=``
and ``data.cache_dir=`` are ignored, so a command's own overrides can be passed through.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable

from omegaconf import OmegaConf

from inception_repro.cli import run_cli
from inception_repro.data.fashion_mnist_files import resolve_fashion_mnist
from inception_repro.errors import DatasetNotFoundError
from inception_repro.paths import CONFIG_DIR

APT_PACKAGE = "dataset-fashion-mnist"
Runner = Callable[[list[str]], int]


def run_quietly(command: list[str]) -> int:
    """Run ``command`` (apt-get) non-interactively; its exit status."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=False).returncode


def install_with_apt(apt_get: str, run: Runner) -> str | None:
    """``apt-get update`` then install the package; None on success, else what failed."""
    for command in ([apt_get, "update", "-qq"], [apt_get, "install", "-y", "-qq", APT_PACKAGE]):
        code = run(command)
        if code != 0:
            return f"`{' '.join(command[1:])}` exited {code}"
    return None


def provide(root: str | None, cache_dir: str, is_root: bool, apt_get: str | None, run: Runner = run_quietly) -> str:
    """Make Fashion-MNIST readable for ``data.root`` / ``data.cache_dir``; say how (present, apt, download).

    ``is_root`` and ``apt_get`` (its path, or None) decide whether apt is tried. Raises
    ``DatasetNotFoundError`` with one line naming data.root when no way worked.
    """
    if root is not None:  # the user's own copy: use it or say what is wrong with it, fetch nothing
        resolve_fashion_mnist(root, cache_dir, download=False)
        return f"present in data.root={root}"
    try:
        resolve_fashion_mnist(None, cache_dir, download=False)
        return "present"
    except DatasetNotFoundError:
        pass
    tried = []
    if not is_root or apt_get is None:
        tried.append(f"apt-get {APT_PACKAGE}: {'no apt-get' if apt_get is None else 'not root'}")
    else:
        failure = install_with_apt(apt_get, run)
        if failure is None:
            resolve_fashion_mnist(None, cache_dir, download=False)
            return f"installed Debian's {APT_PACKAGE}"
        tried.append(f"apt-get {APT_PACKAGE}: {failure}")
    try:
        return f"downloaded into {resolve_fashion_mnist(None, cache_dir, download=True)}"
    except DatasetNotFoundError as error:
        cause = error.__cause__
        tried.append(f"torchvision download: {' '.join(str(cause).split()) if cause else 'failed'}")
    raise DatasetNotFoundError(
        f"Fashion-MNIST is not available ({'; '.join(tried)}); put the four *-ubyte.gz files in a folder "
        "and pass data.root=<dir> (with make: ARGS='data.root=<dir>')"
    )


def data_settings(overrides: list[str]) -> tuple[str | None, str, str]:
    """(data.root, data.cache_dir, data config name) from the overrides over configs/data's defaults."""
    given = dict(o.split("=", 1) for o in overrides if "=" in o)
    name = given.get("data", "fashion_mnist")
    defaults = OmegaConf.load(CONFIG_DIR / "data" / "fashion_mnist.yaml")
    root = given.get("data.root", defaults.root)
    return (None if root in (None, "null") else root), given.get("data.cache_dir", defaults.cache_dir), name


def main(argv: list[str] | None = None) -> int:
    def run(args: list[str]) -> int:
        root, cache_dir, name = data_settings([a for a in args if a != "--"])
        if name != "fashion_mnist":
            return 0  # another dataset (data=imagefolder): the user's own files
        how = provide(root, cache_dir, is_root=os.geteuid() == 0, apt_get=shutil.which("apt-get"))
        print(f"Fashion-MNIST: {how}")
        return 0

    return run_cli(run, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
