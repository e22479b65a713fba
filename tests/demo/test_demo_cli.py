"""`reducio demo` options: checked before anything loads; the server call itself is stubbed."""

from __future__ import annotations

import sys

import pytest

from reducio.cli.run.demo import settings_from_args
from reducio.cli.main import SUBCOMMANDS, build_parser, main
from reducio.errors import ConfigError


def _args(*argv):
    return build_parser().parse_args(["demo", *argv])


def test_defaults():
    assert "demo" in SUBCOMMANDS
    args = _args()
    assert args.port == 7860
    settings = settings_from_args(args)
    assert (settings.pipeline, settings.vae, settings.size, settings.builtin_pipeline) == ("tiny", "tiny", None, True)
    assert (settings.max_upload_mb, settings.max_seconds) == (50, 10)


def test_options_reach_the_settings(tmp_path):
    (tmp_path / "model_index.json").write_text("{}")
    settings = settings_from_args(_args("--pipeline", str(tmp_path), "--vae", "ft4", "--size", "64x96",
                                        "--max-upload-mb", "5", "--max-seconds", "3", "--device", "cpu"))
    assert (settings.pipeline, settings.vae, settings.size) == (str(tmp_path), "ft4", (64, 96))
    assert (settings.max_upload_bytes, settings.max_seconds, settings.builtin_pipeline) == (5 * 2**20, 3, False)


@pytest.mark.parametrize("argv, match", [
    (["--size", "50"], "multiples of 32"),
    (["--pipeline", "/no/such/pipeline"], "not a built-in pipeline nor a folder"),
    (["--device", "tpu"], "unknown --device"),
])
def test_bad_options_fail_before_loading(argv, match):
    with pytest.raises(ConfigError, match=match):
        settings_from_args(_args(*argv))


def test_bad_port_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--port", "0"])
    assert exit_.value.code == 2 and "--port" in capsys.readouterr().err


def test_run_serves_on_the_given_port(monkeypatch, capsys):
    import reducio.demo.app as app

    calls = []
    monkeypatch.setattr(app, "launch", lambda settings, port: calls.append((settings.pipeline, port)))
    assert main(["demo", "--port", "7999"]) == 0
    assert calls == [("tiny", 7999)]
    assert "http://127.0.0.1:7999" in capsys.readouterr().out


def test_missing_gradio_says_how_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "gradio", None)  # `import gradio` now raises ImportError
    monkeypatch.delitem(sys.modules, "reducio.cli.run.demo", raising=False)
    monkeypatch.delitem(sys.modules, "reducio.demo.app", raising=False)
    monkeypatch.delitem(sys.modules, "reducio.demo.handlers", raising=False)
    assert main(["demo"]) == 1
    assert 'needs Gradio, which is not installed: pip install "reducio[demo]"' in capsys.readouterr().err
