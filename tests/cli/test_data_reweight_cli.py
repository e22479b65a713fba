"""`reducio data reweight`: the summary line, the written folder, errors as one line and exit code 1."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from latent_toys import write_toy_shards  # noqa: E402

from reducio.cli.main import main  # noqa: E402
from reducio.data.latents import LatentShardDataset, list_shards  # noqa: E402

ONE = "a red circle moving left on a black background"
TWO = "a blue square moving up and a green triangle moving right on a white background"


def test_reweight_writes_the_copy_and_prints_the_summary(tmp_path, capsys):
    write_toy_shards(tmp_path / "src", [ONE, TWO, ONE, TWO, ONE], per_shard=2)
    out = tmp_path / "out"
    assert main(["data", "reweight", str(tmp_path / "src"), str(out), "--two-object-copies", "3",
                 "--shard-size", "4"]) == 0
    assert capsys.readouterr().out == (f"3 one-object + 2 two-object records (x3): 9 records, two-object share "
                                       f"0.67, 3 shards in {out}\n")
    assert len(list_shards(out)) == 3
    assert LatentShardDataset(out).captions == [ONE, TWO, TWO, TWO, ONE, TWO, TWO, TWO, ONE]


def test_defaults_are_three_copies_and_256_records_per_shard(tmp_path, capsys):
    write_toy_shards(tmp_path / "src", [TWO, ONE], per_shard=1)
    assert main(["data", "reweight", str(tmp_path / "src"), str(tmp_path / "out")]) == 0
    assert "(x3): 4 records, two-object share 0.75, 1 shards in" in capsys.readouterr().out


def test_errors_are_one_line_and_exit_1(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["data", "reweight", str(tmp_path / "empty"), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("reducio data: error: ") and "holds no latent shards" in err and err.count("\n") == 1
    write_toy_shards(tmp_path / "src", [ONE], per_shard=1)
    assert main(["data", "reweight", str(tmp_path / "src"), str(tmp_path / "src")]) == 1
    assert "is not empty" in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--two-object-copies", "--shard-size"])
def test_counts_below_one_stop_the_parser(tmp_path, capsys, option):
    with pytest.raises(SystemExit) as stop:
        main(["data", "reweight", str(tmp_path), str(tmp_path / "out"), option, "0"])
    assert stop.value.code == 2 and option in capsys.readouterr().err


def test_help_lists_the_options(capsys):
    """(That no command's help imports torch is checked for all of them in tests/cli/test_main.py.)"""
    with pytest.raises(SystemExit) as stop:
        main(['data', 'reweight', '--help'])
    out = capsys.readouterr().out
    assert stop.value.code == 0 and "--two-object-copies N" in out and "SOURCE OUTPUT" in out
