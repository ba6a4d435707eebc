"""facelite: on-device face and skin analysis runtime (the golden reference).

Light by design: numpy, OpenCV and LiteRT only. Importing facelite never imports
TensorFlow.

    >>> from facelite import FaceAnalyzer, FaceAnalyzerOptions
    >>> analyzer = FaceAnalyzer.create_from_options(FaceAnalyzerOptions(accelerator="cpu"))
    >>> result = analyzer.analyze("photo.jpg")                         # doctest: +SKIP
    >>> [(f.box.score, f.expression and f.expression.top) for f in result.faces]  # doctest: +SKIP
"""

__version__ = "0.1.0"

from .bundle import Bundle, InputSpec, Variant
from .errors import BundleError, DataError, FaceliteError, ImageError, RecipeError, UserError
from .image import load_image
from .engine import Engine, EngineInfo
from .detection import Box
from .classifier import Classification, ExpressionClassifier, ExpressionClassifierOptions
from .skin import SkinClassifier, SkinClassifierOptions, SkinResult
from .face_detector import DetectionResult, FaceDetector, FaceDetectorOptions
from .landmarker import FaceLandmarker, FaceLandmarkerOptions, LandmarksResult
from .align import AlignedFace, align_face
from .regions import REGION_NAMES, face_regions
from .analyzer import AnalysisResult, Face, FaceAnalyzer, FaceAnalyzerOptions

__all__ = [
    "Bundle", "InputSpec", "Variant",
    "BundleError", "DataError", "FaceliteError", "ImageError", "RecipeError", "UserError",
    "load_image", "Engine", "EngineInfo", "Box",
    "Classification", "ExpressionClassifier", "ExpressionClassifierOptions",
    "SkinClassifier", "SkinClassifierOptions", "SkinResult",
    "DetectionResult", "FaceDetector", "FaceDetectorOptions",
    "FaceLandmarker", "FaceLandmarkerOptions", "LandmarksResult",
    "AlignedFace", "align_face", "REGION_NAMES", "face_regions",
    "AnalysisResult", "Face", "FaceAnalyzer", "FaceAnalyzerOptions",
]
