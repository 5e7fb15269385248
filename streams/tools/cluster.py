"""A local cluster of several KRaft nodes on 127.0.0.1, for fault tests: `storywire broker up --nodes 3`.

Each node is a `LocalKafka` (streams/tools/broker.py) with its own port, controller port and data
directory, all voters of one KRaft quorum.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from streams.settings import Settings
from streams.tools.broker import (
    HEAP,
    HOST,
    BrokerError,
    LocalKafka,
    file_lock,
    local_kafka,
    new_cluster_id,
    require_java,
)


class LocalCluster:
    """`size` KRaft nodes on 127.0.0.1, each a broker and a controller, for fault tests: node n (1, 2, ...) on
    port `port` + 2(n-1), its controller one above; Kafka's internal topics replicated on up to three nodes.

    The nodes start together and stop together; each can be killed and started again on its own
    (`nodes[i].kill()`, `nodes[i].up()`) while the others run on.
    """

    def __init__(
        self,
        home: Path,
        version: str,
        port: int,
        size: int,
        *,
        jars_dir: Path | None = None,
        heap: str = HEAP,
        detach: bool = True,
    ) -> None:
        if size < 1:
            raise BrokerError(f"a cluster needs at least one node, not {size}")
        self.dir = Path(home).expanduser() / f"cluster-{port}"
        ports = [port + 2 * n for n in range(size)]
        voters = ",".join(f"{n + 1}@{HOST}:{p + 1}" for n, p in enumerate(ports))
        self.nodes = [
            LocalKafka(
                home,
                version,
                p,
                jars_dir=jars_dir,
                heap=heap,
                detach=detach,
                node_id=n + 1,
                voters=voters,
                directory=self.dir / f"node-{n + 1}",
                replicas=min(3, size),
            )
            for n, p in enumerate(ports)
        ]

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    @staticmethod
    def made_size(directory: Path) -> int:
        """How many nodes the cluster in `directory` was made with (0: none made there)."""
        return len(list(directory.glob("node-*")))

    def _shared_cluster_id(self) -> str:
        """The cluster's id, the same in every node's metadata: made once, kept beside the nodes."""
        path = self.dir / "cluster.id"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(new_cluster_id() + "\n")
        return path.read_text().strip()

    def up(self, timeout: float = 180, progress: Callable[[str], object] = print) -> str:
        """Start every node that is not running and return the bootstrap addresses once each answers, within
        `timeout` seconds of the jars being in place (as `LocalKafka.up`): each node's storage is formatted by a
        JVM of its own, one after another, and then every node starts at once on the same cores."""
        made = self.made_size(self.dir)
        if made and made != len(self.nodes):
            raise BrokerError(
                f"{self.dir} holds a local cluster of {made} nodes, not {len(self.nodes)}: start it with --nodes {made}, "
                "or stop it and remove that directory to make a new one"
            )
        java = require_java()
        self.nodes[0].install(progress)
        deadline = time.monotonic() + timeout
        cluster_id = self._shared_cluster_id()
        with contextlib.ExitStack() as locks:
            launched = []
            try:
                for node in self.nodes:
                    locks.enter_context(file_lock(node.dir / ".lock"))
                    node.cluster_id = cluster_id
                    launched.append((node, *node._launch(java, progress)))
                for node, pid, log_start, _ in launched:
                    node._wait_ready(pid, deadline, timeout, log_start)
            except BaseException:
                for node, pid, _, started in launched:
                    if started:
                        node._stop(pid, timeout=10)
                raise
        return self.bootstrap

    def down(self, timeout: float = 30) -> bool:
        """Stop every node, keeping their data. Returns whether any was running."""
        stopped = [node.down(timeout) for node in self.nodes]  # every node, not only up to the first running one
        return any(stopped)

    def status(self) -> dict[str, Any]:
        return {"nodes": [node.node_status() for node in self.nodes]}


def local_cluster(settings: Settings, size: int) -> LocalCluster:
    """The local cluster of `size` nodes that Settings describe (ports from local_port up)."""
    return LocalCluster(settings.home, settings.kafka_version, settings.local_port, size)


def made_cluster(settings: Settings) -> LocalCluster | None:
    """The local cluster an earlier `storywire broker up --nodes N` made, if any (for `status` and `down`)."""
    size = LocalCluster.made_size(settings.home / f"cluster-{settings.local_port}")
    return local_cluster(settings, size) if size else None


def local_nodes(settings: Settings) -> list[LocalKafka]:
    """The single local broker (first), then the nodes of the local cluster, if one was made: whichever runs."""
    cluster = made_cluster(settings)
    return [local_kafka(settings), *(cluster.nodes if cluster else [])]
