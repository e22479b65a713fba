import torch
from torch import nn

from reducio.training.ema import EMA


def test_update_formula_and_swap_restores_weights():
    model = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema = EMA(model, decay=0.9, start_step=1)
    with torch.no_grad():
        model.weight.fill_(3.0)
    ema.update(model, step=0)  # before start_step: copy
    assert torch.allclose(ema.shadow["weight"], torch.full((1, 2), 3.0))
    with torch.no_grad():
        model.weight.fill_(5.0)
    ema.update(model, step=1)
    assert torch.allclose(ema.shadow["weight"], torch.full((1, 2), 0.9 * 3.0 + 0.1 * 5.0))
    with ema.swapped_into(model):
        assert torch.allclose(model.weight, torch.full((1, 2), 3.2))
    assert torch.allclose(model.weight, torch.full((1, 2), 5.0))
