"""The `cluster:` section: which engine runs the camera groups (inline threads of one process, or
Ray worker processes across machines), where the Ray cluster is, and how cameras are grouped."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from citywatch.config.base import ConfigModel

_HOST_PORT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*:\d{1,5}$")


class ClusterConfig(ConfigModel):
    """How camera groups are run: `inline` (every camera a thread of this process, the default) or
    `ray` (each group of `cameras_per_worker` cameras a Ray actor in a worker process of its own).

    Example:
        >>> ClusterConfig(engine="ray", address="auto", cameras_per_worker=8).cameras_per_worker
        8
    """

    engine: Literal["inline", "ray"] = Field(
        "inline",
        title="Engine",
        description="inline: every camera runs as threads of this process (demo, tests, small sites); "
        "ray: camera groups run in Ray worker processes, on this machine or a Ray cluster.",
    )
    address: str = Field(
        "local",
        title="Ray address",
        description="local: start a Ray instance on this machine; auto: join the cluster running on this "
        "machine (`ray start --head`); HOST:PORT: join the cluster whose head listens there.",
    )
    cameras_per_worker: int = Field(
        16,
        ge=1,
        le=1000,
        title="Cameras per worker",
        description="Group size: cameras analysed by one worker process (one detector and one inference "
        "thread each when the detector runs in the group).",
    )
    worker_cpus: float = Field(
        1.0,
        gt=0.0,
        le=64.0,
        title="CPUs per worker",
        description="Ray CPUs one camera-group worker reserves (placement: how many groups fit on a node).",
    )
    worker_memory_mb: int | None = Field(
        None,
        ge=64,
        le=1_048_576,
        title="Memory per worker (MB)",
        description="Ray memory one group reserves; none by default.",
    )
    detector_placement: Literal["in_group", "actors"] = Field(
        "in_group",
        title="Detector placement",
        description="in_group: each group runs its own detector (CPU nodes); actors: detector actors "
        "batch letterboxed uint8 tensors from many groups (GPU nodes, `detector_gpus`).",
    )
    detector_actors: int = Field(
        1, ge=1, le=64, title="Detector actors", description="Detector actors when detector_placement is actors."
    )
    detector_gpus: float = Field(
        0.0,
        ge=0.0,
        le=8.0,
        title="GPUs per detector actor",
        description="Ray `num_gpus` of each detector actor (0: a CPU detector actor).",
    )
    checkpoint_s: float = Field(
        3.0,
        gt=0.0,
        le=300.0,
        title="Checkpoint interval (s)",
        description="How often each group sends its per-camera state (live stays, their evidence, "
        "trigger flags) to the driver, which restores it when the group restarts.",
    )
    poll_s: float = Field(
        0.25,
        gt=0.0,
        le=5.0,
        title="Supervisor poll (s)",
        description="How often the driver pulls events and health from every group and pushes the mode.",
    )
    outbox_max: int = Field(
        1000,
        ge=10,
        le=100_000,
        title="Outbox size",
        description="Messages (events with evidence, ends, zone-clear notices) a group holds until the "
        "driver acknowledges them; beyond it the group's cameras wait (nothing is dropped).",
    )

    @field_validator("address")
    @classmethod
    def _known_address(cls, value: str) -> str:
        if value in ("local", "auto") or _HOST_PORT.match(value) or value.startswith("ray://"):
            return value
        raise ValueError(f"address {value!r}: use local, auto or HOST:PORT (e.g. 10.0.0.5:6379)")
