"""The runnable examples in the runtime's docstrings stay true."""

import doctest
import importlib

import pytest

MODULES = ["image", "detection", "regions", "align", "mean_shape", "skin", "skin_scores", "landmarker", "annotate",
           "preprocess", "analyzer", "face_detector", "options", "vision_task", "sources", "cli_core",
           "schema", "tasks", "verify", "engine", "forecast", "skin_context", "skin_history", "quality", "files", "datasets",
           "live_stream", "smoothing", "tracking"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(f"facelite.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
