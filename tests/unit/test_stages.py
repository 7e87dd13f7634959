"""Multi-stage runs: S3Rec fine-tuning starts from the weights of its pre-training run, trained once, found by key."""
import torch

from seqrec import runs
from seqrec.config import make_config
from seqrec.train import Trainer


def finetune(seed=1, **overrides):
    return make_config("smoke", dataset="Beauty", seed=seed, epochs=2, patience=2, pretrain="s3rec",
                       s3rec=dict(epochs=1), **overrides)


def test_fine_tuning_starts_from_the_committed_pretraining_weights(isolated_cache, tmp_path, monkeypatch):
    results = tmp_path / "results"
    parent = runs.pretraining_config(finetune())
    assert (parent.objective, parent.epochs, parent.seed, parent.batch_size) == ("s3rec", 1, 1, 100)
    assert parent.d_model == finetune().d_model and parent.pretrain == "none"
    started_from = []
    original_fit = Trainer.fit

    def spy(self, *args, **kwargs):
        started_from.append({k: v.clone() for k, v in self.model.state_dict().items()})
        return original_fit(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "fit", spy)
    record = runs.run(finetune(), results, progress=False)
    assert len(started_from) == 2  # the pre-training, then the fine-tuning
    pretrained = runs.load_weights(runs.weights_path(parent, results))
    for name, tensor in pretrained.items():
        torch.testing.assert_close(started_from[1][name], tensor, rtol=0, atol=0)
    assert record["initialized_from"] == runs.run_key(parent) and record["method"] == "S3Rec"
    stage = runs.find_record(parent, results)
    assert stage["test"] is None and stage["valid"] is None and stage["epochs_run"] == 1
    assert set(stage["history"][0]["losses"]) == {"aap", "mip", "map", "sp"}
    # a second seed reuses the pre-training: one more fit, not two
    runs.run(finetune(seed=2), results, progress=False)
    assert len(started_from) == 3


def test_the_queue_trains_a_shared_pretraining_once_before_its_fine_tuning_runs(isolated_cache, tmp_path):
    from seqrec import queue

    results = tmp_path / "results"
    plain = make_config("smoke", dataset="Beauty", epochs=2, patience=2)
    outcomes = queue.run_queue([plain, finetune(seed=1), finetune(seed=2)], results, jobs=2, progress=False)
    assert [o.status for o in outcomes] == ["trained"] * 4
    # the stage is queued right before the first run that needs it, not ahead of everything
    assert [o.record["method"] for o in outcomes] == ["SASRec", "S3Rec-pretraining", "S3Rec", "S3Rec"]
    pretraining = outcomes[1].record
    assert [o.record["initialized_from"] for o in outcomes[2:]] == [pretraining["key"]] * 2
    assert len(list((results / "smoke" / "s3rec-pretraining").glob("*.pt.xz"))) == 1


def test_a_parked_pretraining_resumes_on_a_new_machine_where_it_stopped(isolated_cache, tmp_path, monkeypatch):
    import dataclasses
    import shutil

    import pytest

    stage = dataclasses.replace(runs.pretraining_config(finetune()), epochs=3, patience=3)
    uninterrupted = runs.run(stage, tmp_path / "one-machine", progress=False)
    shutil.rmtree(isolated_cache / "cache")
    results, original_save = tmp_path / "results", Trainer._save

    def save_then_die(self):
        original_save(self)
        if self.epoch == 2:
            raise KeyboardInterrupt  # the session ends right after epoch 2 was checkpointed

    monkeypatch.setattr(Trainer, "_save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        runs.run(stage, results, progress=False)
    monkeypatch.setattr(Trainer, "_save", original_save)
    assert runs.park_unfinished(results) == [runs.parked_checkpoint_path(stage, results)]
    shutil.rmtree(isolated_cache / "cache")  # a new machine: only the committed results/ remain
    assert runs.checkpoint_seconds(stage, results) > 0  # the queue's estimate counts the parked epoch
    resumed = runs.run(stage, results, progress=False)
    assert len(resumed["provenance"]) == 2 and resumed["provenance"][1].endswith("from epoch 2")
    assert [e["loss"] for e in resumed["history"]] == [e["loss"] for e in uninterrupted["history"]]
    for name, tensor in runs.load_weights(runs.weights_path(stage, tmp_path / "one-machine")).items():
        torch.testing.assert_close(runs.load_weights(runs.weights_path(stage, results))[name], tensor, rtol=0, atol=0)
    assert not runs.parked_checkpoint_path(stage, results).exists() and not runs.progress_path(stage, results).exists()
    assert runs.park_unfinished(results) == []  # a finished run has nothing to park


def test_parking_refuses_other_runs_and_names_a_corrupt_parked_file(isolated_cache, tmp_path):
    import pytest

    from seqrec.errors import TrainingError

    with pytest.raises(TrainingError, match="only pre-training runs are parked"):
        runs.park(finetune())
    stage, results = runs.pretraining_config(finetune()), tmp_path / "results"
    parked = runs.parked_checkpoint_path(stage, results)
    parked.parent.mkdir(parents=True)
    parked.write_text("version https://git-lfs.github.com/spec/v1\n")  # e.g. a pointer, not the file
    with pytest.raises(TrainingError, match=f"{parked.name} is not a readable parked checkpoint.*git rm"):
        runs.run(stage, results, progress=False)
    assert runs.checkpoint_seconds(stage, results) == 0.0  # the estimate treats it as a fresh start
    runs.record_path(stage, results).write_text("{}\n")  # the run finished elsewhere: its parked file is stale
    assert runs.park_unfinished(results) == [] and not parked.exists()
