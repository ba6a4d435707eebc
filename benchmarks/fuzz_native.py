"""Native fuzz campaign: the seeded bundle mutants and bad images of tests/mutants.py through the C core.

The Python campaign (`benchmarks/fuzz.py`) holds `facelite verify`, `inspect` and
`analyze` to the rules of `tests/mutants.py`; this one holds the native runner and the C
decoder of `mobile_bindings/c` to the same rules, on the same inputs (the same `--seed`
and `--sources` give the same mutant numbers, so a case is comparable across the two):

- every bundle mutant runs through `facelite-run M --golden --json` (the auto variant),
  then, while each run exits 0, through `--variant V` for every other variant of its
  source: a bundle counts as accepted only when every variant loads and reproduces its
  goldens, which is how `facelite verify` (whose level the mutant records) judges a
  bundle, while a single run checks only the variant it loads, as the runtime does;
- every bad image runs through the C decoder, `tool_prepare decode IMAGE /dev/null` of
  the same build (`fl_image_load`: exit 0, or 1 with `{"error": ...}` on stdout), and,
  when the runner has the face pipeline, through `facelite-run models --analyze --input
  IMAGE --json` with the shipped bundles (exit 0 or 2), each run judged on its own.

A run passes when it ends by itself within `--timeout` seconds, without a signal or a
sanitizer report, with an exit code its input allows (0 only where the input is still
valid, checksums, schema and signature included; otherwise the refusal code: 2 for the
runner, 1 for tool_prepare) and, when it refuses, with a message (`error: ...` on stderr
and `{"error": ...}` on stdout). Exit 1 from the runner (an internal error) is a failure.
Mutants re-signed with the campaign's key are trusted through `FACELITE_TRUSTED_KEYS`
(a folder holding `fuzz-campaign.pub`), as in the Python campaign, which the runner
reads the same way; so checks behind the signature are fuzzed too.

On a build configured with `-DFACELITE_SANITIZE=ON` (read from its CMakeCache.txt) the
runs get `ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1` and
`UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1`; every AddressSanitizer,
LeakSanitizer or UndefinedBehaviorSanitizer report is parsed, and a report with a frame
in facelite's own code (`mobile_bindings/c`, libfacelite, the tools) fails the run.
Reports whose frames are all in `libLiteRt.so` (not instrumented) or system libraries
are listed apart, with the suppression they would need.

    python benchmarks/fuzz_native.py --build /tmp/facelite-c --bundles 1000 --images 200 --json > native-fuzz.json
    python benchmarks/fuzz_native.py --build /tmp/facelite-c-asan --bundles 1000 --images 200
    python benchmarks/fuzz_native.py --build DIR --case bundle:137,image:21 --keep /tmp/cases   # inputs kept, commands printed
Exit status: 0 when every run passed, 1 otherwise, 2 when the build is missing.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(CHECKOUT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import fuzz_cases  # benchmarks/fuzz_cases.py: the case options, replay and loop
import mutants  # tests/mutants.py: the inputs
from measured_process import Finished, run_measured  # benchmarks/measured_process.py
from native import runner_has_analyze  # benchmarks/native.py

ASAN_OPTIONS = "detect_leaks=1:abort_on_error=0:halt_on_error=1"
UBSAN_OPTIONS = "print_stacktrace=1:halt_on_error=1"
RUNNER_REFUSAL, DECODER_REFUSAL = 2, 1
OUR_CODE = re.compile(r"mobile_bindings/c/|libfacelite\.so|/facelite-run\b|/tool_\w+\b|/test_\w+\b")
REPORT_START = re.compile(r"^(==\d+==ERROR: (AddressSanitizer|LeakSanitizer)|.*: runtime error: )")
FRAME = re.compile(r"^\s+#\d+ 0x[0-9a-f]+ (?:in (\S+) )?(.*)$")


@dataclass
class SanitizerReport:
    """One sanitizer report in a run's stderr: its first line, its frames, and whose code it is in."""

    kind: str
    headline: str
    frames: list[str]

    @property
    def ours(self) -> bool:
        """Whether the report's site is facelite's own code: the line it names (UBSan), or its
        first frame outside the sanitizer runtime (the faulting access, or the allocation
        of a leak). A LiteRT-internal fault reached through a facelite call is LiteRT's."""
        return bool(OUR_CODE.search(self.headline)) or self.module == "facelite"

    @property
    def module(self) -> str:
        """Where its first non-sanitizer frame is: libLiteRt.so, another library, or facelite."""
        for f in self.frames:
            if "libsanitizer" in f or "asan_" in f or "ubsan_" in f or "__interceptor_" in f:
                continue
            if OUR_CODE.search(f):
                return "facelite"
            lib = re.search(r"\(([^()+]+?)\+0x", f)
            return os.path.basename(lib.group(1)) if lib else f.split()[-1] if f.split() else "?"
        return "?"

    def to_json(self) -> dict:
        return {"kind": self.kind, "headline": self.headline, "ours": self.ours, "module": self.module,
                "frames": self.frames[:12]}


def sanitizer_reports(stderr: str) -> list[SanitizerReport]:
    """The ASan / LSan / UBSan reports in `stderr`, each with the frames that follow it."""
    reports: list[SanitizerReport] = []
    for line in stderr.splitlines():
        start = REPORT_START.match(line)
        if start:
            kind = start.group(2) or "UndefinedBehaviorSanitizer"
            reports.append(SanitizerReport(kind, line.strip()[:300], []))
        elif reports and FRAME.match(line):
            reports[-1].frames.append(line.strip())
    return reports


@dataclass
class Run:
    """One process on one input."""

    command: str
    argv: list[str]
    outcome: str
    exit: int | None
    seconds: float
    peak_mb: float
    error: str
    reports: list[SanitizerReport]
    problems: list[str]
    document: dict | None
    variant: str | None = None


@dataclass
class Case:
    """One input (a bundle mutant or a bad image): its runs, and whether the outcome is allowed."""

    case: str
    kind: str            # bundle, image
    category: str
    source: str
    detail: str
    level: str
    resigned: bool
    allowed: tuple[int, ...]
    runs: list[Run] = field(default_factory=list)
    exit: int | None = None
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"case": self.case, "category": self.category, "source": self.source, "detail": self.detail,
                "level": self.level, "resigned": self.resigned, "allowed": list(self.allowed), "exit": self.exit,
                "problems": self.problems,
                "runs": [{"command": r.command, "variant": r.variant, "outcome": r.outcome,
                          "seconds": round(r.seconds, 3), "peak_mb": round(r.peak_mb, 1), "error": r.error,
                          "problems": r.problems, "reports": [x.to_json() for x in r.reports],
                          "argv": r.argv} for r in self.runs]}


def last_error(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    text = (errors or [""])[-1]
    return text if len(text) <= 400 else text[:397] + "..."


def sanitized_build(build: Path) -> bool:
    cache = build / "CMakeCache.txt"
    return cache.is_file() and re.search(r"^FACELITE_SANITIZE:BOOL=ON$", cache.read_text(), re.MULTILINE) is not None


class NativeCampaign:
    """The build, the work folder, the campaign key, and the cases so far."""

    def __init__(self, args):
        self.args = args
        self.build = Path(args.build)
        self.runner = self.build / "facelite-run"
        self.decoder = self.build / "tool_prepare"
        self.sanitized = sanitized_build(self.build)
        self.work = Path(tempfile.mkdtemp(prefix="facelite-native-fuzz-", dir=args.workdir))
        self.sources = mutants.load_sources(CHECKOUT, tuple(args.sources.split(",")))
        self.signer = mutants.Signer(seed=args.seed.to_bytes(32, "little"))
        self.env = dict(os.environ)
        self.env[fuzz_cases.TRUSTED_KEYS_ENV] = fuzz_cases.trust_campaign_key(self.work, self.signer)
        if self.sanitized:
            self.env.update(ASAN_OPTIONS=ASAN_OPTIONS, UBSAN_OPTIONS=UBSAN_OPTIONS)
            if args.lsan_suppressions:
                self.env["LSAN_OPTIONS"] = f"suppressions={Path(args.lsan_suppressions).resolve()}"
        self.signatures = bool(self.sources) and all(s.signed for s in self.sources)
        self.cap = None if self.sanitized or not args.cap_gb else int(args.cap_gb * 2**30)
        self.bundles = CHECKOUT / "models"
        self.analyze = args.analyze and runner_has_analyze(self.runner)
        self.cases: list[Case] = []

    def close(self) -> None:
        if self.args.keep_work:
            print(f"fuzz_native: work folder kept: {self.work}", file=sys.stderr)
        else:
            shutil.rmtree(self.work, ignore_errors=True)

    def execute(self, command: str, argv: list[str], refusal: int) -> Run:
        """One process, judged on its own: no hang, signal, sanitizer report or unexpected exit code,
        and a message when it refuses."""
        r: Finished = run_measured(argv, self.args.timeout, env=self.env, cwd=self.work,
                                   address_space_bytes=self.cap)
        problems, reports = [], sanitizer_reports(r.stderr)
        if r.timed_out:
            problems.append(f"timeout after {r.seconds:.1f} s")
        elif r.signal:
            problems.append(f"killed by signal {r.signal}")
        ours = [x for x in reports if x.ours]
        if ours:
            problems.append(f"{ours[0].kind} report in facelite's code: {ours[0].headline}")
        if r.exit is not None and r.exit not in (0, refusal) and not ours:
            problems.append(f"exit {r.exit} (a run exits 0 or {refusal})")
        doc = _document(r.stdout)
        if r.exit not in (0, None) and not ours:
            if not (doc and doc.get("error")):
                problems.append('refused without an {"error": ...} document on stdout')
            if argv[0] == str(self.runner) and not last_error(r.stderr):
                problems.append("refused without an 'error: ...' line on stderr")
        if r.exit == 0 and command == "runner" and not (doc and doc.get("golden", {}).get("ok")):
            problems.append("exit 0 without a golden block that is ok")
        if r.peak_mb > self.args.max_mb:
            problems.append(f"peak {r.peak_mb:.0f} MB (limit {self.args.max_mb:.0f})")
        error = last_error(r.stderr) or (doc or {}).get("error") or ""
        return Run(command, argv, r.outcome, r.exit, r.seconds, r.peak_mb, error, reports, problems, doc)

    # -- bundles -------------------------------------------------------------------------------

    def bundle_case(self, index: int, category: str, src: mutants.BundleSource, keep: Path | None = None) -> Case:
        m = mutants.bundle_mutant(index, src, category, mutants.mutant_rng(self.args.seed, "bundle", index),
                                  self.signer)
        folder = keep or self.work
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"bundle_{index}_{m.slot}.flb"
        path.write_bytes(m.data)
        level = m.expect["verify"]
        case = Case(f"bundle:{index}", "bundle", category, src.label, m.detail, level, m.resigned,
                    tuple(sorted(m.allowed("verify", self.signatures))))
        base = [str(self.runner), str(path), "--golden", "--json", "--runs", "1", "--warmup", "0"]
        variants = [None] + list(src.manifest["variants"])
        for variant in variants:
            if variant is not None and variant == (case.runs[0].variant if case.runs else None):
                continue
            argv = base + (["--variant", variant] if variant else [])
            if keep is not None:
                print(f"# {case.case} {category} [{level}{', re-signed' if m.resigned else ''}]: {' '.join(argv)}",
                      file=sys.stderr)
            run = self.execute("runner", argv, RUNNER_REFUSAL)
            run.variant = variant or (run.document or {}).get("variant")
            case.runs.append(run)
            if run.exit != 0:
                break
        case.exit = 0 if all(r.exit == 0 for r in case.runs) else next(r.exit for r in case.runs if r.exit != 0)
        self._judge(case)
        if case.problems and self.args.keep_failures:
            dest = Path(self.args.keep_failures)
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, dest / path.name)
        if keep is None:
            path.unlink()
        self.cases.append(case)
        return case

    def _judge(self, case: Case) -> None:
        """A bundle is judged as a whole (accepted only when every variant run exits 0), an
        image run by run (each command decodes it on its own)."""
        for r in case.runs:
            case.problems += [f"{r.variant or r.command}: {p}" for p in r.problems]
        judged = [case.exit] if case.kind == "bundle" else [r.exit for r in case.runs]
        if 0 in judged and 0 not in case.allowed:
            case.problems.append(f"exit 0 on an input that is not valid ({case.level}"
                                 f"{', re-signed' if case.resigned else ''})")

    # -- images --------------------------------------------------------------------------------

    def image_cases(self, indices: list[int], keep: Path | None = None) -> None:
        for i in indices:
            im = mutants.image_mutant(i, self.args.seed)
            folder = (keep or self.work / "images") / str(i)
            folder.mkdir(parents=True, exist_ok=True)
            path = im.materialize(folder)
            case = Case(f"image:{i}", "image", im.category, "image", im.detail, im.level, False,
                        tuple(sorted(mutants.allowed_exits(im.level))))
            commands = {"decode": ([str(self.decoder), "decode", str(path), os.devnull], DECODER_REFUSAL)}
            if self.analyze:
                commands["analyze"] = ([str(self.runner), str(self.bundles), "--analyze", "--input", str(path),
                                        "--accelerator", "cpu", "--json"], RUNNER_REFUSAL)
            for command, (argv, refusal) in commands.items():
                if keep is not None:
                    print(f"# {case.case} {im.category} [{im.level}]: {' '.join(argv)}", file=sys.stderr)
                case.runs.append(self.execute(command, argv, refusal))
            case.exit = next((r.exit for r in case.runs if r.exit != 0), 0)
            self._judge(case)
            if keep is None:
                shutil.rmtree(folder, ignore_errors=True)
            self.cases.append(case)


def _document(stdout: str) -> dict | None:
    """The last JSON object printed on stdout (the runner prints exactly one), or None."""
    for line in reversed(stdout.strip().splitlines()):
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        return doc if isinstance(doc, dict) else None
    return None


def _case_outcome(case: Case) -> str:
    """The case's outcome: the first run that did not exit 0 ("2", "signal 11", "timeout"), else "0"."""
    return next((r.outcome for r in case.runs if r.outcome != "0"), "0")


# -- the summary ----------------------------------------------------------------------------------


def summary(campaign: NativeCampaign, wall: float) -> dict:
    args, cases = campaign.args, campaign.cases
    runs = [r for c in cases for r in c.runs]
    failures = [c for c in cases if c.problems]
    tables: dict[str, dict] = {"bundle": {}, "image": {}}
    for c in cases:
        t = tables[c.kind].setdefault(c.category, {"cases": 0, "resigned": 0, "runs": 0, "exits": {},
                                                   "max_seconds": 0.0, "max_peak_mb": 0.0, "failures": 0})
        t["cases"] += 1
        t["resigned"] += c.resigned
        t["runs"] += len(c.runs)
        columns = {"auto": c.runs[0].outcome, "all_variants": _case_outcome(c)} if c.kind == "bundle" \
            else {r.command: r.outcome for r in c.runs}
        for column, outcome in columns.items():
            per = t["exits"].setdefault(column, {})
            per[outcome] = per.get(outcome, 0) + 1
        t["max_seconds"] = max(t["max_seconds"], round(max(r.seconds for r in c.runs), 2))
        t["max_peak_mb"] = max(t["max_peak_mb"], round(max(r.peak_mb for r in c.runs), 1))
        t["failures"] += bool(c.problems)
    reports = [(c, r, x) for c in cases for r in c.runs for x in r.reports]
    others = collections.Counter(f"{x.kind} in {x.module}: {x.headline.split(': ', 1)[-1][:160]}"
                                 for _, _, x in reports if not x.ours)
    repro = f"python benchmarks/fuzz_native.py --build {campaign.build} --seed {args.seed} --sources {args.sources}"
    exits = collections.Counter(f"{c.kind} {_case_outcome(c)}" for c in cases)
    return {
        "seed": args.seed, "bundles": args.bundles, "images": args.images, "build": str(campaign.build),
        "sanitized": campaign.sanitized,
        "sanitizer_options": {"ASAN_OPTIONS": campaign.env.get("ASAN_OPTIONS"),
                              "UBSAN_OPTIONS": campaign.env.get("UBSAN_OPTIONS"),
                              "LSAN_OPTIONS": campaign.env.get("LSAN_OPTIONS")} if campaign.sanitized else None,
        "sources": sorted({s.label for s in campaign.sources}), "signatures_enforced": campaign.signatures,
        "limits": {"timeout_s": args.timeout, "max_peak_mb": args.max_mb,
                   "address_space_cap_gb": None if campaign.cap is None else args.cap_gb},
        "cases": len(cases), "runs": len(runs), "n_failures": len(failures), "wall_s": round(wall, 1),
        "max_seconds": round(max((r.seconds for r in runs), default=0.0), 2),
        "max_peak_mb": round(max((r.peak_mb for r in runs), default=0.0), 1),
        "exits": dict(sorted(exits.items())),
        "bundle_categories": tables["bundle"], "image_categories": tables["image"],
        "sanitizer_reports": {"facelite": sum(x.ours for _, _, x in reports),
                              "other": dict(others.most_common()),
                              "other_examples": [{"case": c.case, **x.to_json()} for c, _, x in reports
                                                 if not x.ours][:5]},
        "failures": [{**c.to_json(), "reproduce": f"{repro} --case {c.case} --keep DIR"} for c in failures],
        "refused_valid": [{"case": c.case, "category": c.category, "detail": c.detail,
                           "error": next((r.error for r in c.runs if r.exit), "")}
                          for c in cases if c.level == mutants.VALID and c.exit not in (0, None)],
        "accepted": collections.Counter(f"{c.kind}/{c.level}{'/re-signed' if c.resigned else ''}"
                                        for c in cases if c.exit == 0),
    }


def print_text(doc: dict) -> None:
    print(f"seed {doc['seed']}, build {doc['build']} ({'ASan+UBSan' if doc['sanitized'] else 'normal'}): "
          f"{doc['cases']} cases, {doc['runs']} runs in {doc['wall_s']} s, {doc['n_failures']} failing cases; "
          f"max {doc['max_seconds']} s, max peak {doc['max_peak_mb']} MB; {doc['exits']}; "
          f"signatures enforced: {doc['signatures_enforced']}")
    for kind in ("bundle_categories", "image_categories"):
        for cat, t in doc[kind].items():
            exits = "  ".join(f"{col} {','.join(f'{k}:{v}' for k, v in sorted(e.items()))}"
                              for col, e in t["exits"].items())
            print(f"  {cat:20s} {t['cases']:5d} cases ({t['resigned']:3d} re-signed, {t['runs']:4d} runs)  {exits}  "
                  f"max {t['max_seconds']} s {t['max_peak_mb']} MB  failures {t['failures']}")
    s = doc["sanitizer_reports"]
    if doc["sanitized"]:
        print(f"sanitizer reports in facelite's code: {s['facelite']}; elsewhere: {s['other'] or 'none'}")
    for f in doc["failures"][:50]:
        print(f"FAIL {f['case']} {f['category']} {f['source']} [{f['level']}{', re-signed' if f['resigned'] else ''}]: "
              f"{'; '.join(f['problems'])}\n     {f['detail']}\n     "
              f"{next((r['error'] for r in f['runs'] if r['error']), '')}\n     {f['reproduce']}")
    if doc["refused_valid"]:
        r = doc["refused_valid"][0]
        print(f"{len(doc['refused_valid'])} still-valid inputs refused, e.g. {r['case']} {r['detail']}: {r['error']}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", required=True, help="a CMake build of mobile_bindings/c (facelite-run, tool_prepare)")
    fuzz_cases.add_case_arguments(p, bundles=1000, images=200)
    p.add_argument("--max-mb", type=float, help="peak RSS per run (default 500; 2000 on a sanitized build)")
    p.add_argument("--cap-gb", type=float, default=4.0, help="address-space cap per run, normal build (default 4)")
    p.add_argument("--no-analyze", dest="analyze", action="store_false",
                   help="images through the decoder only, not also `facelite-run models --analyze --input IMAGE`")
    p.add_argument("--lsan-suppressions", help="a LeakSanitizer suppressions file for the sanitized runs")
    args = p.parse_args(argv)
    only = fuzz_cases.categories(p, args)
    build = Path(args.build)
    missing = [t for t in ("facelite-run", "tool_prepare") if not (build / t).is_file()]
    if missing:
        print(f"error: {build}: no {', '.join(missing)}; build mobile_bindings/c there first "
              f"(cmake -S mobile_bindings/c -B {build} && cmake --build {build}; see mobile_bindings/README.md)",
              file=sys.stderr)
        return 2
    if args.max_mb is None:
        args.max_mb = 2000.0 if sanitized_build(build) else 500.0

    campaign = NativeCampaign(args)
    start = time.monotonic()
    try:
        if args.case:
            fuzz_cases.replay(campaign, args.case, args.keep, only, p.error)
            for c in campaign.cases:
                for r in c.runs:
                    print(f"{c.case} {r.variant or r.command}: {r.outcome} (allowed {list(c.allowed)}), "
                          f"{r.peak_mb:.0f} MB, {r.seconds:.2f} s: {r.error}", file=sys.stderr)
        else:
            fuzz_cases.run_bundle_mutants(campaign, args.bundles, only, "fuzz_native",
                               lambda: sum(bool(c.problems) for c in campaign.cases), start)
            campaign.image_cases(list(range(args.images)))
            print(f"fuzz_native: done, {len(campaign.cases)} cases, "
                  f"{sum(bool(c.problems) for c in campaign.cases)} failing, {time.monotonic() - start:.0f} s",
                  file=sys.stderr, flush=True)
        doc = summary(campaign, time.monotonic() - start)
    finally:
        campaign.close()
    return fuzz_cases.print_document(doc, args.json, print_text)


if __name__ == "__main__":
    sys.exit(main())
