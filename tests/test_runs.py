"""The store layout and reading run records (inception_repro.store)."""

import json

from inception_repro.config import compose_run
from inception_repro.store import STORES, read_records, run_path


def test_the_config_run_dir_is_the_layout_and_defaults_to_the_local_store():
    cfg = compose_run(["scale=gpu", "ablation=aux", "variant=bn", "seed=2"])
    assert cfg.results_dir == STORES["local"] == "results/local"
    assert cfg.run_dir == str(run_path(STORES["local"], "gpu", "aux", "bn", 2)) == "results/local/runs/gpu/aux/bn/seed2"


def _record(root, folder_scale, ablation, variant, seed, **summary):
    folder = run_path(root, folder_scale, ablation, variant, seed)
    folder.mkdir(parents=True)
    record = {"status": "incomplete", "scale": folder_scale, "ablation": ablation, "variant": variant, "seed": seed}
    (folder / "summary.json").write_text(json.dumps({**record, **summary}))


def test_records_are_read_per_scale_and_ablation_and_a_misfiled_one_says_why(tmp_path):
    _record(tmp_path, "cpu", "aux", "bn", 0)
    _record(tmp_path, "gpu", "aux", "bn", 0)
    _record(tmp_path, "cpu", "optimizer", "sgd", 1)
    _record(tmp_path, "cpu", "aux", "plain", 0, scale="gpu")  # a gpu summary in a cpu folder
    assert len(read_records(tmp_path)) == 4
    assert [r.identity["scale"] for r in read_records(tmp_path, scale="gpu")] == ["gpu"]
    cpu_aux = read_records(tmp_path, scale="cpu", ablation="aux")
    assert [(r.identity["variant"], r.problem) for r in cpu_aux] == [
        ("bn", None), ("plain", "summary says scale='gpu' but the folder says 'cpu'")]
    assert read_records(tmp_path, scale="paper") == []
