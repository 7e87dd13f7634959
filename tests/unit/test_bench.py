"""The benchmark record: timing some methods again keeps the others' numbers."""
import json

from seqrec import bench


def test_saving_a_subset_of_the_variants_keeps_the_rest_of_the_record(tmp_path):
    path = tmp_path / "Beauty-cpu.json"
    full = {"dataset": "Beauty", "measured_at": "2026-01-01", "git_commit": "a", "train_epoch_seconds_bce": 2.0,
            "train_epoch_seconds_srma": 30.0, "full_evaluation_seconds": 1.5}
    first = bench._merged(path, full, None)
    assert first["variants_measured_at"] == {v: "2026-01-01" for v in bench.VARIANTS}
    path.write_text(json.dumps(first))
    subset = {"dataset": "Beauty", "measured_at": "2026-02-02", "git_commit": "b", "train_epoch_seconds_srma": 20.0,
              "full_evaluation_seconds": 1.4}
    merged = bench._merged(path, subset, ["srma"])
    assert merged["train_epoch_seconds_srma"] == 20.0 and merged["train_epoch_seconds_bce"] == 2.0
    assert merged["measured_at"] == "2026-01-01" and merged["git_commit"] == "a"  # the full run's stamp stays
    assert merged["variants_measured_at"]["srma"] == "2026-02-02"
    assert merged["variants_measured_at"]["bce"] == "2026-01-01"
    assert bench._merged(tmp_path / "none.json", subset, ["srma"])["variants_measured_at"] == {"srma": "2026-02-02"}
