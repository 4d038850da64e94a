"""IDX (MNIST-format) unsigned-byte files: header checks and validated, atomic unpacking."""

from __future__ import annotations

import gzip
import math
import shutil
import struct
import zlib
from pathlib import Path

from inception_repro.errors import DatasetCorruptError
from inception_repro.provenance import atomic_write


def idx_header(dims: tuple[int, ...]) -> bytes:
    """The exact header of a big-endian uint8 IDX file with these dimensions."""
    return struct.pack(f">{1 + len(dims)}I", 0x0800 | len(dims), *dims)


def idx_size(dims: tuple[int, ...]) -> int:
    """Byte length of an IDX uint8 file: header plus payload."""
    return len(idx_header(dims)) + math.prod(dims)


def idx_problem(path: Path, dims: tuple[int, ...]) -> str | None:
    """Describe what is wrong with an unpacked IDX file (cheap: header and size), or None if it looks right."""
    if not path.is_file():
        return "missing"
    with open(path, "rb") as f:
        header = f.read(len(idx_header(dims)))
    if header != idx_header(dims):
        return f"header is not that of a uint8 array of shape {dims}"
    if path.stat().st_size != idx_size(dims):
        return f"{path.stat().st_size} bytes, expected {idx_size(dims)}"
    return None


def unpack_idx(src: Path, dest: Path, dims: tuple[int, ...]) -> None:
    """Copy `src` (gzipped if it ends in .gz) to `dest`, checking header and length; written atomically."""
    opener = gzip.open if src.suffix == ".gz" else open

    def write(tmp: Path) -> None:
        with opener(src, "rb") as fin, open(tmp, "wb") as fout:
            try:
                header = fin.read(len(idx_header(dims)))
                if header != idx_header(dims):
                    raise DatasetCorruptError(f"{src}: header is not that of a uint8 array of shape {dims}")
                fout.write(header)
                shutil.copyfileobj(fin, fout, 1 << 20)
            except (EOFError, gzip.BadGzipFile, zlib.error) as err:
                raise DatasetCorruptError(f"{src}: cannot decompress ({err})") from err
            if fout.tell() != idx_size(dims):
                raise DatasetCorruptError(f"{src}: payload is {fout.tell()} bytes, expected {idx_size(dims)}")

    atomic_write(dest, write)
