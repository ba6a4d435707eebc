"""Fuzz campaign: seeded bundle mutants and bad images through `facelite verify`, `inspect` and `analyze`.

Every bundle mutant (`tests/mutants.py`: byte flips, truncation, duplicate, renamed,
compressed or encrypted members, zip bombs, manifest edits, golden `.npy` and `.tflite`
edits re-sealed so they reach LiteRT, signature edits) runs through three commands:
`facelite verify M`, `facelite inspect M` and `facelite analyze PHOTO --bundles DIR --skin
--restore` (so every slot's bundle is opened: the skin stages load skin_metrics, acne and
restoration) with the mutant in its slot of DIR and the pristine bundles of its origin
beside it. Every bad image runs through `facelite analyze IMAGE --skin` with the shipped bundles and with
`--stand-ins` (the Haar cascade and mean face shape). A run passes when its exit code is
one the input allows (0 only where it is still valid, else 2; see `tests/mutants.py`),
its peak memory stays under `--max-mb` and it ends within `--timeout` seconds.

Cheap runs: facelite is imported once, and each run is a `fork` calling
`facelite.cli.main(argv)`, with stdout to /dev/null, stderr to a file, an address-space
cap (`--cap-gb`) so a runaway allocation fails instead of swapping the machine, and its
peak RSS read from `os.wait4`'s rusage. (The forked child shares the parent's already
loaded pages, so its peak counts what the command itself touched: a fresh `facelite`
process needs about 60 MB more.) The bad images are made in a child process, so this
process never runs OpenCV before it forks.

Mutants re-signed with the campaign's own key (trusted through `FACELITE_TRUSTED_KEYS`
in the children) get past the signature check, so the checks behind it are fuzzed too.

    python benchmarks/fuzz.py --bundles 2000 --images 200 --json > fuzz.json
    python benchmarks/fuzz.py --bundles 100 --only zip_bomb,manifest_json
    python benchmarks/fuzz.py --case bundle:137,image:21 --keep /tmp/cases   # inputs kept, commands printed
Exit status: 0 when every run passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import importlib.util
import json
import os
import resource
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(CHECKOUT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import fuzz_cases  # benchmarks/fuzz_cases.py: the case options, replay and loop
import mutants  # tests/mutants.py: the inputs
from measured_process import wait_or_kill_group  # benchmarks/measured_process.py
from facelite.analyzer import OPTIONAL_BUNDLES, REQUIRED_BUNDLES

ACNE_PHOTO = "acne04/level0/level0_1.jpg"
FIXTURE_SLOTS = ("expression", "face_detector", "landmarks")


@dataclass
class Run:
    """One command on one input: what it did and whether that is allowed."""

    case: str
    category: str
    source: str
    command: str
    detail: str
    level: str
    resigned: bool
    exit: int | None           # None: killed at the timeout
    signal: int | None
    peak_mb: float
    seconds: float
    allowed: tuple[int, ...]
    error: str
    argv: list[str]
    problems: list[str]

    def to_json(self) -> dict:
        return {"case": self.case, "category": self.category, "source": self.source, "command": self.command,
                "detail": self.detail, "level": self.level, "resigned": self.resigned, "exit": self.exit,
                "signal": self.signal, "peak_mb": round(self.peak_mb, 1), "seconds": round(self.seconds, 3),
                "allowed": list(self.allowed), "error": self.error, "problems": self.problems}


# -- running one command -----------------------------------------------------------------------


def run_cli(argv: list[str], stderr_path: Path, timeout: float, cap_bytes: int) -> tuple[int | None, int | None,
                                                                                        float, float]:
    """`facelite.cli.main(argv)` in a forked child: (exit code or None on timeout, signal, peak MB, seconds)."""
    import facelite.cli

    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 70
        try:
            os.setpgid(0, 0)
            resource.setrlimit(resource.RLIMIT_AS, (cap_bytes, cap_bytes))
            null = os.open(os.devnull, os.O_RDWR)
            os.dup2(null, 0)
            os.dup2(null, 1)
            err = os.open(stderr_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(err, 2)
            code = facelite.cli.main(argv)
        except BaseException:
            traceback.print_exc()
        finally:
            with contextlib.suppress(BaseException):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code if isinstance(code, int) else 70)
    timed_out = wait_or_kill_group(pid, timeout)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.monotonic() - start
    peak = usage.ru_maxrss / 1024
    if timed_out:
        return None, None, peak, seconds
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status), os.WTERMSIG(status), peak, seconds
    return os.WEXITSTATUS(status), None, peak, seconds


def last_error(path: Path) -> str:
    """The last meaningful stderr line (the `error: ...` line, or a traceback's last line)."""
    try:
        lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    errors = [ln for ln in lines if ln.startswith("error:")]
    text = (errors or lines or [""])[-1]
    return text if len(text) <= 400 else text[:397] + "..."


# -- the campaign ------------------------------------------------------------------------------


def analyzer_loads(slot: str) -> list[str]:
    """`facelite analyze` flags that make the analyzer load the mutated bundle `slot`. The
    analyzer loads its own stages' bundles by name; any other shipped bundle (the 8-class
    `expression_ferplus`) is an expression model it runs only when asked for by name."""
    return [] if slot in REQUIRED_BUNDLES + OPTIONAL_BUNDLES else ["--expression-model", slot]


class Campaign:
    """The work folder, the pristine bundle folders, the campaign key, and the runs so far."""

    def __init__(self, args):
        self.args = args
        self.work = Path(tempfile.mkdtemp(prefix="facelite-fuzz-", dir=args.workdir))
        self.stderr = self.work / "stderr.txt"
        self.runs: list[Run] = []
        self.cap = int(args.cap_gb * 2**30)
        origins = tuple(args.sources.split(","))
        self.sources = mutants.load_sources(CHECKOUT, origins)
        self.signer = mutants.Signer(seed=args.seed.to_bytes(32, "little"))
        os.environ[fuzz_cases.TRUSTED_KEYS_ENV] = fuzz_cases.trust_campaign_key(self.work, self.signer)
        self.signatures = (importlib.util.find_spec("facelite.signing") is not None
                           and bool(self.sources) and all(s.signed for s in self.sources))
        self.pristine = {}
        for origin in ("shipped", "fixture"):
            folder = self.work / "pristine" / origin
            for s in self.sources:
                if s.origin == origin and (origin == "shipped" or s.name in FIXTURE_SLOTS):
                    (folder / s.slot).mkdir(parents=True, exist_ok=True)
                    (folder / s.slot / f"{s.slot}.flb").write_bytes(s.data)
            self.pristine[origin] = folder
        self.stand_ins = self.work / "stand_ins"
        (self.stand_ins / "expression").mkdir(parents=True)
        shutil.copy(CHECKOUT / "tests/fixtures/bundles/expression.flb", self.stand_ins / "expression/expression.flb")
        self.photo = self._photo()

    def _photo(self) -> Path:
        if self.args.photo:
            return Path(self.args.photo)
        data = Path(os.environ.get("FACELITE_DATA") or CHECKOUT.parent / "shared" / "data")
        if (data / ACNE_PHOTO).is_file():
            return data / ACNE_PHOTO
        path = self.work / "photo.png"
        _in_child(lambda: path.write_bytes(_synthetic_photo()))
        return path

    def close(self) -> None:
        if self.args.keep_work:
            print(f"fuzz: work folder kept: {self.work}", file=sys.stderr)
        else:
            shutil.rmtree(self.work, ignore_errors=True)

    def record(self, case, category, source, command, detail, level, resigned, allowed, argv) -> Run:
        code, sig, peak, seconds = run_cli(argv, self.stderr, self.args.timeout, self.cap)
        problems = []
        if code is None:
            problems.append(f"timeout after {seconds:.1f} s")
        elif sig is not None:
            problems.append(f"killed by signal {sig}")
        elif code not in allowed:
            problems.append(f"exit {code} (allowed: {', '.join(map(str, sorted(allowed)))})")
        if peak > self.args.max_mb:
            problems.append(f"peak {peak:.0f} MB (limit {self.args.max_mb:.0f})")
        run = Run(case, category, source, command, detail, level, resigned, code, sig, peak, seconds,
                  tuple(sorted(allowed)), last_error(self.stderr), argv, problems)
        self.runs.append(run)
        return run

    def failures(self) -> list[Run]:
        return [r for r in self.runs if r.problems]

    # -- bundles ---------------------------------------------------------------------------

    def bundle_case(self, index: int, category: str, src: mutants.BundleSource, keep: Path | None = None) -> None:
        m = mutants.bundle_mutant(index, src, category, mutants.mutant_rng(self.args.seed, "bundle", index),
                                  self.signer)
        case_dir = (keep or self.work) / "case"
        if case_dir.exists():
            shutil.rmtree(case_dir)
        bundles = case_dir / "bundles"
        (bundles / m.slot).mkdir(parents=True)
        path = bundles / m.slot / f"{m.slot}.flb"
        path.write_bytes(m.data)
        if src.origin in self.pristine:
            for other in self.pristine[src.origin].iterdir():
                if other.name != m.slot:
                    (bundles / other.name).symlink_to(other, target_is_directory=True)
        case = f"bundle:{index}"
        commands = {"verify": ["verify", str(path), "--json"], "inspect": ["inspect", str(path), "--json"],
                    "analyze": ["analyze", str(self.photo), "--bundles", str(bundles), "--json",
                                "--accelerator", "cpu", "--skin", "--restore",
                                *analyzer_loads(m.slot)]}
        for command in self.args.commands:
            if keep is not None:
                print(f"# {case} {category} [{m.expect[command]}{', re-signed' if m.resigned else ''}]: "
                      f"facelite {' '.join(commands[command])}", file=sys.stderr)
            run = self.record(case, category, src.label, command, m.detail, m.expect[command], m.resigned,
                              m.allowed(command, self.signatures), commands[command])
            if run.problems and self.args.keep_failures:
                dest = Path(self.args.keep_failures) / f"bundle_{index}_{category}"
                dest.mkdir(parents=True, exist_ok=True)
                (dest / f"{m.slot}.flb").write_bytes(m.data)

    # -- images ----------------------------------------------------------------------------

    def image_cases(self, indices: list[int], keep: Path | None = None) -> None:
        folder = (keep or self.work) / "images"
        folder.mkdir(parents=True, exist_ok=True)
        made = folder / "made.json"
        seed = self.args.seed

        def prepare():
            out = []
            for i in indices:
                im = mutants.image_mutant(i, seed)
                sub = folder / str(i)
                sub.mkdir(exist_ok=True)
                out.append({"index": i, "category": im.category, "detail": im.detail, "level": im.level,
                            "path": str(im.materialize(sub))})
            made.write_text(json.dumps(out))

        _in_child(prepare)
        for entry in json.loads(made.read_text()):
            allowed = mutants.allowed_exits(entry["level"])
            case = f"image:{entry['index']}"
            commands = {
                "analyze": ["analyze", entry["path"], "--json", "--accelerator", "cpu", "--skin"],
                "analyze_stand_ins": ["analyze", entry["path"], "--json", "--accelerator", "cpu",
                                      "--bundles", str(self.stand_ins), "--stand-ins"],
            }
            for command, argv in commands.items():
                if keep is not None:
                    print(f"# {case} {entry['category']} [{entry['level']}]: facelite {' '.join(argv)}",
                          file=sys.stderr)
                self.record(case, entry["category"], "image", command, entry["detail"], entry["level"], False,
                            allowed, argv)


def _import_facelite() -> None:
    """Import every facelite module once, before forking: each run starts warm, and every run
    sees the same code even while the checkout changes underneath the campaign."""
    import pkgutil

    import facelite

    for module in pkgutil.walk_packages(facelite.__path__, "facelite."):
        importlib.import_module(module.name)


def _in_child(fn) -> None:
    """Run `fn` in a forked child (OpenCV work the parent must not do before forking the runtime)."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            fn()
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError("preparing the inputs failed (traceback above)")


def _synthetic_photo() -> bytes:
    """A 320x320 PNG with a bright oval on a darker background (used when the ACNE04 photo is absent)."""
    import cv2
    import numpy as np

    img = np.full((320, 320, 3), 60, np.uint8)
    cv2.ellipse(img, (160, 170), (80, 105), 0, 0, 360, (150, 170, 200), -1)
    for x in (130, 190):
        cv2.circle(img, (x, 145), 9, (40, 40, 40), -1)
    cv2.ellipse(img, (160, 215), (28, 10), 0, 0, 180, (60, 60, 120), 3)
    return cv2.imencode(".png", img)[1].tobytes()


# -- the summary -----------------------------------------------------------------------------------


def summary(campaign: Campaign, wall: float) -> dict:
    args, runs = campaign.args, campaign.runs
    failures = campaign.failures()
    tables: dict[str, dict] = {"bundles": {}, "images": {}}
    for r in runs:
        kind = "images" if r.case.startswith("image:") else "bundles"
        t = tables[kind].setdefault(r.category, {"cases": set(), "resigned": set(), "exits": {},
                                                 "max_peak_mb": 0.0, "max_seconds": 0.0, "failures": 0})
        t["cases"].add(r.case)
        if r.resigned:
            t["resigned"].add(r.case)
        key = "timeout" if r.exit is None else f"signal {r.signal}" if r.signal else str(r.exit)
        per = t["exits"].setdefault(r.command, {})
        per[key] = per.get(key, 0) + 1
        t["max_peak_mb"] = max(t["max_peak_mb"], round(r.peak_mb, 1))
        t["max_seconds"] = max(t["max_seconds"], round(r.seconds, 2))
        t["failures"] += r in failures
    for kind in tables.values():
        for t in kind.values():
            t["cases"], t["resigned"] = len(t["cases"]), len(t["resigned"])
    refused_valid = [r for r in runs if r.level == mutants.VALID and r.exit == 2]
    accepted = collections.Counter(f"{r.category}/{r.command}" for r in runs if r.exit == 0 and r.level != mutants.VALID)
    errors = collections.Counter(r.error.split(":", 2)[-1].strip()[:120] for r in failures)
    return {
        "seed": args.seed, "bundles": args.bundles, "images": args.images,
        "sources": sorted({s.label for s in campaign.sources}), "photo": str(campaign.photo),
        "signatures_enforced": campaign.signatures,
        "limits": {"timeout_s": args.timeout, "max_peak_mb": args.max_mb, "address_space_cap_gb": args.cap_gb},
        "runs": len(runs), "n_failures": len(failures), "wall_s": round(wall, 1),
        "max_peak_mb": round(max((r.peak_mb for r in runs), default=0.0), 1),
        "max_seconds": round(max((r.seconds for r in runs), default=0.0), 2),
        "exits": dict(collections.Counter("timeout" if r.exit is None else str(r.exit) for r in runs)),
        "bundle_categories": tables["bundles"], "image_categories": tables["images"],
        "failures": [{**r.to_json(), "argv": r.argv,
                      "reproduce": f"python benchmarks/fuzz.py --seed {args.seed} --sources {args.sources}"
                                   + (f" --only {args.only}" if args.only else "") + f" --case {r.case} --keep DIR"}
                     for r in failures],
        "failure_messages": dict(errors.most_common()),
        "refused_valid": [r.to_json() for r in refused_valid],
        "accepted_not_valid": dict(sorted(accepted.items())),
    }


def print_text(doc: dict) -> None:
    print(f"seed {doc['seed']}: {doc['runs']} runs in {doc['wall_s']} s, {doc['n_failures']} failures; "
          f"max peak {doc['max_peak_mb']} MB, max {doc['max_seconds']} s; exits {doc['exits']}; "
          f"signatures enforced: {doc['signatures_enforced']}")
    for kind in ("bundle_categories", "image_categories"):
        for cat, t in doc[kind].items():
            exits = "  ".join(f"{cmd} {','.join(f'{k}:{v}' for k, v in sorted(e.items()))}"
                              for cmd, e in t["exits"].items())
            print(f"  {cat:20s} {t['cases']:5d} cases ({t['resigned']:3d} re-signed)  {exits}  "
                  f"max {t['max_peak_mb']} MB {t['max_seconds']} s  failures {t['failures']}")
    for f in doc["failures"][:50]:
        print(f"FAIL {f['case']} {f['category']} {f['source']} {f['command']}: {'; '.join(f['problems'])}\n"
              f"     {f['detail']}\n     {f['error']}\n     {f['reproduce']}")
    if doc["refused_valid"]:
        print(f"{len(doc['refused_valid'])} runs refused a still-valid input (exit 2), e.g. "
              f"{doc['refused_valid'][0]['case']} {doc['refused_valid'][0]['detail']}: {doc['refused_valid'][0]['error']}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    fuzz_cases.add_case_arguments(p, bundles=200, images=50)
    p.add_argument("--commands", default=",".join(mutants.BUNDLE_COMMANDS), help="for bundle mutants")
    p.add_argument("--max-mb", type=float, default=500.0, help="peak RSS per run (default 500)")
    p.add_argument("--cap-gb", type=float, default=4.0, help="address-space cap per run (default 4)")
    p.add_argument("--photo", help="photo for bundle-mutant analyze runs (default: ACNE04 level0_1.jpg, else "
                                   "a synthetic one)")
    args = p.parse_args(argv)
    args.commands = tuple(c for c in args.commands.split(",") if c)
    only = fuzz_cases.categories(p, args)

    _import_facelite()

    campaign = Campaign(args)
    start = time.monotonic()
    try:
        if args.case:
            fuzz_cases.replay(campaign, args.case, args.keep, only, p.error)
            for r in campaign.runs:
                print(f"{r.case} {r.command}: exit {r.exit} (allowed {list(r.allowed)}), {r.peak_mb:.0f} MB, "
                      f"{r.seconds:.2f} s: {r.error}", file=sys.stderr)
        else:
            fuzz_cases.run_bundle_mutants(campaign, args.bundles, only, "fuzz", lambda: len(campaign.failures()),
                                          start)
            batch = 25
            for first in range(0, args.images, batch):
                campaign.image_cases(list(range(first, min(args.images, first + batch))))
                shutil.rmtree(campaign.work / "images", ignore_errors=True)
            print(f"fuzz: done, {len(campaign.runs)} runs, {len(campaign.failures())} failures, "
                  f"{time.monotonic() - start:.0f} s", file=sys.stderr, flush=True)
        doc = summary(campaign, time.monotonic() - start)
    finally:
        campaign.close()
    return fuzz_cases.print_document(doc, args.json, print_text)


if __name__ == "__main__":
    sys.exit(main())
