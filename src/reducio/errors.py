"""Errors raised at reducio's boundaries.

Every error a user can trigger with bad input is a `ReducioError` subclass whose message names
the problem, the value received and the fix. Catch `ReducioError` to handle all of them.
"""


class ReducioError(Exception):
    """Base class of every error reducio raises on purpose."""


class ConfigError(ReducioError, ValueError):
    """A config file or value is invalid (unknown key, wrong type, value out of range)."""


class CheckpointError(ReducioError):
    """A checkpoint cannot be read or does not match the model (missing / unexpected / mis-shaped keys)."""


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint would need to execute code to be read; it was refused without running it."""


class ModelNotFoundError(CheckpointError, FileNotFoundError):
    """A model path or hub id could not be resolved (offline, wrong path, missing file)."""


class VideoInputError(ReducioError, ValueError):
    """A video file or tensor given as input is missing, empty, corrupt, too short or mis-shaped."""


class VideoReadError(VideoInputError):
    """A video file could not be opened or decoded."""


class ShapeError(VideoInputError):
    """A tensor has the wrong shape (frame count, size not a multiple of 32, channel count...)."""


class VideoWriteError(ReducioError):
    """A video could not be written (unknown container, unwritable path)."""


class OutputPathError(VideoWriteError, ValueError):
    """An output path cannot be what the user meant (a file named where a folder is needed, an
    existing folder where a file is asked for, a folder that cannot be created)."""


class PipelineInputError(ReducioError, ValueError):
    """A pipeline argument breaks a rule; the message names the argument, the rule and the value."""
