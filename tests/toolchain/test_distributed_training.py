"""Training that scales out: TF_CONFIG checks, the strategies, and two CPU workers on loopback.

The two-worker tests train a tiny recipe twice — once in one process (`--strategy
default`), once by two worker processes talking over 127.0.0.1 (`--strategy
multiworker`, a TF_CONFIG each) — and compare what they wrote.

What is compared, and why. Both runs start from the same weights (seeded; worker 0's
are broadcast to worker 1) and see the same global batches in the same order (a seeded
shuffle, no augmentation, no dropout); a synchronous all-reduce with synchronised batch
norm makes each two-replica step the one-process step. What is left is floating-point
summation order (two half-batch partial sums, the all-reduce, batch-norm moments summed
across replicas instead of the fused kernel's), which training then amplifies — the
same amplification as running one process with oneDNN's kernels turned off. Measured
on this recipe (distance between final weights, relative to how far training moved
them; per-epoch training loss):

    two workers vs one                               0.9 %     1.3e-3 relative
    one process, TF_ENABLE_ONEDNN_OPTS=0 vs =1       0.7 %     5e-4
    two workers without synchronised batch norm     22 %       1.2e-1

so the tests allow 3 % and 5e-3: rounding passes, a real difference in what a step
computes does not. Validation loss is not compared: after ten steps the batch-norm
moving averages are still near their initial values, so it sits near ln 3 whatever the
weights are and would prove nothing. SGD rather than Adam: Adam divides each gradient by
its own running size, which turns rounding noise on near-zero gradients into whole steps.

Timing: these tests start five TensorFlow processes (one worker, two workers, then two
workers that must refuse to resume) and use about a minute of CPU; on the shared 2-core
development machine the file took 80 s to 3 min of wall time depending on load, over
the 60 s a test of the normal suite may take, so the two-worker tests are marked `slow`
(the TF_CONFIG and strategy tests above them take seconds). The module prints the wall
and CPU time of one worker against two (e.g. 10.6 s / 6.3 s CPU against 45.6 s / 25.5 s
CPU): for a model this small two workers are slower, every step waiting on loopback
all-reduces.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from facelite.errors import UserError
from facelite_build.distribute import (
    STRATEGIES,
    DistributeError,
    distribution,
    parse_tf_config,
)
from facelite_build.recipe import load_recipe

WEIGHT_TOLERANCE = 0.03  # distance between the runs' weights / distance training moved them
LOSS_TOLERANCE = 5e-3  # relative, per epoch

RECIPE = """
name = "tiny_distributed"
version = "0.0.1"
task = "classification"
[data]
path = "{data}"
train = ["train"]
val = ["val"]
[input]
size = 32
color = "gray_as_rgb"
[backbone]
arch = "mobilenet_v1"
alpha = 0.25
output_layer = "conv_pw_3_relu"
[head]
dropout = 0.0
[training]
epochs = 2
batch = 16
optimizer = "sgd"
learning_rate = 0.05
[training.augmentation]
flip = false
"""


def cluster(n: int) -> list[str]:
    """`n` loopback addresses on ports free right now."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [f"127.0.0.1:{s.getsockname()[1]}" for s in sockets]
    finally:
        for s in sockets:
            s.close()


def tf_config(workers: list[str], index: int) -> str:
    return json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})


# --- TF_CONFIG -------------------------------------------------------------------------


def test_tf_config_names_an_index_beyond_the_worker_list():
    with pytest.raises(DistributeError, match=r"TF_CONFIG: task.index 2 but cluster.worker lists 2 workers"):
        parse_tf_config(tf_config(["a:1000", "b:1000"], 2))


@pytest.mark.parametrize("text, problem", [
    (None, "not set"),
    ("{cluster:", "not valid JSON"),
    ('["a:1"]', "must be a JSON object"),
    ('{"task": {"type": "worker", "index": 0}}', 'no "cluster" object'),
    ('{"cluster": {"worker": ["a:1"]}}', 'no "task" object'),
    ('{"cluster": {"worker": ["a:1"], "ps": ["b:1"]}, "task": {"type": "worker", "index": 0}}',
     "cluster.ps is not supported"),
    ('{"cluster": {"worker": []}, "task": {"type": "worker", "index": 0}}', "non-empty list"),
    ('{"cluster": {"worker": ["a"]}, "task": {"type": "worker", "index": 0}}', 'not a "host:port"'),
    ('{"cluster": {"worker": ["a:http"]}, "task": {"type": "worker", "index": 0}}', "port must be a number"),
    ('{"cluster": {"worker": ["a:1", "a:1"]}, "task": {"type": "worker", "index": 0}}', "appears more than once"),
    ('{"cluster": {"chief": ["a:1", "b:1"]}, "task": {"type": "chief", "index": 0}}', "at most one chief"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}', "task.type is 'chief'"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": "0"}}', "not a whole number"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": -1}}', "task.index -1"),
])
def test_a_bad_tf_config_is_a_user_error_naming_the_problem(text, problem):
    with pytest.raises(UserError) as info:
        parse_tf_config(text)
    message = str(info.value)
    assert message.startswith("TF_CONFIG: ") and problem in message
    assert '"cluster"' in message  # and shows what a good one looks like


def test_the_chief_is_the_chief_task_else_worker_zero():
    workers = ["a:1", "b:1"]
    assert parse_tf_config(tf_config(workers, 0)).is_chief
    assert not parse_tf_config(tf_config(workers, 1)).is_chief
    with_chief = {"cluster": {"chief": ["c:1"], "worker": workers}, "task": {"type": "worker", "index": 0}}
    config = parse_tf_config(json.dumps(with_chief))
    assert not config.is_chief and config.workers == 3 and config.task == "worker 0"


def test_multiworker_without_tf_config_fails_before_any_training(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(DistributeError, match="TF_CONFIG: not set"):
        distribution("multiworker")


def test_mirrored_without_a_gpu_trains_on_the_cpu_with_one_replica_and_says_so(capsys):
    import tensorflow as tf

    if tf.config.list_logical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    d = distribution("mirrored")
    assert (d.replicas, d.workers, d.is_chief, d.devices) == (1, 1, True, ("/cpu:0",))
    assert "no GPU found, so training runs on the CPU with one replica" in capsys.readouterr().err


def test_training_strategy_is_a_checked_recipe_key(tmp_path):
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(RECIPE.format(data=tmp_path))
    assert load_recipe(recipe).training.strategy == "default"
    assert load_recipe(recipe, ["training.strategy='mirrored'"]).training.strategy == "mirrored"
    with pytest.raises(UserError, match=r"'training.strategy' is 'mirored'; did you mean 'mirrored'\?"):
        load_recipe(recipe, ["training.strategy='mirored'"])
    assert STRATEGIES == ("default", "mirrored", "multiworker")


# --- two workers on loopback --------------------------------------------------------------


def _command(recipe: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "facelite_build.cli", "train", str(recipe), "--out", str(out),
            "--json", "--quiet", *extra]


def _environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    return {**env, "CUDA_VISIBLE_DEVICES": "-1", **extra}


def _weights(path: Path) -> dict[str, np.ndarray]:
    import h5py

    found: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, item: found.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset) else None)
    return found


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _start_workers(recipe: Path, outs: list[Path], scratch: list[Path], *extra: str) -> list[subprocess.Popen]:
    workers = cluster(len(outs))
    procs = []
    for i, (out, tmp) in enumerate(zip(outs, scratch)):
        tmp.mkdir(exist_ok=True)
        env = _environment(TF_CONFIG=tf_config(workers, i), TMPDIR=str(tmp))
        procs.append(subprocess.Popen(_command(recipe, out, "--strategy", "multiworker", *extra), env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return procs


def _wait(procs: list[subprocess.Popen]) -> list[tuple[str, str]]:
    try:
        return [p.communicate(timeout=900) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()


def _initial_weights(recipe_path: Path) -> dict[str, np.ndarray]:
    """The weights training starts from, made as `stage_train` makes them (seeded by data.seed)."""
    import tf_keras as keras
    from facelite_build.model import build_model

    recipe = load_recipe(recipe_path)
    keras.utils.set_random_seed(recipe.data.seed)
    return {w.name: w.numpy() for w in build_model(recipe, 3).weights}


@pytest.fixture(scope="module")
def trained_both_ways(image_folder, tmp_path_factory):
    """The tiny recipe trained by one process and by two workers."""
    root = tmp_path_factory.mktemp("distributed")
    recipe = root / "recipe.toml"
    recipe.write_text(RECIPE.format(data=image_folder))

    t0, c0 = time.perf_counter(), _cpu_seconds()
    single = subprocess.run(_command(recipe, root / "single"), env=_environment(), capture_output=True,
                            text=True, timeout=900, check=False)
    one = (time.perf_counter() - t0, _cpu_seconds() - c0)
    assert single.returncode == 0, single.stderr[-3000:]

    scratch = [root / "tmp0", root / "tmp1"]
    t0, c0 = time.perf_counter(), _cpu_seconds()
    procs = _start_workers(recipe, [root / "multi"] * 2, scratch)
    outputs = _wait(procs)
    two = (time.perf_counter() - t0, _cpu_seconds() - c0)
    for p, (_, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-3000:]
    print(f"\ntiny recipe, 2 epochs on CPU, process start included: one worker {one[0]:.1f} s wall "
          f"({one[1]:.1f} s CPU), two workers {two[0]:.1f} s wall ({two[1]:.1f} s CPU); "
          f"wall ratio {two[0] / one[0]:.2f}")
    docs = {"single": json.loads(single.stdout), "chief": json.loads(outputs[0][0]),
            "worker": json.loads(outputs[1][0])}
    return {"root": root, "recipe": recipe, "docs": docs, "scratch": scratch}


@pytest.mark.slow
def test_two_cpu_workers_train_the_weights_one_worker_trains(trained_both_ways):
    root = trained_both_ways["root"]
    single = _weights(root / "single" / "train" / "weights.h5")
    multi = _weights(root / "multi" / "train" / "weights.h5")
    start = _initial_weights(trained_both_ways["recipe"])
    assert single.keys() == multi.keys() and len(single) > 20
    names = [k for k in single if "moving_" not in k]  # what the optimizer trains
    by_name = {name.split("/", 1)[1]: value for name, value in single.items()}
    assert set(by_name) >= set(start), "the initial weights are not the model's weights"

    def flat(weights, keys):
        return np.concatenate([np.ravel(weights[k]) for k in keys])

    moved = np.linalg.norm(flat(single, names) - flat(start, [k.split("/", 1)[1] for k in names]))
    apart = np.linalg.norm(flat(single, names) - flat(multi, names))
    assert moved > 0.5  # it trained
    assert apart / moved <= WEIGHT_TOLERANCE, f"two workers' weights are {apart / moved:.2%} of training's move apart"


@pytest.mark.slow
def test_two_cpu_workers_log_the_training_loss_of_one_worker(trained_both_ways):
    root, docs = trained_both_ways["root"], trained_both_ways["docs"]
    single = json.loads((root / "single" / "train" / "state.json").read_text())["history"]
    multi = json.loads((root / "multi" / "train" / "state.json").read_text())["history"]
    assert [h["epoch"] for h in multi] == [1, 2]
    for a, b in zip(single, multi):
        assert abs(a["loss"] - b["loss"]) <= LOSS_TOLERANCE * a["loss"], (a, b)
    assert multi[1]["loss"] < multi[0]["loss"]
    assert docs["chief"]["train"]["history"] == multi


@pytest.mark.slow
def test_only_the_chief_writes_and_the_other_worker_cleans_up(trained_both_ways):
    root, docs, scratch = trained_both_ways["root"], trained_both_ways["docs"], trained_both_ways["scratch"]
    chief, worker = docs["chief"]["train"], docs["worker"]["train"]
    assert (chief["strategy"], chief["replicas"], chief["workers"]) == ("multiworker", 2, 2)
    assert (chief["task"], chief["chief"], worker["task"], worker["chief"]) == ("worker 0", True, "worker 1", False)
    assert sorted(p.name for p in (root / "multi" / "train").iterdir()) == ["ckpt", "state.json", "weights.h5"]
    # worker 1 saved its checkpoints and weights into a temporary folder of its own, then removed it
    assert not [p.name for p in scratch[1].iterdir() if p.name.startswith("facelite-")]


@pytest.mark.slow
def test_a_worker_that_cannot_see_the_chiefs_checkpoint_stops_the_resume(trained_both_ways):
    root, recipe = trained_both_ways["root"], trained_both_ways["recipe"]
    state = (root / "multi" / "train" / "state.json").read_text()
    outputs = _wait(_start_workers(recipe, [root / "multi", root / "elsewhere"],
                                   [root / "tmp2", root / "tmp3"], "--epochs", "3"))
    for out, _ in outputs:
        doc = json.loads(out)
        assert doc["exit_code"] == 2 and "finished epochs: the workers disagree" in doc["error"]
        assert "every worker sees" in doc["error"]
    assert (root / "multi" / "train" / "state.json").read_text() == state  # nothing trained or written
