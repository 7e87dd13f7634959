"""Minimal run records at their real paths, for tests of the plans' choices made on validation."""
from seqrec import runs
from seqrec.config import METRICS, as_dict, method_name


def store(cfg, results, valid, test=0.05):
    """A record of ``cfg`` whose validation NDCG@20 is ``valid`` and test NDCG@20 ``test``."""
    record = {"key": runs.run_key(cfg), "config": {}, "model": cfg.model, "method": method_name(cfg),
              "dataset": cfg.dataset, "seed": cfg.seed, "profile": cfg.profile, "best_epoch": 0, "history": [],
              "valid": {"NDCG@20": valid}, "test": {"NDCG@20": test}, "train_seconds": 3600.0}
    runs.write_record(record, runs.record_path(cfg, results))


def store_metrics(cfg, results, test: float, valid: float | None = None, train_seconds: float = 60.0,
                  test_overrides: dict | None = None):
    """A record of ``cfg`` with every metric of METRICS at ``test`` (test split) and ``valid`` (default: ``test``),
    except the test metrics that ``test_overrides`` ({metric: value}) names."""
    valid = test if valid is None else valid
    record = {"key": runs.run_key(cfg), "config": as_dict(cfg), "model": cfg.model, "method": method_name(cfg),
              "dataset": cfg.dataset, "seed": cfg.seed, "profile": cfg.profile, "best_epoch": 0, "epochs_run": 1,
              "history": [], "seconds_per_epoch": 1.0, "train_seconds": train_seconds,
              "valid": {m: valid for m in METRICS}, "test": {m: test for m in METRICS} | (test_overrides or {})}
    runs.write_record(record, runs.record_path(cfg, results))
