"""Providing Fashion-MNIST (inception_repro.data.provide): what is there is used, else apt as root, else
torchvision's download, else one error line naming data.root; and tests fail, not skip, without data."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

import conftest
from conftest import fashion_mnist_gz_dir, needs_fashion_mnist
from inception_repro.data import fashion_mnist_files, provide
from inception_repro.data.fashion_mnist_files import FILES, raw_dir
from inception_repro.data.idx import unpack_idx
from inception_repro.errors import DatasetNotFoundError


def fake_apt_get(folder: Path, debian_dir: Path, exit_code: int = 0) -> Path:
    """An ``apt-get`` script logging its arguments; ``install`` links the real .gz files into ``debian_dir``."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "apt-get"
    links = " ".join(f"'{fashion_mnist_gz_dir() / name}.gz'" for name in FILES) if exit_code == 0 else ""
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> "{folder / "log"}"\n'
        f'if [ "$1" = install ] && [ {exit_code} = 0 ]; then mkdir -p "{debian_dir}" && ln -s {links} "{debian_dir}"; fi\n'
        f"exit {exit_code}\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def apt_calls(folder: Path) -> list[str]:
    log = folder / "log"
    return log.read_text().splitlines() if log.exists() else []


@pytest.fixture
def no_data(tmp_path, monkeypatch):
    """No Debian copy; torchvision's download fails as without internet."""
    monkeypatch.setattr(fashion_mnist_files, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "debian")

    def offline(*args, **kwargs):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(fashion_mnist_files.datasets, "FashionMNIST", offline)
    return tmp_path


@needs_fashion_mnist
def test_data_already_there_runs_no_command(tmp_path):
    bin_dir = tmp_path / "bin"
    apt = fake_apt_get(bin_dir, tmp_path / "debian")
    assert provide.provide(str(fashion_mnist_gz_dir()), str(tmp_path / "cache"), is_root=True, apt_get=str(apt)).startswith("present")
    assert apt_calls(bin_dir) == []


@needs_fashion_mnist
def test_as_root_with_apt_the_debian_package_is_installed(no_data):
    bin_dir = no_data / "bin"
    apt = fake_apt_get(bin_dir, no_data / "debian")
    how = provide.provide(None, str(no_data / "cache"), is_root=True, apt_get=str(apt))
    assert how == "installed Debian's dataset-fashion-mnist"
    assert apt_calls(bin_dir) == ["update -qq", "install -y -qq dataset-fashion-mnist"]
    assert sorted(p.name for p in raw_dir(no_data / "cache").iterdir()) == sorted(FILES)


@needs_fashion_mnist
@pytest.mark.parametrize("is_root", [False, True])
def test_without_root_or_when_apt_fails_torchvision_downloads(no_data, monkeypatch, is_root):
    def download(root, train, download):  # what torchvision's download leaves: the raw IDX files
        for name, dims in FILES.items():
            raw_dir(Path(root)).mkdir(parents=True, exist_ok=True)
            unpack_idx(fashion_mnist_gz_dir() / f"{name}.gz", raw_dir(Path(root)) / name, dims)

    monkeypatch.setattr(fashion_mnist_files.datasets, "FashionMNIST", download)
    bin_dir = no_data / "bin"
    apt = fake_apt_get(bin_dir, no_data / "debian", exit_code=0 if not is_root else 100)
    cache = str(no_data / "cache")
    assert provide.provide(None, cache, is_root=is_root, apt_get=str(apt)) == f"downloaded into {cache}"
    assert apt_calls(bin_dir) == (["update -qq"] if is_root else [])


def test_when_nothing_works_one_line_names_data_root(no_data, monkeypatch, capsys):
    bin_dir = no_data / "bin"
    fake_apt_get(bin_dir, no_data / "debian", exit_code=100)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(provide.os, "geteuid", lambda: 0)
    assert provide.main([f"data.cache_dir={no_data / 'cache'}", "model.width=0.5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: Fashion-MNIST is not available (")
    assert "`update -qq` exited 100" in err[0] and "Error downloading" in err[0] and "data.root=<dir>" in err[0]


def test_no_apt_is_said_and_another_dataset_needs_nothing(no_data, capsys):
    with pytest.raises(DatasetNotFoundError, match=r"apt-get dataset-fashion-mnist: no apt-get; torchvision download"):
        provide.provide(None, str(no_data / "cache"), is_root=True, apt_get=None)
    assert provide.main(["data=imagefolder", "data.root=/nowhere"]) == 0
    assert capsys.readouterr().out == ""


def test_a_test_that_needs_the_data_fails_without_it(monkeypatch, request):
    monkeypatch.setattr(conftest, "fashion_mnist_gz_dir", lambda: None)
    item = request.node
    item.add_marker(needs_fashion_mnist)
    with pytest.raises(pytest.fail.Exception, match="run `make data` first, or `make test-nodata`"):
        conftest.pytest_runtest_setup(item)
