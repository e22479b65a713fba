import numpy as np
import torch
from PIL import Image

from reducio.training.samples import frame_grid, write_samples


def test_grid_puts_input_over_reconstruction_frame_by_frame(tmp_path):
    video = torch.zeros(2, 3, 4, 8, 8) - 1  # black
    recon = torch.ones(2, 3, 4, 8, 8)  # white
    grid = frame_grid({"input": video, "reconstruction": recon})
    assert grid.shape == (2 * 2 * 8, 4 * 8, 3)
    assert (grid[:8] == 0).all() and (grid[8:16] == 255).all() and (grid[16:24] == 0).all()
    written = write_samples(tmp_path, 7, {"input": video, "reconstruction": recon}, fps=8)
    assert written[0].name == "step-00000007.png"
    assert np.array_equal(np.asarray(Image.open(written[0])), grid)
    assert [p.suffix for p in written[1:]] == [".mp4", ".mp4"]  # one side-by-side video per clip
