"""The toolchain's task registry: what building a model of each task takes.

The runtime's registry (`facelite.tasks`) says how a task's outputs are decoded, scored
and verified. Each entry here builds on that entry (`BuildTask.runtime`) and adds what
only a build needs: the recipes it accepts (head, data layout, crop), how its examples
are read and its training targets made, its head, its tf.data pipelines and loss, the
metrics written into the manifest, and the manifest's `output` block. The builder,
trainer, model factory and recipe validator ask the entry and never branch on the task's
name, so a new task is one new module here.

Example:

    >>> from facelite_build.tasks import TASKS, get_task
    >>> sorted(TASKS)
    ['classification', 'detection', 'image_to_image', 'landmarks', 'skin_metrics']
    >>> get_task("landmarks").head, get_task("landmarks").n_outputs([])
    ('points', 136)
"""

from __future__ import annotations

from ..errors import RecipeError
from .base import BuildTask
from .classification import Classification
from .detection import Detection
from .image_to_image import ImageToImage
from .landmarks import Landmarks
from .skin_metrics import SkinMetrics

TASKS: dict[str, BuildTask] = {t.name: t for t in (Classification(), Landmarks(), Detection(), ImageToImage(),
                                            SkinMetrics())}


def get_task(name: str) -> BuildTask:
    """The build entry of task `name`; RecipeError naming the known tasks otherwise."""
    try:
        return TASKS[name]
    except KeyError:
        raise RecipeError(f"task '{name}' cannot be built; choose one of {', '.join(sorted(TASKS))}") from None


__all__ = ["TASKS", "BuildTask", "get_task"]
