"""Devices a job can run on: `local`, `native`, `adb:SERIAL`, `agent:NAME`."""

from __future__ import annotations

from .adb import Adb, AdbDevice
from .agent import AgentDevice
from .base import Device, DeviceError, JobSpec
from .local import LocalDevice
from .native import NativeDevice

__all__ = ["Device", "DeviceError", "JobSpec", "resolve", "list_devices", "is_agent"]


def is_agent(device_id: str) -> bool:
    return device_id.startswith("agent:")


def resolve(device_id: str, adb_path: str | None = None, runner: str = "auto",
            benchmark_model: str | None = None) -> Device:
    """Device id → Device; DeviceError (a user error) for an unknown form."""
    if device_id == "local":
        return LocalDevice()
    if device_id == "native":
        return NativeDevice()
    if device_id.startswith("adb:") and len(device_id) > 4:
        return AdbDevice(device_id[4:], Adb(adb_path), runner=runner, benchmark_model=benchmark_model)
    if is_agent(device_id) and len(device_id) > 6:
        return AgentDevice(device_id)
    raise DeviceError(f"unknown device '{device_id}'; use local, native, adb:SERIAL or agent:NAME "
                      "(`facelite-bench devices` lists what is attached)")


def list_devices(adb_path: str | None = None) -> list[dict]:
    """local + native + every attached adb device (agents come from the store)."""
    from .adb import discover

    out = [LocalDevice().describe(), NativeDevice().describe()]
    try:
        out += discover(Adb(adb_path))
    except DeviceError as exc:
        out.append({"id": "adb", "kind": "adb", "status": "error", "info": {"error": str(exc)}})
    return out
