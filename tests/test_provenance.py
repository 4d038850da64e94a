"""What a run and a results file record about the code and the machine that made them."""

from __future__ import annotations

from pathlib import Path

import torch

from inception_repro.provenance import host_cpu, short_commit


def test_a_commit_is_shortened_to_seven_characters_and_a_missing_one_says_so():
    assert short_commit("e487b80fd19ed6da6247d12d466dc59b7372488d") == "e487b80"
    assert short_commit(None) == short_commit("") == short_commit(float("nan")) == "unknown"
    assert short_commit(None, missing="not recorded") == "not recorded"


def test_the_host_cpu_names_torchs_vector_isa_and_survives_an_unreadable_proc_and_sys(monkeypatch):
    isa = torch.backends.cpu.get_cpu_capability()
    assert isa in host_cpu()
    real_read = Path.read_text

    def no_proc_or_sys(path, *args, **kwargs):
        if str(path).startswith(("/proc", "/sys")):
            raise PermissionError(f"denied: {path}")
        return real_read(path, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", no_proc_or_sys)
    described = host_cpu()
    assert described.endswith(isa) and "L2" not in described
