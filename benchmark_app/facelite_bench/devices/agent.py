"""`agent:NAME`: another machine running `facelite-bench agent --server URL --token T`.

The server never calls an agent; the agent polls `/api/agent/poll`, takes a lease on a
job for its name, runs it with the reference runtime and posts the result. So this
"device" only exists server-side, as the queue the agent drains (see jobs.py).
"""

from __future__ import annotations

from .base import Device, DeviceError


class AgentDevice(Device):
    kind = "agent"

    def __init__(self, device_id: str, last_seen: float | None = None, info: dict | None = None):
        super().__init__(device_id)
        self.name = device_id.split(":", 1)[1]
        self.last_seen = last_seen
        self.info = info or {}

    def run(self, bundle_path, spec, progress=None):
        raise DeviceError(f"{self.id}: agent devices run through a server; pass --server URL "
                          f"and start `facelite-bench agent --name {self.name}` on that machine")
