"""facelite-build: recipe → trained, pruned, quantized, verified bundle.

TFMOT does not support Keras 3, so the toolchain runs on tf-keras. The switch is set
here, before anything imports TensorFlow, so users never have to export it.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
