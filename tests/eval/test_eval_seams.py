import pytest
import torch

from reducio.eval.seams import seam_band_errors, stitch_band_mask


def test_band_mask_marks_pixels_near_interior_multiples_of_the_period():
    mask = stitch_band_mask(64, 96, period=32, band=4)
    # rows 28..35 (around 32) and columns around 32 and 64; not the frame edges
    assert mask[28, 0] and mask[35, 0] and not mask[27, 0] and not mask[36, 0]
    assert mask[0, 60] and mask[0, 67] and not mask[0, 59] and not mask[0, 68]
    assert not mask[0, 0] and not mask[63, 95] and not mask[10, 10]


def test_seam_errors_find_an_error_along_the_stitch_lines_only():
    reference = torch.zeros(1, 3, 2, 64, 64)
    clean = reference + 0.1                                   # the same error everywhere
    result = seam_band_errors(reference, clean, period=32, band=4)
    assert result["ratio"] == pytest.approx(1.0)
    seamed = clean.clone()
    seamed[..., 30:34, :] += 0.4                             # a visible seam along row 32
    result = seam_band_errors(reference, seamed, period=32, band=4)
    assert result["ratio"] > 2 and result["inside"] == pytest.approx(0.1)


def test_seam_errors_reject_frames_without_a_stitch_line_and_shape_mismatch():
    with pytest.raises(ValueError, match="no stitch line"):
        seam_band_errors(torch.zeros(3, 2, 32, 32), torch.zeros(3, 2, 32, 32), period=32)
    with pytest.raises(ValueError, match="differ in shape"):
        seam_band_errors(torch.zeros(3, 2, 64, 64), torch.zeros(3, 2, 64, 32), period=32)


def test_a_frame_smaller_than_one_tile_has_no_stitch_line():
    assert not stitch_band_mask(64, 64, period=256, band=16).any()
    with pytest.raises(ValueError, match="no stitch line"):
        seam_band_errors(torch.zeros(3, 2, 64, 64), torch.zeros(3, 2, 64, 64), period=256)


def test_eval_seams_refuses_a_size_within_one_tile_before_any_work(tmp_path):
    from reducio.cli.main import build_parser, load_command
    from reducio.errors import ConfigError

    args = build_parser().parse_args(["eval", "seams", "--size", "64", "-o", str(tmp_path / "s.json")])
    with pytest.raises(ConfigError, match="--size 64: one 256 px tile spans the frame.*above 256"):
        load_command(args).run(args)
    assert not (tmp_path / "s.json").exists()
