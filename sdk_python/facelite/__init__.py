"""facelite: on-device face and skin analysis runtime (the golden reference).

Light by design: numpy, OpenCV and LiteRT only. Importing facelite never imports
TensorFlow, and imports nothing else either until a name is used (`_EXPORTS`): the
cold start of an app is the modules its tasks need.

    >>> from facelite import BaseOptions, FaceAnalyzer, FaceAnalyzerOptions
    >>> options = FaceAnalyzerOptions(base_options=BaseOptions(accelerator="cpu"))
    >>> analyzer = FaceAnalyzer.create_from_options(options)          # the shipped bundles
    >>> result = analyzer.analyze("photo.jpg")                         # doctest: +SKIP
    >>> [(f.box.score, f.expression and f.expression.top) for f in result.faces]  # doctest: +SKIP
"""

__version__ = "0.1.0"

# Public names → the module that defines them, imported on first use (PEP 562), so that
# `import facelite` costs a few milliseconds and an app pays only for what it touches: a
# FaceAnalyzer never loads the video sources, skin history or forecast modules.
_EXPORTS = {
    ".bundle": ("Bundle", "InputSpec", "Variant"),
    ".errors": ("BundleError", "DataError", "FaceliteError", "HistoryError", "ImageError", "UserError"),
    ".image": ("load_image",),
    ".engine": ("Engine", "EngineInfo"),
    ".detection": ("Box",),
    ".options": ("Accelerator", "BaseOptions", "RunningMode", "StandIn"),
    ".vision_task": ("VisionTask",),
    ".sources": ("Camera", "VideoFile", "VideoFrame", "image_paths", "iter_video_frames"),
    ".live_stream": ("LatestFrameWorker",),
    ".classifier": ("Classification", "ExpressionClassifier", "ExpressionClassifierOptions"),
    ".acne": ("AcneGrade", "AcneGrader", "AcneGraderOptions"),
    ".skin_scores": ("ConcernScore", "Tone"),
    ".skin": ("SkinAnalyzer", "SkinAnalyzerOptions", "SkinReport"),
    ".face_detector": ("DetectionResult", "FaceDetector", "FaceDetectorOptions"),
    ".landmarker": ("FaceLandmarker", "FaceLandmarkerOptions", "LandmarksResult"),
    ".align": ("AlignedFace", "align_face"),
    ".regions": ("REGION_NAMES", "face_regions"),
    ".analyzer": ("AnalysisResult", "Face", "FaceAnalyzer", "FaceAnalyzerOptions"),
    ".forecast": ("ScoreForecast", "forecast_score"),
    ".skin_history": ("ScoreSeries", "SkinHistory"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = list(_MODULE_OF)


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'facelite' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
