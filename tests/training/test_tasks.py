"""The training tasks: the parser's light table agrees with training/tasks.py, every task parses
through the real `reducio` command line, and the multi-process tests find torchrun next to the
interpreter (failing, not skipping, under CI)."""

from __future__ import annotations

import sys

import pytest

import training_toys
from reducio.cli import train as train_cli
from reducio.cli.main import main
from reducio.training.recipes import load_recipe
from reducio.training.tasks import TASKS


def test_the_parsers_table_is_the_training_tasks():
    assert set(TASKS) == set(train_cli.TASKS)
    for name, (_, default_recipe) in train_cli.TASKS.items():  # each default recipe loads into its task's config
        assert load_recipe(default_recipe, TASKS[name].config_class).task == name


@pytest.mark.parametrize("task", sorted(TASKS))
def test_each_task_parses_through_the_real_cli(task, capsys):
    with pytest.raises(SystemExit) as done:
        main(["train", task, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert train_cli.TASKS[task][1] in out and "--resume" in out


def test_train_needs_a_task(capsys):
    with pytest.raises(SystemExit) as done:
        main(["train"])
    assert done.value.code == 2
    assert "TASK" in capsys.readouterr().err


def test_torchrun_is_looked_up_next_to_the_interpreter_and_required_under_ci(monkeypatch, tmp_path):
    assert training_toys.TORCHRUN.parent == training_toys.Path(sys.executable).parent
    monkeypatch.setattr(training_toys, "TORCHRUN", tmp_path / "torchrun")
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="no torchrun next to"):
        training_toys.require_torchrun()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="no torchrun next to"):
        training_toys.require_torchrun()
    (tmp_path / "torchrun").write_text("")
    assert training_toys.require_torchrun() == tmp_path / "torchrun"
