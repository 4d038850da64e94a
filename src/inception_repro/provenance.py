"""Provenance for everything written to results/: results are data with provenance.

`provenance()` says which code, command, machine and date made an output; `write_with_provenance()`
writes an output's files atomically and a `<name>.meta.json` beside them.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


def project_root() -> Path:
    """The checkout holding this package (src layout), else the current directory."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() else Path.cwd()


def relative_to_root(paths: Iterable[str | Path]) -> list[str]:
    """Sorted paths, those inside the project written relative to its root (URLs unchanged)."""
    root = project_root().resolve()
    out = []
    for p in map(str, paths):
        resolved = Path(p).resolve() if "://" not in p else None
        inside = resolved is not None and resolved.is_relative_to(root)
        out.append(str(resolved.relative_to(root)) if inside else p)
    return sorted(out)


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=project_root(), capture_output=True, text=True, timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def git_commit() -> str | None:
    """`git rev-parse HEAD` of the project, or None outside a git checkout."""
    return _git("rev-parse", "HEAD") or None


def short_commit(commit: object, missing: str = "unknown") -> str:
    """A recorded git commit cut to its 7-character short form, or ``missing`` where none is recorded."""
    return commit[:7] if isinstance(commit, str) and commit else missing


def git_dirty(*paths: str) -> bool | None:
    """Whether the checkout (or only `paths` in it) differs from its commit; None outside a git checkout."""
    status = _git("status", "--porcelain", "--", *paths)
    return None if status is None else bool(status)


def host_cpu() -> str:
    """The host CPU as float kernels see it: model, torch's vector ISA (and AMX), L2 / L3 sizes.

    oneDNN picks kernels and blockings by ISA and cache size, so two CPUs that differ here may round
    differently: a rerun is bitwise equal on the same kind of CPU, and equal within noise elsewhere.
    """
    import torch  # here, not at the top: the commands that only read records start without torch

    info = _cpuinfo()
    if "model name" in info:  # x86
        model = f"{info['model name']} (family {info.get('cpu family', '?')} model {info.get('model', '?')} " \
                f"stepping {info.get('stepping', '?')})"
    elif "CPU part" in info:  # ARM Linux
        model = f"ARM implementer {info.get('CPU implementer', '?')} part {info['CPU part']}"
    else:
        model = platform.processor() or platform.machine() or "unknown CPU"
    isa = torch.backends.cpu.get_cpu_capability() + ("+AMX" if "amx_tile" in info.get("flags", "").split() else "")
    return ", ".join([model, isa, *_cache_sizes()])


def _read(path: Path) -> str | None:
    """A small text file's stripped contents, or None where it cannot be read (absent, no permission)."""
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (empty where there is none, e.g. macOS)."""
    first = (_read(Path("/proc/cpuinfo")) or "").split("\n\n", 1)[0]
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in first.splitlines()) if k.strip()}


def _cache_sizes() -> list[str]:
    """``L2 2048K``, ``L3 ...``: the first CPU's L2 and L3 sizes that Linux's /sys reports (none elsewhere)."""
    sizes = []
    for entry in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        level, size = _read(entry / "level"), _read(entry / "size")
        if level in ("2", "3") and size:
            sizes.append(f"L{level} {size}")
    return sizes


def provenance(command: str | None = None, **extra: Any) -> dict[str, Any]:
    """Commit, dirty flag, command (default: sys.argv), UTC date, machine, plus `extra` keys."""
    return {
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "command": command if command is not None else shlex.join(sys.argv),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "node": platform.node(),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
        },
        **extra,
    }


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call `write(tmp)` on a unique temporary sibling of `path`, sync it to disk, then rename it onto `path`.

    A reader, or a process killed (or a machine losing power) at any instant, sees the old file or the
    new one, never half of one. The file gets the permissions of any new file (0644 under umask 022),
    not the temporary file's 0600.
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync(path: Path) -> None:
    """Sync a file's or a folder's (its entries') contents to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_with_provenance(
    out_dir: str | Path,
    name: str,
    writers: Mapping[str, Callable[[Path], None]],
    command: str | None = None,
    **extra: Any,
) -> dict[str, Path]:
    """Write `<out_dir>/<name><suffix>` for each `suffix -> writer(path)` and `<name>.meta.json`.

    The meta file holds `provenance(command, **extra)` plus the list of files written. Returns the
    written paths keyed by suffix (and "meta").
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {suffix: out / f"{name}{suffix}" for suffix in writers}
    for suffix, write in writers.items():
        atomic_write(paths[suffix], write)
    meta = provenance(command, **extra, outputs=[p.name for p in paths.values()])
    paths["meta"] = out / f"{name}.meta.json"
    text = json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n"
    atomic_write(paths["meta"], lambda p: p.write_text(text, encoding="utf-8"))
    return paths
