"""Task options and the task base class: one BaseOptions shared by every task, checked
when made, `create_from_options` / `close` the same for every task."""

import dataclasses

import numpy as np
import pytest

from facelite import (Accelerator, BaseOptions, BundleError, ExpressionClassifier, ExpressionClassifierOptions,
                      FaceAnalyzer, FaceAnalyzerOptions, FaceDetector, FaceDetectorOptions, FaceLandmarker,
                      FaceLandmarkerOptions, RunningMode, SkinAnalyzer, SkinAnalyzerOptions, UserError,
                      VisionTask)
from facelite.sources import image_paths, is_video

TASKS = [(ExpressionClassifier, ExpressionClassifierOptions), (SkinAnalyzer, SkinAnalyzerOptions),
         (FaceDetector, FaceDetectorOptions), (FaceLandmarker, FaceLandmarkerOptions),
         (FaceAnalyzer, FaceAnalyzerOptions)]


def test_accelerator_takes_the_enum_or_its_plain_string():
    assert BaseOptions(accelerator="GPU").accelerator is Accelerator.GPU
    assert BaseOptions(accelerator=Accelerator.NPU).accelerator == "npu"
    with pytest.raises(UserError, match="accelerator 'tpu': unknown; use one of auto, cpu, gpu, npu"):
        BaseOptions(accelerator="tpu")


@pytest.mark.parametrize("threads", [0, -1, 1.5, True])
def test_bad_thread_counts_are_a_user_error_about_threads_not_the_bundle(threads):
    with pytest.raises(UserError) as err:
        BaseOptions(num_threads=threads)
    assert "num_threads" in str(err.value) and ">= 1" in str(err.value) and "bundle" not in str(err.value)


def test_unknown_variant_is_a_user_error_listing_the_variants():
    with pytest.raises(UserError, match="variant 'fp8': unknown; use auto or one of fp32, fp16, dynamic, int8"):
        BaseOptions(variant="fp8")


@pytest.mark.parametrize("mode", [RunningMode.VIDEO, "live_stream"])
def test_running_modes_other_than_image_say_they_are_not_implemented_yet(mode):
    with pytest.raises(UserError, match="not implemented yet"):
        FaceDetectorOptions(running_mode=mode)
    assert FaceDetectorOptions(running_mode="image").running_mode is RunningMode.IMAGE


@pytest.mark.parametrize("task, options_type", TASKS)
def test_every_task_is_a_vision_task_whose_options_hold_one_base_options(task, options_type):
    assert issubclass(task, VisionTask) and task.options_type is options_type
    assert isinstance(options_type().base_options, BaseOptions)


def test_one_base_options_configures_several_tasks(bundles):
    base = BaseOptions(accelerator="cpu", num_threads=3)
    landmarker = FaceLandmarker.create_from_options(FaceLandmarkerOptions(
        base_options=dataclasses.replace(base, bundle_path=bundles["landmarks"])))
    classifier = ExpressionClassifier.create_from_options(ExpressionClassifierOptions(
        base_options=dataclasses.replace(base, bundle_path=bundles["expression"], variant="int8")))
    assert (landmarker.info.num_threads, landmarker.info.accelerator) == (3, "cpu")
    assert (classifier.info.num_threads, classifier.info.variant) == (3, "int8")


def test_task_options_check_their_own_values():
    with pytest.raises(UserError, match="min_score 1.5: must be between 0.0 and 1.0"):
        FaceDetectorOptions(min_score=1.5)
    with pytest.raises(UserError, match="max_faces 0: must be >= 1"):
        FaceAnalyzerOptions(max_faces=0)
    with pytest.raises(UserError, match="stand_in 'sometimes': unknown"):
        FaceLandmarkerOptions(stand_in="sometimes")
    with pytest.raises(UserError, match="pass bundles_dir"):
        FaceAnalyzerOptions(base_options=BaseOptions(bundle_path="x.flb"))


def test_create_from_options_rejects_another_tasks_options():
    with pytest.raises(UserError, match="FaceDetector.create_from_options: takes FaceDetectorOptions, "
                                        "not FaceLandmarkerOptions"):
        FaceDetector.create_from_options(FaceLandmarkerOptions())


def test_a_bundle_of_the_wrong_task_is_refused_naming_both(bundles):
    with pytest.raises(BundleError, match="is a 'landmarks' bundle; ExpressionClassifier needs 'classification'"):
        ExpressionClassifier.create_from_bundle(bundles["landmarks"])


def test_close_and_context_manager_release_the_engine(bundles):
    with ExpressionClassifier.create_from_bundle(bundles["expression"]) as clf:
        assert clf.engine is not None
        top = clf.classify(np.zeros((48, 48, 3), np.uint8)).top
        assert top[0] in clf.labels
    assert clf.engine is None and clf.info is None
    with pytest.raises(UserError, match="ExpressionClassifier is closed"):
        clf.classify(np.zeros((48, 48, 3), np.uint8))
    clf.close()   # twice is harmless


def test_image_paths_takes_a_file_or_a_folder_tree(tmp_path):
    (tmp_path / "x" / "y").mkdir(parents=True)
    for name in ("b.jpg", "x/a.PNG", "x/y/c.webp", "x/readme.txt"):
        (tmp_path / name).write_bytes(b"")
    assert [p.relative_to(tmp_path).as_posix() for p in image_paths(tmp_path)] == ["b.jpg", "x/a.PNG", "x/y/c.webp"]
    assert image_paths(tmp_path / "b.jpg") == [tmp_path / "b.jpg"]
    assert is_video(tmp_path / "clip.MOV") and not is_video(tmp_path / "b.jpg")
