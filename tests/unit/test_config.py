import pytest

from seqrec import runs
from seqrec.config import make_config, parse_override
from seqrec.errors import ConfigError

from ..conftest import write_dataset


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


def test_groups_are_set_by_dict_or_dotted_key_and_only_when_switched_on():
    by_dict = make_config("cpu", update="sam", sam=dict(rho=0.5))
    by_key = make_config("cpu", update="sam", **dict([parse_override("sam.rho=0.5")]))
    assert by_dict == by_key and by_dict.sam.rho == 0.5 and by_dict.sam.period == 1
    with pytest.raises(ConfigError, match=r"sam\.\* settings take effect only with update=sam"):
        make_config("cpu", sam=dict(rho=0.5))
    with pytest.raises(ConfigError, match=r"unknown key\(s\) sam\.radius"):
        make_config("cpu", update="sam", **{"sam.radius": 1.0})
    with pytest.raises(ConfigError, match=r"sam\.rho=-1\.0 must be a positive number"):
        make_config("cpu", update="sam", sam=dict(rho=-1))
    with pytest.raises(ConfigError, match=r"cl\.representation='mean'"):
        make_config("cpu", contrast="cl4srec", bucket=False, cl=dict(representation="mean"))
    with pytest.raises(ConfigError, match="unknown config key 'sam'"):
        parse_override("sam=1")
    with pytest.raises(ConfigError, match=r"train_fraction=0\.0 must be in \(0, 1\]"):
        make_config("cpu", train_fraction=0.0)


def test_method_names_follow_the_papers():
    from seqrec.config import method_name

    assert method_name(make_config("cpu")) == "SASRec"
    assert method_name(make_config("cpu", update="sam")) == "SAMRec"
    assert method_name(make_config("cpu", contrast="cl4srec", bucket=False)) == "CL4SRec"
    assert method_name(make_config("cpu", contrast="cl4srec", bucket=False, update="sam")) == "CL4SRec+SAM"
    assert method_name(make_config("cpu", pretrain="s3rec")) == "S3Rec"
    with pytest.raises(ConfigError, match="needs bucket=False"):
        make_config("cpu", contrast="cl4srec")


def test_the_run_key_follows_the_data_it_trains_on(tmp_path, monkeypatch):
    # the key's settings part is cached per config; the data checksum must not be
    cfg = make_config("smoke")
    monkeypatch.setenv("SEQREC_DATA", str(write_dataset(tmp_path / "a", ["1 1 2 3", "2 2 3 4"])))
    first = runs.run_key(cfg)
    assert runs.run_key(make_config("smoke")) == first  # an equal config, the same key
    monkeypatch.setenv("SEQREC_DATA", str(write_dataset(tmp_path / "b", ["1 1 2 3", "2 2 3 5"])))
    assert runs.run_key(cfg) != first


def test_minus_zero_is_zero_so_one_run_has_one_key():
    negative = parse_override("weight_decay=-0")
    # equal as numbers, but JSON (the run key's payload) would write "-0.0": the run key cache must not see both
    assert make_config("cpu", **dict([negative])).weight_decay.hex() == (0.0).hex()
    assert make_config("cpu", dropout=-0.0).dropout.hex() == (0.0).hex()
