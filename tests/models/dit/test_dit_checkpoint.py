import torch
from dit_helpers import make_inputs, randomize, run, tiny_config

from reducio.models.dit import DiTConfig, ReducioDiT


def test_state_dict_round_trip_gives_the_same_output():
    config = tiny_config(attention="2d+1d")
    model = randomize(ReducioDiT(config)).eval()
    inputs = make_inputs(config)
    clone = ReducioDiT(config).eval()
    clone.load_state_dict(model.state_dict())
    assert torch.equal(run(clone, inputs), run(model, inputs))


def test_save_pretrained_from_pretrained_round_trip(tmp_path):
    config = tiny_config()
    model = randomize(ReducioDiT(config)).eval()
    inputs = make_inputs(config)
    model.save_pretrained(tmp_path / "dit")
    assert (tmp_path / "dit" / "config.json").is_file()
    assert DiTConfig.from_json(tmp_path / "dit" / "config.json") == config
    loaded = ReducioDiT.from_pretrained(tmp_path / "dit")
    assert loaded.arch == config
    assert torch.equal(run(loaded, inputs), run(model, inputs))
    model.save_single_file(tmp_path / "dit.safetensors")
    single = ReducioDiT.from_pretrained(tmp_path / "dit.safetensors")
    assert torch.equal(run(single, inputs), run(model, inputs))
