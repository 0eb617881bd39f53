"""The cluster engine: camera groups in worker processes, on Ray across machines (`cluster:`).

* `partition`: cameras into stable groups (pure);
* `outbox`: what a group holds for the driver until it is acknowledged (`Outbox`, `OutboxSink`);
* `group_host`: one group's cameras in a worker process (`GroupHost`, checkpoints, reports);
* `supervisor`: the driver's side: store, acknowledge, health, placement (`Supervisor`);
* `engine`: the one interface the API reads (`Engine`), `InlineEngine`, `open_engine`;
* `reload`: which groups a changed config restarts (pure); `engine.reload_engine` applies it;
* `detector_actor`: detector services shared by groups (`detector_placement: actors`);
* `ray_engine`: groups as Ray actors (imported only for `engine: ray`).
"""

from citywatch.cluster.engine import Engine, InlineEngine, open_engine, reload_engine
from citywatch.cluster.partition import partition

__all__ = ["Engine", "InlineEngine", "open_engine", "partition", "reload_engine"]
