"""W&B mode, project and entity as a W&B user expects them (training/tracking.py, configs/logger/wandb.yaml)."""

from __future__ import annotations

import base64
import warnings

import pytest

from inception_repro.config import compose_run
from inception_repro.errors import ConfigError
from inception_repro.training.tracking import credentials_found, make_wandb_logger, resolve_mode, wandb_run_id

KEY = "k" * 40


def test_without_a_login_auto_is_offline_silently_and_online_warns(no_wandb_login):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not credentials_found() and resolve_mode("auto") == "offline"
    with pytest.warns(UserWarning, match="no API key found for https://"):
        assert resolve_mode("online") == "offline"
    assert resolve_mode("disabled") == "disabled" and resolve_mode("dryrun") == "offline"


def test_an_api_key_in_the_environment_makes_auto_online(no_wandb_login, monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", KEY)
    assert resolve_mode("auto") == "online" and resolve_mode("offline") == "offline"


@pytest.mark.parametrize("netrc_host, online", [("127.0.0.1:8080", True), ("api.wandb.ai", False)])
def test_wandb_login_netrc_counts_for_the_server_it_names(no_wandb_login, monkeypatch, netrc_host, online):
    """What `wandb login` writes: a netrc entry for the server's host, wherever WANDB_BASE_URL points."""
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:8080")
    netrc = no_wandb_login / ".netrc"
    netrc.write_text(f"machine {netrc_host}\n  login user\n  password {KEY}\n")
    netrc.chmod(0o600)
    assert resolve_mode("auto") == ("online" if online else "offline")


def test_an_unknown_mode_is_one_config_error(no_wandb_login):
    with pytest.raises(ConfigError, match="W&B mode 'sometimes' .* is unknown; valid: auto, online, offline"):
        resolve_mode("sometimes")


def test_wandb_environment_replaces_the_config_defaults_and_overrides_replace_both(monkeypatch):
    for name in ("WANDB_MODE", "WANDB_PROJECT", "WANDB_ENTITY"):
        monkeypatch.delenv(name, raising=False)
    logger = compose_run([]).logger
    assert (logger.mode, logger.project, logger.entity) == ("auto", "inception-repro", None)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_PROJECT", "mine")
    monkeypatch.setenv("WANDB_ENTITY", "team")
    logger = compose_run([]).logger
    assert (logger.mode, logger.project, logger.entity) == ("offline", "mine", "team")
    logger = compose_run(["logger.project=typed", "logger.mode=disabled"]).logger
    assert (logger.mode, logger.project, logger.entity) == ("disabled", "typed", "team")


def test_run_ids_name_the_scale():
    assert wandb_run_id("cpu", "aux", "bn", 0) == "cpu-aux-bn-seed0"
    assert wandb_run_id("gpu", "aux", "bn", 0) != wandb_run_id("cpu", "aux", "bn", 0)
    assert wandb_run_id("cpu", "resolution", "79/x", 2) == "cpu-resolution-79_x-seed2"


def test_online_training_sends_the_key_to_the_configured_server_then_falls_back(wandb_standin, tmp_path):
    """With a key and WANDB_BASE_URL, `auto` goes online: wandb asks the stand-in (not wandb.ai) with
    that key; refused, the run logs offline with one warning."""
    with pytest.warns(UserWarning, match="W&B online init failed .*401.*logging offline instead") as warned:
        logger = make_wandb_logger(tmp_path, "p", None, "auto", "aux", "bn", 0, "cpu", {}, init_timeout=10)
    assert len([w for w in warned if "W&B" in str(w.message)]) == 1
    assert logger.experiment.settings.mode == "offline"
    logger.experiment.finish()
    graphql = [r for r in wandb_standin.requests if r["path"] == "/graphql"]
    assert graphql, wandb_standin.requests
    assert {r["authorization"] for r in graphql} == {"Basic " + base64.b64encode(f"api:{KEY}".encode()).decode()}
    assert [p.name for p in (tmp_path / "wandb").glob("offline-run-*")][0].endswith("-cpu-aux-bn-seed0")
