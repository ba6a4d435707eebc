"""Where training runs: this process's default device, every GPU of this machine, or many machines.

`training.strategy` (or `facelite-build train|build --strategy`) picks one of:

- `default` — TensorFlow's default device (a GPU when there is one), one replica;
- `mirrored` — `tf.distribute.MirroredStrategy`: one replica per GPU of this machine,
  gradients all-reduced every step. Without a GPU it runs on the CPU with one replica
  and says so;
- `multiworker` — `tf.distribute.MultiWorkerMirroredStrategy`: one process per
  machine, each with its GPUs (or its CPU), told who it is by the `TF_CONFIG`
  environment variable (`parse_tf_config` checks it first and names what is wrong).

What is the same under every strategy, so one recipe means one training whatever the
hardware: the recipe's `training.batch` is the **global** batch. Keras `fit` splits each
batch across the replicas (batch / replicas examples each; a batch that does not divide
is split as evenly as it can be), the loss is averaged over the global batch and the
gradients summed across replicas, so a step is the step one device would take on the
whole batch. The learning rate therefore keeps its meaning and is not rescaled here. To
use more devices for speed, raise `training.batch` and scale `training.learning_rate`
with it (linear scaling, with `warmup_epochs`), a recipe choice like any other.
Batch normalisation is synchronised across replicas (each layer's batch statistics are
all-reduced), so it too sees the global batch, not a replica's slice; that costs one
small all-reduce per layer per step.

Multi-worker rules, from the `tf.distribute` documentation:

- the strategy is made before TensorFlow runs any op, so `distribution()` is called
  first and its one object per process is reused;
- every worker reads the whole dataset from its own `--data` and keeps its share of
  each global batch (`AutoShardPolicy.DATA`): the examples live in memory, not in files;
- every worker takes part in saving (reading a synchronised variable is itself an
  all-reduce), but only the chief (`chief` in the cluster, else worker 0) writes to the
  real folder; the others write to a temporary folder of their own, removed afterwards;
- resuming reads the chief's checkpoint, so the work folder (`--out`) must be on a
  filesystem every worker sees; `Distribution.agree` stops the run, naming the folder,
  when workers would resume from different epochs.

Example (the strategy of a plain, one-device run):

    >>> from facelite_build.distribute import distribution
    >>> d = distribution("default")
    >>> d.replicas, d.is_chief, d.task
    (1, True, 'this process')
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from facelite.errors import UserError

STRATEGIES = ("default", "mirrored", "multiworker")
TF_CONFIG = "TF_CONFIG"
JOBS = ("chief", "worker")  # MultiWorkerMirroredStrategy is synchronous: no "ps", no "evaluator"
TF_CONFIG_EXAMPLE = (
    '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}'
)


class DistributeError(UserError):
    """The strategy cannot be set up: a bad or missing TF_CONFIG, or workers that disagree."""


@dataclass(frozen=True)
class ClusterConfig:
    """A checked `TF_CONFIG`: the cluster's jobs (name → "host:port" list) and this task."""

    cluster: dict[str, list[str]]
    task_type: str
    task_index: int

    @property
    def workers(self) -> int:
        return sum(len(addresses) for addresses in self.cluster.values())

    @property
    def is_chief(self) -> bool:
        if "chief" in self.cluster:
            return self.task_type == "chief"
        return self.task_type == "worker" and self.task_index == 0

    @property
    def task(self) -> str:
        return f"{self.task_type} {self.task_index}"


def _fail(problem: str) -> DistributeError:
    return DistributeError(f"{TF_CONFIG}: {problem}; it looks like {TF_CONFIG_EXAMPLE} "
                           "(the same cluster on every machine, each with its own task)")


def _check_address(job: str, i: int, address: Any) -> None:
    if not isinstance(address, str) or address.count(":") < 1:
        raise _fail(f"cluster.{job}[{i}] is {address!r}, not a \"host:port\" string")
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise _fail(f"cluster.{job}[{i}] is {address!r}: the port must be a number from 1 to 65535")


def parse_tf_config(text: str | None) -> ClusterConfig:
    """Check a `TF_CONFIG` value for a multi-worker training; raise DistributeError naming the problem.

    >>> config = '{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 2}}'
    >>> parse_tf_config(config)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    facelite_build.distribute.DistributeError: TF_CONFIG: task.index 2 but cluster.worker lists 2 workers ...
    """
    if not text or not text.strip():
        raise _fail("not set: --strategy multiworker needs it on every machine")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(f"not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise _fail(f"must be a JSON object, got {type(doc).__name__}")
    cluster, task = doc.get("cluster"), doc.get("task")
    if not isinstance(cluster, dict) or not cluster:
        raise _fail("no \"cluster\" object listing the machines")
    if not isinstance(task, dict):
        raise _fail("no \"task\" object saying which of the machines this one is")
    for job, addresses in cluster.items():
        if job not in JOBS:
            raise _fail(f"cluster.{job} is not supported: MultiWorkerMirroredStrategy trains "
                        f"synchronously on '{JOBS[0]}' (at most one) and '{JOBS[1]}' machines only")
        if not isinstance(addresses, list) or not addresses:
            raise _fail(f"cluster.{job} must be a non-empty list of \"host:port\" strings")
        for i, address in enumerate(addresses):
            _check_address(job, i, address)
    if len(cluster.get("chief", [])) > 1:
        raise _fail(f"cluster.chief lists {len(cluster['chief'])} machines; there is at most one chief")
    everyone = [a for addresses in cluster.values() for a in addresses]
    repeated = sorted({a for a in everyone if everyone.count(a) > 1})
    if repeated:
        raise _fail(f"{', '.join(repeated)} appears more than once in the cluster; each task needs its own port")
    task_type, index = task.get("type"), task.get("index")
    if task_type not in cluster:
        raise _fail(f"task.type is {task_type!r} but the cluster lists {', '.join(map(repr, cluster))}")
    if not isinstance(index, int) or isinstance(index, bool):
        raise _fail(f"task.index is {index!r}, not a whole number")
    count = len(cluster[task_type])
    if not 0 <= index < count:
        noun = "worker" if count == 1 else "workers"
        raise _fail(f"task.index {index} but cluster.{task_type} lists {count} {noun} (index 0 to {count - 1})")
    return ClusterConfig({job: list(a) for job, a in cluster.items()}, task_type, index)


@dataclass
class Distribution:
    """A `tf.distribute.Strategy` and what the trainer needs to know about this process's part in it.

    `replicas`: replicas in sync across all workers (the global batch is split that many
    ways); `workers`: processes in the cluster; `task`: this process, for logs;
    `is_chief`: whether this process writes checkpoints, the weights and the state file.
    """

    name: str
    strategy: Any
    replicas: int
    workers: int
    task: str
    is_chief: bool
    devices: tuple[str, ...]

    def scope(self):
        """The strategy's scope: models, optimizers and their variables are made inside it."""
        return self.strategy.scope()

    def describe(self) -> dict:
        return {"strategy": self.name, "replicas": self.replicas, "workers": self.workers,
                "task": self.task, "chief": self.is_chief, "devices": list(self.devices)}

    def synchronize_batch_norm(self, model) -> None:
        """Make every BatchNormalization of `model` use the global batch's statistics.

        With one replica this changes nothing. With several it sets the layers' own
        `synchronized` option (and turns off the fused kernel, which cannot all-reduce),
        before `fit` traces the model, so the forward pass is the one-device forward pass.
        """
        if self.replicas <= 1:
            return
        import tf_keras as keras

        for layer in model.submodules:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.synchronized, layer.fused = True, False

    def distributable(self, dataset):
        """`dataset` with the sharding multi-worker training needs: each worker keeps its share of a batch."""
        if self.workers <= 1 or dataset is None:
            return dataset
        import tensorflow as tf

        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        return dataset.with_options(options)

    @contextlib.contextmanager
    def writable(self, folder: Path) -> Iterator[Path]:
        """The folder this process writes `folder`'s files to: `folder` itself on the chief,
        a temporary folder of its own (removed on exit) on any other worker."""
        if self.is_chief:
            folder.mkdir(parents=True, exist_ok=True)
            yield folder
            return
        scratch = Path(tempfile.mkdtemp(prefix=f"facelite-{self.task.replace(' ', '')}-"))
        try:
            yield scratch
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def agree(self, value: int, what: str) -> int:
        """`value` when every worker holds the same; else DistributeError naming `what`.

        Used for the epoch training resumes from: a worker that cannot see the chief's
        checkpoint would start over while the others resume, and the run would hang.
        """
        if self.workers <= 1:
            return value
        import tensorflow as tf

        v = tf.constant([value, value * value], tf.float64)

        @tf.function  # an eager collective works too, but TensorFlow warns it is slow
        def total():
            return self.strategy.reduce(tf.distribute.ReduceOp.SUM, self.strategy.run(tf.identity, (v,)), axis=None)

        s, s2 = (float(t) for t in total().numpy())
        n = self.replicas
        if abs(s2 * n - s * s) > 1e-6 * max(1.0, s * s):
            raise DistributeError(
                f"{what}: the workers disagree ({self.task} found {value}, the cluster's mean is {s / n:g}); "
                "resuming reads the chief's checkpoint, so --out must be a folder every worker sees "
                "(a shared filesystem), or start with a fresh --out on every machine"
            )
        return value


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@functools.cache
def distribution(name: str = "default") -> Distribution:
    """The process's `Distribution` for strategy `name` (made once: multi-worker collectives
    are configured at start-up, before TensorFlow runs any op)."""
    if name not in STRATEGIES:
        raise DistributeError(f"strategy '{name}' is not one of {', '.join(STRATEGIES)}")
    import tensorflow as tf

    if name != "multiworker" and os.environ.get(TF_CONFIG):
        _log(f"  warning: {TF_CONFIG} is set but the strategy is '{name}': this machine trains on its own "
             "(use --strategy multiworker to train with the cluster)")
    if name == "default":
        return Distribution(name, tf.distribute.get_strategy(), 1, 1, "this process", True, ("default",))
    if name == "mirrored":
        gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
        if not gpus:
            _log("  mirrored: no GPU found, so training runs on the CPU with one replica")
            strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
        else:
            strategy = tf.distribute.MirroredStrategy(gpus)
        devices = tuple(gpus) or ("/cpu:0",)
        return Distribution(name, strategy, strategy.num_replicas_in_sync, 1, "this process", True, devices)
    config = parse_tf_config(os.environ.get(TF_CONFIG))
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    local = tuple(d.name for d in tf.config.list_logical_devices("GPU")) or ("/cpu:0",)
    return Distribution(name, strategy, strategy.num_replicas_in_sync, config.workers, config.task,
                        config.is_chief, local)
