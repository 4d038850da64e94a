"""Find Fashion-MNIST on disk (or download it) and return a root that torchvision's FashionMNIST reads."""

from __future__ import annotations

import os
from pathlib import Path

from torchvision import datasets

from inception_repro.data.idx import idx_problem, unpack_idx
from inception_repro.errors import ConfigError, DatasetCorruptError, DatasetNotFoundError

DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
"""Where Debian's `dataset-fashion-mnist` package installs the four gzipped IDX files."""

FILES: dict[str, tuple[int, ...]] = {
    "train-images-idx3-ubyte": (60000, 28, 28),
    "train-labels-idx1-ubyte": (60000,),
    "t10k-images-idx3-ubyte": (10000, 28, 28),
    "t10k-labels-idx1-ubyte": (10000,),
}


def resolve_fashion_mnist(root: str | Path | None, cache_dir: str | Path, download: bool) -> Path:
    """Return a directory `d` with valid IDX files in `d/FashionMNIST/raw/`.

    Looks, in order, at: `root` (torchvision layout, used in place; or a folder holding the four
    `*-ubyte[.gz]` files, unpacked into `cache_dir`); an already unpacked copy in `cache_dir`;
    `DEBIAN_FASHION_MNIST_DIR` (unpacked into `cache_dir`); a torchvision download into `cache_dir`.
    A relative `cache_dir` is taken from `cache_home()`, whatever the current directory.
    """
    cache_dir = cache_home() / cache_dir  # an absolute cache_dir stays as it is
    if cache_dir.exists() and not cache_dir.is_dir():
        raise ConfigError(f"data.cache_dir={cache_dir} is a file, not a folder: point data.cache_dir at a folder "
                          "(by default data/ in the project), or move that file away")
    if root is not None:
        return _from_root(Path(root), cache_dir)
    if all(idx_problem(raw_dir(cache_dir) / name, dims) is None for name, dims in FILES.items()):
        return cache_dir
    sources = _find_sources(DEBIAN_FASHION_MNIST_DIR)
    if sources:
        _unpack_all(sources, cache_dir)
        return cache_dir
    if download:
        return _download(cache_dir)
    raise DatasetNotFoundError(_not_found(f"no copy in {DEBIAN_FASHION_MNIST_DIR} or {raw_dir(cache_dir)}"))


def cache_home() -> Path:
    """Where a relative data.cache_dir lies: the checkout holding this package (``data`` is its
    data/ folder), else the user's cache folder; never the current directory, so a command run from
    elsewhere finds the one copy and writes no other. The config keeps the relative value, so no
    run's config hash depends on where the project is."""
    checkout = Path(__file__).resolve().parents[3]
    if (checkout / "pyproject.toml").is_file():
        return checkout
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "inception-repro"


def raw_dir(root: Path) -> Path:
    """The folder torchvision's FashionMNIST reads its IDX files from."""
    return root / "FashionMNIST" / "raw"


def _from_root(root: Path, cache_dir: Path) -> Path:
    if all((raw_dir(root) / name).is_file() for name in FILES):
        _check_unpacked(raw_dir(root))
        return root
    for folder in (raw_dir(root), root):
        sources = _find_sources(folder)
        if sources:
            _unpack_all(sources, cache_dir)
            return cache_dir
    raise DatasetNotFoundError(_not_found(f"data.root={root} holds neither FashionMNIST/raw/ nor the four IDX files"))


def _find_sources(folder: Path) -> dict[str, Path] | None:
    """Map each IDX name to `folder/name` or `folder/name.gz`, or None unless all four are there."""
    found = {}
    for name in FILES:
        path = next((p for p in (folder / name, folder / f"{name}.gz") if p.is_file()), None)
        if path is None:
            return None
        found[name] = path
    return found


def _unpack_all(sources: dict[str, Path], cache_dir: Path) -> None:
    raw = raw_dir(cache_dir)
    raw.mkdir(parents=True, exist_ok=True)
    for name, src in sources.items():
        if idx_problem(raw / name, FILES[name]) is not None:
            unpack_idx(src, raw / name, FILES[name])


def _check_unpacked(raw: Path) -> None:
    for name, dims in FILES.items():
        problem = idx_problem(raw / name, dims)
        if problem:
            raise DatasetCorruptError(f"{raw / name}: {problem}")


def _download(cache_dir: Path) -> Path:
    try:
        datasets.FashionMNIST(cache_dir, train=True, download=True)
    except (RuntimeError, OSError) as err:
        reason = " ".join(str(err).split())
        raise DatasetNotFoundError(_not_found(f"download into {cache_dir} failed: {reason}")) from err
    _check_unpacked(raw_dir(cache_dir))
    return cache_dir


def _not_found(reason: str) -> str:
    return (
        f"Fashion-MNIST not found ({reason}); provide it with data.root=<dir> (torchvision layout or a folder "
        "with the four *-ubyte.gz files), `apt-get install dataset-fashion-mnist`, or data.download=true "
        "(needs internet)"
    )
