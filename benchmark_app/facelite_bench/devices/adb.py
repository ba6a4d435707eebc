"""`adb:SERIAL`: an Android phone reached through the real `adb` client.

Discovery is `adb devices -l`; the phone's model, SoC and Android version come from one
`adb shell getprop`. A job pushes the bundle and a *runner* to /data/local/tmp/facelite,
runs it with `adb shell`, and reads its JSON from stdout (progress lines on stderr).

Which runner is pushed (`runner=`):

- `auto` (default): the native C runner `facelite-run` when it has been built for the
  device (`native.find_runner()` or $FACELITE_RUN_ANDROID); otherwise, and *only* on a
  host-emulated device (getprop `ro.facelite.host_emulated` = 1), the Python reference
  runner wrapped in a shell script. A real phone without a native runner is refused with
  a message saying how to build one.
- `native` / `python`: force one of the two; any other value is a path to push.

Independently, `benchmark_model=PATH` pushes the official LiteRT `benchmark_model`
binary plus the variant's extracted .tflite (the job's variant, else the runtime's
`choose_variant` for the job's accelerator) and parses its log (see benchmark_model.py);
it measures latency, memory and delegate coverage but not parity.

The adb executable is `adb` on PATH, or $FACELITE_BENCH_ADB / `adb_path=`; the tests
point it at `tests/benchmark_app/host_emulated_adb/adb`, an adb-compatible program that
runs what is pushed in a temp folder on the host. Everything else is this same code path.

`adb shell` hands its command line to the phone's shell, so nothing reaches it as a raw
string: `Adb.shell` takes an argument list and sends `shell_line(argv)`, each argument
`shlex.quote`d and refused if it holds a NUL, newline or carriage return. Values are also
validated where they enter: variant names must match `VARIANT_NAME` (`[a-z0-9_]+`, as the
manifest schema says), serials `SERIAL`, accelerators `ACCELERATORS`. A variant named
`x;touch${IFS}INJECTED;#` is a DeviceError (exit 2), never a command.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from facelite.bundle import Bundle
from facelite.engine import choose_variant

from . import benchmark_model as bm
from .base import Device, DeviceError, JobSpec, Progress, run_streaming
from .native import find_runner

REMOTE_DIR = "/data/local/tmp/facelite"
VARIANT_NAME = re.compile(r"[a-z0-9_]+")
"""What a variant name may be (the manifest schema's rule), checked before it reaches a device."""
SERIAL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
"""What a device serial may be: USB serials, emulator-5554, 192.168.1.5:5555, mDNS names."""
ACCELERATORS = ("auto", "cpu", "gpu", "npu")
PROPS = {
    "model": "ro.product.model",
    "manufacturer": "ro.product.manufacturer",
    "soc": "ro.soc.model",
    "soc_manufacturer": "ro.soc.manufacturer",
    "platform": "ro.board.platform",
    "hardware": "ro.hardware",
    "android": "ro.build.version.release",
    "sdk": "ro.build.version.sdk",
    "abi": "ro.product.cpu.abi",
    "host_emulated": "ro.facelite.host_emulated",
}


class Adb:
    """Thin wrapper over the adb client executable."""

    def __init__(self, path: str | None = None):
        self.path = path or os.environ.get("FACELITE_BENCH_ADB") or shutil.which("adb")

    @property
    def available(self) -> bool:
        return bool(self.path) and os.access(self.path, os.X_OK)

    def _argv(self, serial: str | None, *args: str) -> list[str]:
        if not self.available:
            raise DeviceError("adb: no adb executable; install Debian's 'adb' package "
                              "(scripts/install_system_deps.sh) or set FACELITE_BENCH_ADB")
        return [self.path, *(["-s", serial] if serial else []), *args]

    def call(self, serial: str | None, *args: str, timeout: float = 120, check: bool = True) -> str:
        try:
            p = subprocess.run(self._argv(serial, *args), capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DeviceError(f"adb {' '.join(args[:2])}: timed out after {timeout:.0f}s") from None
        if check and p.returncode != 0:
            msg = (p.stderr or p.stdout).strip().splitlines()
            raise DeviceError(f"adb{' -s ' + serial if serial else ''} {' '.join(args[:2])}: "
                              f"{msg[-1] if msg else 'exit ' + str(p.returncode)}")
        return p.stdout

    def devices(self) -> list[dict]:
        """Parse `adb devices -l` into [{serial, state, model, product, device, transport_id}]."""
        out = self.call(None, "devices", "-l", timeout=30)
        return parse_devices(out)

    def getprops(self, serial: str) -> dict[str, str]:
        return parse_getprop(self.call(serial, "shell", "getprop", timeout=30))

    def shell(self, serial: str, argv: list[str], timeout: float = 120, merge_stderr: bool = False) -> str:
        """Run `argv` on the device (each argument quoted, see `shell_line`); its stdout, with
        stderr appended when `merge_stderr`."""
        line = shell_line(argv) + (" 2>&1" if merge_stderr else "")
        return self.call(serial, "shell", line, timeout=timeout)

    def push(self, serial: str, local: str, remote: str, timeout: float = 300) -> None:
        self.call(serial, "push", check_argument(local, "local path"), check_argument(remote, "remote path"),
                  timeout=timeout)


def check_argument(value: str, what: str = "argument") -> str:
    """`value` unchanged, or a DeviceError if it holds a NUL, newline or carriage return
    (a shell line or an adb argument cannot carry them safely)."""
    value = str(value)
    bad = next((c for c in ("\0", "\n", "\r") if c in value), None)
    if bad is not None:
        raise DeviceError(f"adb: {what} {value!r} contains {bad!r}; rename it without control characters")
    return value


def shell_line(argv: list[str]) -> str:
    """One `adb shell` command line from an argument list: each argument checked
    (`check_argument`) and `shlex.quote`d, so the device's shell sees exactly these words.

    >>> shell_line(["ls", "/data/local/tmp/a b", "x;touch${IFS}INJECTED;#"])
    "ls '/data/local/tmp/a b' 'x;touch${IFS}INJECTED;#'"
    """
    if isinstance(argv, str):
        raise TypeError("shell_line takes a list of arguments, not a command string")
    return " ".join(shlex.quote(check_argument(a)) for a in argv)


def check_variant(name: str) -> str:
    """`name` if it is a valid variant name (`VARIANT_NAME`), else a DeviceError (exit 2)."""
    if not isinstance(name, str) or not VARIANT_NAME.fullmatch(name):
        raise DeviceError(f"variant {name!r}: not a valid variant name (lower-case letters, digits and _ "
                          "only, e.g. fp32, int8); the bundle's manifest or the job is malformed")
    return name


def check_serial(serial: str) -> str:
    """`serial` if it looks like an adb serial (`SERIAL`), else a DeviceError (exit 2)."""
    if not isinstance(serial, str) or not SERIAL.fullmatch(serial):
        raise DeviceError(f"adb serial {serial!r}: not a device serial (letters, digits and . _ : - only); "
                          "`facelite-bench devices` lists the attached ones")
    return serial


def check_accelerator(accelerator: str) -> str:
    if accelerator not in ACCELERATORS:
        raise DeviceError(f"accelerator {accelerator!r}: use one of {', '.join(ACCELERATORS)}")
    return accelerator


def parse_devices(text: str) -> list[dict]:
    found = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("*") or line.startswith("List of devices"):
            continue
        parts = line.split()
        if len(parts) < 2:
            continue
        d = {"serial": parts[0], "state": parts[1]}
        for kv in parts[2:]:
            if ":" in kv:
                k, v = kv.split(":", 1)
                d[k] = v
        found.append(d)
    return found


def parse_getprop(text: str) -> dict[str, str]:
    props = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("[") and "]: [" in line:
            k, v = line[1:].split("]: [", 1)
            props[k] = v.rstrip("]")
    return props


def python_runner_script(python: str = sys.executable) -> str:
    return ("#!/bin/sh\n"
            "# facelite Python reference runner -- for HOST-EMULATED adb devices only;\n"
            "# a real phone gets the native facelite-run binary.\n"
            f"exec {shlex.quote(python)} -m facelite_bench.device_runner \"$@\"\n")


class AdbDevice(Device):
    kind = "adb"

    def __init__(self, serial: str, adb: Adb | None = None, runner: str = "auto",
                 benchmark_model: str | None = None, timeout: float = 1800):
        super().__init__(f"adb:{check_serial(serial)}")
        self.serial = serial
        self.adb = adb or Adb()
        self.runner = runner
        self.benchmark_model = benchmark_model
        self.timeout = timeout
        self._props: dict | None = None

    def props(self) -> dict[str, str]:
        if self._props is None:
            self._props = self.adb.getprops(self.serial)
        return self._props

    def info(self) -> dict:
        p = self.props()
        info = {k: p.get(key) for k, key in PROPS.items() if p.get(key)}
        info["soc"] = info.get("soc") or info.get("platform") or info.get("hardware")
        info["host_emulated"] = p.get(PROPS["host_emulated"]) == "1"
        return info

    def describe(self):
        try:
            info = self.info()
            status = "ready"
        except DeviceError as exc:
            info, status = {"error": str(exc)}, "offline"
        name = " ".join(x for x in (info.get("manufacturer"), info.get("model")) if x) or self.serial
        if info.get("host_emulated"):
            name += " (host-emulated)"
        return {"id": self.id, "kind": self.kind, "status": status, "info": info, "name": name}

    # -- runner choice -------------------------------------------------------------
    def choose_runner(self, tmp: Path) -> tuple[str, str]:
        """(local file to push, runner kind)."""
        mode = self.runner
        native = os.environ.get("FACELITE_RUN_ANDROID") or find_runner()
        host_emulated = self.info().get("host_emulated", False)
        if mode == "auto":
            mode = "native" if native else ("python" if host_emulated else "missing")
        if mode == "missing":
            raise DeviceError(
                f"{self.id}: no runner to push; build mobile_bindings' facelite-run for "
                f"{self.info().get('abi', 'the phone ABI')} and set FACELITE_RUN_ANDROID, or pass "
                "--benchmark-model PATH to use LiteRT's benchmark_model")
        if mode == "native":
            if not native:
                raise DeviceError(f"{self.id}: --runner native, but facelite-run is not built")
            return native, "facelite-run"
        if mode == "python":
            if not host_emulated:
                raise DeviceError(f"{self.id}: the Python runner only runs on host-emulated devices; "
                                  "a phone needs the native facelite-run")
            script = tmp / "facelite-run"
            script.write_text(python_runner_script())
            script.chmod(0o755)
            return str(script), "python-reference (host-emulated)"
        if not os.path.isfile(mode):
            raise DeviceError(f"{self.id}: runner '{mode}' is not a file")
        return mode, os.path.basename(mode)

    def push_runner_libraries(self, runner: str) -> None:
        """Push the shared libraries `facelite-run` loads beside it: `libfacelite.so*` from the
        runner's build folder and LiteRT's `libLiteRt.so` (`FACELITE_LITERT_LIB`, else the
        build's `LITERT_LIB`); the job then runs with `LD_LIBRARY_PATH` set to REMOTE_DIR."""
        for library in runner_libraries(runner):
            self.adb.push(self.serial, str(library), f"{REMOTE_DIR}/{library.name}")

    def _prepare(self, bundle_path: str, spec: JobSpec) -> tuple[str, str | None]:
        import hashlib

        h = hashlib.sha256(Path(bundle_path).read_bytes()).hexdigest()[:16]
        remote_bundle = f"{REMOTE_DIR}/{h}.flb"
        self.adb.shell(self.serial, ["mkdir", "-p", REMOTE_DIR])
        self.adb.push(self.serial, bundle_path, remote_bundle)
        remote_data = None
        if spec.data_dir:
            remote_data = f"{REMOTE_DIR}/data"
            self.adb.shell(self.serial, ["rm", "-rf", remote_data])
            self.adb.push(self.serial, spec.data_dir, remote_data)
        return remote_bundle, remote_data

    def _check_spec(self, spec: JobSpec) -> None:
        """Refuse job values that are not what they claim before any of them reaches the device."""
        if spec.variant:
            check_variant(spec.variant)
        check_accelerator(spec.accelerator)
        if spec.data_dir:
            check_argument(spec.data_dir, "--data folder")

    def run(self, bundle_path, spec: JobSpec, progress: Progress | None = None):
        self._check_spec(spec)
        if self.benchmark_model:
            return self.run_benchmark_model(bundle_path, spec, progress)
        with tempfile.TemporaryDirectory() as tmp:
            local_runner, runner_kind = self.choose_runner(Path(tmp))
            if runner_kind == "facelite-run" and spec.data_dir:
                raise DeviceError(f"{self.id}: the native facelite-run checks golden parity only and takes no "
                                  "--data folder; drop --data, or run the Python runner (--runner python)")
            if progress:
                progress(0.0, "push")
            remote_bundle, remote_data = self._prepare(bundle_path, spec)
            remote_runner = f"{REMOTE_DIR}/facelite-run"
            self.adb.push(self.serial, local_runner, remote_runner)
            self.adb.shell(self.serial, ["chmod", "755", remote_runner])
            if runner_kind == "facelite-run":
                self.push_runner_libraries(local_runner)
        args = [remote_runner, remote_bundle, *spec.runner_args(), "--json"]
        if runner_kind == "facelite-run":
            args = [f"LD_LIBRARY_PATH={REMOTE_DIR}", *args, "--golden"]
        if remote_data:  # the Python runner only: the native one was refused a data folder above
            args += ["--data", remote_data]
        cmd = self.adb._argv(self.serial, "shell", shell_line(args))
        res = run_streaming(cmd, progress, self.timeout, self.id)
        if "parity" not in res and "golden" in res:
            from .native import golden_to_parity

            res["parity"] = golden_to_parity(res)
        res["runner"] = runner_kind
        res["device"] = self.id
        res["device_info"] = self.info()
        return res

    def run_benchmark_model(self, bundle_path, spec: JobSpec, progress: Progress | None = None):
        self._check_spec(spec)
        if not os.path.isfile(self.benchmark_model):
            raise DeviceError(f"--benchmark-model {self.benchmark_model}: no such file")
        with Bundle.open(bundle_path) as b, tempfile.TemporaryDirectory() as tmp:
            variant = check_variant(spec.variant or choose_variant(b, spec.accelerator) or choose_variant(b, "cpu"))
            local_model = Path(tmp) / f"{variant}.tflite"
            local_model.write_bytes(bytes(b.variant_bytes(variant)))
            if progress:
                progress(0.0, "push")
            self.adb.shell(self.serial, ["mkdir", "-p", REMOTE_DIR])
            self.adb.push(self.serial, str(local_model), f"{REMOTE_DIR}/{variant}.tflite")
            self.adb.push(self.serial, self.benchmark_model, f"{REMOTE_DIR}/benchmark_model")
            self.adb.shell(self.serial, ["chmod", "755", f"{REMOTE_DIR}/benchmark_model"])
        if progress:
            progress(0.1, "timing")
        flags = bm.flags(f"{REMOTE_DIR}/{variant}.tflite", spec.runs, spec.warmup, spec.threads,
                         spec.accelerator)
        out = self.adb.shell(self.serial, [f"{REMOTE_DIR}/benchmark_model", *flags], timeout=self.timeout,
                             merge_stderr=True)
        try:
            res = bm.parse(out)
        except ValueError as exc:
            raise DeviceError(f"{self.id}: {exc}\n{out[-2000:]}") from None
        res["accelerator"], res["fallback_reason"] = bm.accelerator_from(res, spec.accelerator)
        res.update({"variant": variant, "accelerator_requested": spec.accelerator,
                    "threads": spec.threads, "warmup": spec.warmup, "device": self.id,
                    "device_info": self.info(),
                    "parity": {"top1_agreement": None, "psnr_db": None, "max_abs_err": None,
                               "accuracy": None, "note": "benchmark_model measures latency only"}})
        res.setdefault("runs", spec.runs)
        if progress:
            progress(1.0, "done")
        return res


def discover(adb: Adb | None = None) -> list[dict]:
    """Attached devices as `describe()` dicts; [] when adb is missing or lists none."""
    adb = adb or Adb()
    if not adb.available:
        return []
    out = []
    for d in adb.devices():
        if not SERIAL.fullmatch(d["serial"]):
            out.append({"id": f"adb:{d['serial']!r}", "kind": "adb", "status": "unsupported serial",
                        "info": {"error": f"serial {d['serial']!r} has characters facelite-bench does not pass on"},
                        "name": repr(d["serial"])})
            continue
        dev = AdbDevice(d["serial"], adb)
        if d["state"] != "device":
            out.append({"id": dev.id, "kind": "adb", "status": d["state"],
                        "info": {k: v for k, v in d.items() if k not in ("serial", "state")},
                        "name": d.get("model", d["serial"])})
        else:
            out.append(dev.describe())
    return out


def runner_libraries(runner: str) -> list[Path]:
    """The shared libraries a built `facelite-run` needs on a device (see `push_runner_libraries`)."""
    folder = Path(runner).resolve().parent
    libraries = sorted(p for p in folder.glob("libfacelite.so*") if p.is_file())
    litert = os.environ.get("FACELITE_LITERT_LIB")
    if not litert and (folder / "CMakeCache.txt").is_file():
        found = re.search(r"^LITERT_LIB:FILEPATH=(.+)$", (folder / "CMakeCache.txt").read_text(), re.MULTILINE)
        litert = found.group(1).strip() if found else None
    if not litert or not os.path.isfile(litert):
        raise DeviceError(f"{runner}: cannot find the libLiteRt.so it needs; set FACELITE_LITERT_LIB to the "
                          "device's libLiteRt.so (arm64-v8a for a phone)")
    return [*libraries, Path(litert)]
