"""Parser for the official LiteRT `benchmark_model` tool's log.

Reads the lines the tool prints at the end of a run, e.g.:

    INFO: Replacing 62 out of 66 node(s) with delegate (TfLiteGpuDelegateV2) node, yielding 2 partitions ...
    INFO: count=50 first=14 curr=12 min=11 max=30 avg=12.9 std=2 p5=11 median=12 p95=20
    INFO: Inference timings in us: Init: 119515, First inference: 87112, Warmup (avg): 58147.4, Inference (avg): 63743.2
    INFO: Memory footprint delta from the start of the tool (MB): init=55.4961 overall=55.4961
    INFO: Overall peak memory footprint (MB) via periodic monitoring: 63.4

and maps them onto the bench's result keys (ms, MB). `benchmark_model` reports no
p90/p99, so those stay None; its `median` becomes p50.
"""

from __future__ import annotations

import re
from typing import Any

_TIMINGS = re.compile(
    r"Inference timings in us:\s*Init:\s*([\d.eE+-]+),\s*First inference:\s*([\d.eE+-]+),\s*"
    r"Warmup \(avg\):\s*([\d.eE+-]+),\s*Inference \(avg\):\s*([\d.eE+-]+)")
_MEM_DELTA = re.compile(r"Memory footprint delta from the start of the tool \(MB\):\s*init=([\d.]+)\s+overall=([\d.]+)")
_PEAK_MEM = re.compile(r"[Pp]eak memory footprint \(MB\)[^:]*:\s*([\d.]+)")
_REPLACING = re.compile(r"Replacing (\d+) out of (\d+) node\(s\) with delegate \(([^)]*)\)")
_COUNT = re.compile(r"count=(\d+)((?:\s+\w+=[\d.eE+-]+)+)")


def parse(text: str) -> dict[str, Any]:
    """benchmark_model stdout+stderr → bench result keys; raises ValueError if no timings line."""
    m = _TIMINGS.search(text)
    if not m:
        raise ValueError("benchmark_model output has no 'Inference timings in us:' line; "
                         "did the run fail? (see its log)")
    init_us, first_us, warm_us, avg_us = (float(v) for v in m.groups())
    ms = lambda us: round(us / 1000.0, 4)  # noqa: E731
    out: dict[str, Any] = {
        "init_ms": ms(init_us), "first_ms": ms(first_us),
        "warmup_avg_ms": ms(warm_us), "avg_ms": ms(avg_us),
        "p50_ms": None, "p90_ms": None, "p99_ms": None, "std_ms": None,
        "peak_rss_mb": None, "runner": "benchmark_model",
    }
    counts = [dict(kv.split("=") for kv in c.group(2).split()) | {"count": c.group(1)}
              for c in _COUNT.finditer(text)]
    if counts:  # the last count= line is the timed inference loop
        last = counts[-1]
        out["runs"] = int(last["count"])
        if "std" in last:
            out["std_ms"] = ms(float(last["std"]))
        if "median" in last:
            out["p50_ms"] = ms(float(last["median"]))
        for key in ("min", "max"):
            if key in last:
                out[f"{key}_ms"] = ms(float(last[key]))
    peak = _PEAK_MEM.search(text)
    delta = _MEM_DELTA.search(text)
    if delta:
        out["memory_delta_mb"] = {"init": float(delta.group(1)), "overall": float(delta.group(2))}
        out["peak_rss_delta_mb"] = float(delta.group(2))
    if peak:
        out["peak_rss_mb"] = float(peak.group(1))
    elif delta:
        out["peak_rss_mb"] = float(delta.group(2))
    reps = _REPLACING.findall(text)
    if reps:
        replaced, total, name = reps[-1]
        out["delegate"] = {"name": name, "nodes_delegated": int(replaced), "nodes_total": int(total),
                           "coverage": round(int(replaced) / int(total), 4) if int(total) else None}
    else:
        out["delegate"] = None
    return out


def accelerator_from(parsed: dict, requested: str) -> tuple[str, str | None]:
    """Which accelerator actually ran, judged from the delegate line."""
    d = parsed.get("delegate")
    if requested in ("gpu", "npu"):
        if d and d["nodes_delegated"]:
            partial = d["nodes_delegated"] < d["nodes_total"]
            return requested, (f"partial: {d['nodes_delegated']}/{d['nodes_total']} nodes on "
                               f"{d['name']}, rest on cpu" if partial else None)
        return "cpu", f"{requested} requested but no node was delegated; ran on cpu"
    return "cpu", None


def flags(graph: str, runs: int, warmup: int, threads: int, accelerator: str) -> list[str]:
    f = [f"--graph={graph}", f"--num_runs={runs}", f"--warmup_runs={warmup}",
         f"--num_threads={threads}", "--report_peak_memory_footprint=true"]
    if accelerator == "gpu":
        f.append("--use_gpu=true")
    elif accelerator == "npu":
        f.append("--use_nnapi=true")
    return f
