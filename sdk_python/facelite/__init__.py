"""facelite: on-device face and skin analysis runtime (the golden reference).

Light by design: numpy, OpenCV and LiteRT only. Importing facelite never imports
TensorFlow.
"""

__version__ = "0.1.0"

from .bundle import Bundle, InputSpec, Variant
from .errors import BundleError, DataError, FaceliteError, ImageError, RecipeError, UserError

__all__ = [
    "Bundle", "InputSpec", "Variant",
    "BundleError", "DataError", "FaceliteError", "ImageError", "RecipeError", "UserError",
]
