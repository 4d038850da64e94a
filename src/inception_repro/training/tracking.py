"""Weights & Biases: online when wandb finds the user's credentials, offline otherwise; never loses a run.

The mode, project and entity come from configs/logger/wandb.yaml, where ``WANDB_MODE``,
``WANDB_PROJECT`` and ``WANDB_ENTITY`` replace the defaults and a command-line override replaces
both. Mode ``auto`` (the default) is ``online`` when wandb finds credentials for its server
(``WANDB_API_KEY``, the netrc entry ``wandb login`` wrote, or wandb's settings files) and
``offline`` otherwise; finding them contacts no server.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inception_repro.errors import ConfigError

if TYPE_CHECKING:
    from pytorch_lightning.loggers import WandbLogger

# wandb's own aliases (WANDB_MODE=dryrun / run) are accepted as it accepts them.
MODES = {"auto": "auto", "online": "online", "offline": "offline", "disabled": "disabled",
         "dryrun": "offline", "run": "online"}


def wandb_run_id(scale: str, ablation: str, variant: str, seed: int) -> str:
    """A fixed id from scale-ablation-variant-seed (the run folder's identity), so reruns continue
    the same W&B run and two scales never share one."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"{scale}-{ablation}-{variant}-seed{seed}")


def wandb_group(scale: str, ablation: str) -> str:
    """The W&B group of an ablation's runs at one scale."""
    return f"{scale}-{ablation}"


def server_url() -> str:
    """The W&B server wandb talks to: ``WANDB_BASE_URL``, else wandb's settings, else its default."""
    from wandb.sdk import wandb_setup

    return wandb_setup.singleton().settings.base_url


def credentials_found() -> bool:
    """Whether wandb finds credentials for ``server_url()``, by wandb's own lookup (environment,
    netrc for that host, settings files); nothing is sent anywhere. A malformed key counts as
    found, so that ``wandb.init`` says what is wrong with it."""
    from wandb.errors import AuthenticationError
    from wandb.sdk.lib import wbauth

    try:
        auth = wbauth.authenticate_session(
            host=server_url(), source="inception-repro", prompt=False, update_session=False)
    except AuthenticationError:
        return True
    return auth is not None


def resolve_mode(requested: str) -> str:
    """``online``, ``offline`` or ``disabled`` for a requested mode (see ``MODES``): ``auto`` is online
    with credentials and offline without; ``online`` without credentials warns once and is offline.
    Offline and disabled also switch off wandb's own error reporting, which would otherwise send
    telemetry to the server even from an offline run."""
    mode = MODES.get(str(requested).lower())
    if mode is None:
        raise ConfigError(f"W&B mode {requested!r} (logger.mode, WANDB_MODE or --mode) is unknown; valid: {', '.join(MODES)}")
    if mode in ("auto", "online") and not credentials_found():
        if mode == "online":
            warnings.warn(f"W&B online mode asked for but no API key found for {server_url()}; logging offline "
                          "(`wandb login`, then make wandb-sync uploads later)")
        mode = "offline"
    if mode in ("offline", "disabled"):
        _no_telemetry()
    return "online" if mode == "auto" else mode


def _no_telemetry() -> None:
    """Start wandb's service without its error reporting (``WANDB_ERROR_REPORTING``, read at start)."""
    os.environ.setdefault("WANDB_ERROR_REPORTING", "false")


def make_wandb_logger(
    run_dir: Path, project: str, entity: str | None, mode: str, ablation: str, variant: str, seed: int,
    scale: str, config: dict[str, Any], init_timeout: float = 30.0,
) -> WandbLogger:
    """A WandbLogger writing under ``run_dir/wandb``; falls back to offline, with one warning, if
    online init fails (server unreachable within ``init_timeout`` seconds, key refused)."""
    import wandb  # only runs that log to W&B need it
    from pytorch_lightning.loggers import WandbLogger

    os.environ.setdefault("WANDB_SILENT", "true")  # before wandb reads its environment
    mode = resolve_mode(mode)
    run_id = wandb_run_id(scale, ablation, variant, seed)
    kwargs = dict(
        project=project, entity=entity, group=wandb_group(scale, ablation), name=run_id, id=run_id,
        tags=[ablation, variant, scale], save_dir=str(run_dir), config=config, offline=mode == "offline", mode=mode,
        settings=wandb.Settings(init_timeout=init_timeout),
    )
    logger = WandbLogger(**kwargs)
    try:
        logger.experiment  # starts the run now, so a failure to reach the server shows here
    except Exception as error:  # noqa: BLE001 - any wandb failure must fall back, not stop the run
        reason = " ".join(f"{error.__class__.__name__}: {error}".split())
        warnings.warn(f"W&B {mode} init failed ({reason}); logging offline instead (make wandb-sync uploads later)")
        _no_telemetry()
        wandb.teardown()  # the failed attempt still holds the run id in wandb's service process
        logger = WandbLogger(**{**kwargs, "offline": True, "mode": "offline"})
        logger.experiment
    return logger
