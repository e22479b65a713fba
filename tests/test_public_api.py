import pytest

import reducio


def test_every_public_name_resolves():
    for name in reducio.__all__:
        assert getattr(reducio, name) is not None, name


def test_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError, match="no_such_thing"):
        reducio.no_such_thing


def test_errors_share_one_base_class():
    for name in ("ConfigError", "CheckpointError", "VideoReadError", "ShapeError", "PipelineInputError"):
        assert issubclass(getattr(reducio, name), reducio.ReducioError)
