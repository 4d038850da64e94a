"""The run store: where runs are recorded, what a record holds, and every decision about a run's life.

- ``summary``: ``Summary``, the one declaration of summary.json, checked on every read;
- ``history``: metrics.csv checked on read;
- ``identity``: a run's identity and config hash;
- ``folder``: one run folder's files, its lock and its guarded delete;
- ``records``: a store's layout, read by analysis and comparison;
- ``decision``: skip / failed / resume / train / restart, for a single run and for a grid;
- ``plan``: a grid's decisions, with the runs that share another's config;
- ``lifecycle``: beginning and finishing a run's record.
"""

from inception_repro.store.decision import RECORDED, decide
from inception_repro.store.folder import ConfigChangedError, RunBusyError, RunFolder, RunRecordError
from inception_repro.store.identity import checkpoint_identity, config_hash, run_identity
from inception_repro.store.lifecycle import Session, begin, finish, recorded, reopen_run, restart_run
from inception_repro.store.records import STORES, RunRecord, complete_runs_by_hash, read_record, read_records, run_path
from inception_repro.store.summary import Summary

__all__ = [
    "RECORDED", "STORES", "ConfigChangedError", "RunBusyError", "RunFolder", "RunRecord", "RunRecordError", "Session",
    "Summary", "begin", "checkpoint_identity", "complete_runs_by_hash", "config_hash", "decide", "finish",
    "read_record", "read_records", "recorded", "reopen_run", "restart_run", "run_identity", "run_path",
]
