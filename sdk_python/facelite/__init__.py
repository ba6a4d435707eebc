"""facelite: on-device face and skin analysis runtime (the golden reference).

Light by design: numpy, OpenCV and LiteRT only. Importing facelite never imports
TensorFlow.

    >>> from facelite import BaseOptions, FaceAnalyzer, FaceAnalyzerOptions
    >>> options = FaceAnalyzerOptions(base_options=BaseOptions(accelerator="cpu"))
    >>> analyzer = FaceAnalyzer.create_from_options(options)          # the shipped bundles
    >>> result = analyzer.analyze("photo.jpg")                         # doctest: +SKIP
    >>> [(f.box.score, f.expression and f.expression.top) for f in result.faces]  # doctest: +SKIP
"""

__version__ = "0.1.0"

from .bundle import Bundle, InputSpec, Variant
from .errors import BundleError, DataError, FaceliteError, HistoryError, ImageError, UserError
from .image import load_image
from .engine import Engine, EngineInfo
from .detection import Box
from .options import Accelerator, BaseOptions, RunningMode, StandIn
from .vision_task import VisionTask
from .sources import VideoFile, VideoFrame, image_paths, iter_video_frames
from .classifier import Classification, ExpressionClassifier, ExpressionClassifierOptions
from .acne import AcneGrade, AcneGrader, AcneGraderOptions
from .skin_scores import ConcernScore, Tone
from .skin import SkinAnalyzer, SkinAnalyzerOptions, SkinReport
from .face_detector import DetectionResult, FaceDetector, FaceDetectorOptions
from .landmarker import FaceLandmarker, FaceLandmarkerOptions, LandmarksResult
from .align import AlignedFace, align_face
from .regions import REGION_NAMES, face_regions
from .analyzer import AnalysisResult, Face, FaceAnalyzer, FaceAnalyzerOptions
from .forecast import ScoreForecast, forecast_score
from .skin_history import ScoreSeries, SkinHistory

__all__ = [
    "Bundle", "InputSpec", "Variant",
    "BundleError", "DataError", "FaceliteError", "HistoryError", "ImageError", "UserError",
    "load_image", "Engine", "EngineInfo", "Box",
    "Accelerator", "BaseOptions", "RunningMode", "StandIn", "VisionTask",
    "VideoFile", "VideoFrame", "image_paths", "iter_video_frames",
    "Classification", "ExpressionClassifier", "ExpressionClassifierOptions",
    "AcneGrade", "AcneGrader", "AcneGraderOptions",
    "ConcernScore", "Tone", "SkinAnalyzer", "SkinAnalyzerOptions", "SkinReport",
    "DetectionResult", "FaceDetector", "FaceDetectorOptions",
    "FaceLandmarker", "FaceLandmarkerOptions", "LandmarksResult",
    "AlignedFace", "align_face", "REGION_NAMES", "face_regions",
    "AnalysisResult", "Face", "FaceAnalyzer", "FaceAnalyzerOptions",
    "ScoreForecast", "forecast_score", "ScoreSeries", "SkinHistory",
]
