import pytest

from seqrec.config import make_config, parse_override
from seqrec.errors import ConfigError


@pytest.mark.parametrize("overrides, message", [
    (dict(epochs=-1), "epochs=-1 must be at least 1"),
    (dict(dropout=1.0), r"dropout=1.0 must be in \[0, 1\)"),
    (dict(attn_dropout=-0.1), "attn_dropout"),
    (dict(lr=0.0), "lr=0.0 must be a positive number"),
    (dict(lr=float("inf")), "lr=inf must be a positive number"),
    (dict(seed=-1), r"seed=-1 must be in \[0, 2\*\*32\)"),
    (dict(d_model=30, n_heads=4), "divisible"),
    (dict(dataset="Beuty"), "unknown dataset 'Beuty'; known datasets: Beauty"),
    (dict(model="gpt"), "unknown model 'gpt'"),
    (dict(wings=2), "unknown config key"),
    (dict(epochs="10"), "expected a int"),
    (dict(select_metric="MRR"), "select_metric"),
])
def test_out_of_range_values_are_rejected(overrides, message):
    with pytest.raises(ConfigError, match=message):
        make_config("cpu", **overrides)


def test_profiles_differ_where_documented():
    smoke, cpu, paper = (make_config(p) for p in ("smoke", "cpu", "paper"))
    assert (paper.epochs, paper.patience, paper.d_model, paper.dropout) == (300, 40, 64, 0.5)
    assert cpu.epochs == 300 and cpu.patience == 40  # SASRec needs no cut; later chapters add theirs
    assert smoke.d_model == 16 and smoke.epochs == 2 and smoke.max_users > 0
    with pytest.raises(ConfigError, match="unknown profile"):
        make_config("fast")


def test_parse_override_uses_field_types():
    assert parse_override("epochs=5") == ("epochs", 5)
    assert parse_override("lr=0.01") == ("lr", 0.01)
    assert parse_override("bf16=true") == ("bf16", True)
    with pytest.raises(ConfigError, match="expected a int"):
        parse_override("epochs=five")
    with pytest.raises(ConfigError, match="key=value"):
        parse_override("epochs")
