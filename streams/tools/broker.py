"""A real Apache Kafka broker on 127.0.0.1 (a single node, or a small cluster for fault tests), without Docker.

Why: storywire relies on what only real Kafka does right (compaction of changelog
topics, end offsets, transactions, consumer groups), yet a
developer's machine or CI may have no Docker engine. The broker jars come from Maven
Central with `mvn` (streams/tools/kafka-pom.xml), once per Kafka version, and run on the
local `java` in KRaft mode (no ZooKeeper).

Layout under `home` (Settings.home, ~/.cache/storywire by default):

    kafka/<version>/lib/          jars, shared by every broker of that version
    broker-<port>/server.properties, log4j.properties
    broker-<port>/data/           topic data (kept across down/up)
    broker-<port>/broker.pid      pid of the running broker
    broker-<port>/server.log      the broker's own log (log4j)
    broker-<port>/console.log     the JVM's stdout/stderr (crashes, bad options)
    cluster-<port>/node-<id>/     the same, per node of a local cluster (`storywire broker up --nodes 3`)

Used by `storywire broker up|down|status`, `storywire demo` and the test fixture.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from streams.settings import Settings, bootstrap_hosts

__all__ = [
    "HOST",
    "BrokerError",
    "BrokerRefused",
    "BrokerUnavailable",
    "LocalKafka",
    "free_port",
    "local_kafka",
    "wait_for_broker",
]

HOST = "127.0.0.1"
POM = Path(__file__).resolve().parent / "kafka-pom.xml"
HEAP = "512m"

_T = TypeVar("_T")


class BrokerError(RuntimeError):
    """The local broker could not be installed, started or stopped; the message says why and what to do."""


class BrokerUnavailable(ConnectionError):
    """No Kafka answers at a bootstrap address (raised instead of a client library traceback)."""

    def __init__(self, bootstrap: str, reason: str) -> None:
        self.bootstrap = bootstrap
        self.reason = reason
        super().__init__(f"cannot reach Kafka at {bootstrap}: {reason}")


class BrokerRefused(BrokerUnavailable):
    """Kafka answers at a bootstrap address but refuses this client (authentication or TLS): waiting won't help."""

    def __init__(self, bootstrap: str, reason: str) -> None:
        self.bootstrap = bootstrap
        self.reason = reason
        ConnectionError.__init__(self, f"Kafka at {bootstrap} refused the connection: {reason}")


class _Refused(Exception):
    """Inside the probe: a refusal (as opposed to a broker not there yet)."""


# --------------------------------------------------------------------------- reachability




async def _tcp_error(host: str, port: int) -> str | None:
    """None if host:port accepts a TCP connection, else a short reason."""
    try:
        _, writer = await asyncio.open_connection(host, port)
    except socket.gaierror as exc:  # its errno is the resolver's (negative), which os.strerror does not know
        return f"the host name {host!r} does not resolve ({(exc.strerror or str(exc)).lower()})"
    except OSError as exc:
        return os.strerror(exc.errno).lower() if exc.errno else str(exc) or type(exc).__name__
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return None


async def _probe(bootstrap: str, security: Mapping[str, Any]) -> None:
    """Return when a broker at `bootstrap` answers a metadata request over the client's security; raise otherwise.

    A TCP connect alone is not enough: a starting broker (or another program)
    may accept connections without serving Kafka requests. The TCP check comes
    first only because aiokafka logs an error for every refused connection.
    Failed authentication or TLS raises `_Refused`: no retry makes them pass.
    """
    import ssl

    from aiokafka import errors
    from aiokafka.conn import create_conn
    from aiokafka.protocol.metadata import MetadataRequest

    refusals = (
        errors.SaslAuthenticationFailed,
        errors.AuthenticationFailedError,
        errors.UnsupportedSaslMechanismError,
        errors.IllegalSaslStateError,
        errors.AuthenticationMethodNotSupported,
    )
    protocol = security.get("security_protocol", "PLAINTEXT")
    hosts = bootstrap_hosts(bootstrap)
    reasons = []
    for host, port in hosts:
        reason = await _tcp_error(host, port)
        if reason is None:
            break
        reasons.append(reason if len(hosts) == 1 else f"{host}:{port}: {reason}")
    else:
        raise ConnectionError("; ".join(reasons))

    try:
        conn = await create_conn(host, port, request_timeout_ms=5000, **security)
    except refusals as error:
        user = security.get("sasl_plain_username")
        raise _Refused(f"authentication as {user!r} with {security.get('sasl_mechanism')} failed: {error}") from None
    except ssl.SSLError as error:
        raise _Refused(
            f"the TLS handshake failed ({error}); check STORYWIRE_SSL_CAFILE, STORYWIRE_SSL_CHECK_HOSTNAME and "
            "STORYWIRE_SECURITY_PROTOCOL"
        ) from None
    except errors.KafkaConnectionError as error:
        raise ConnectionError(
            f"{error} (it accepted the connection, then dropped it: does it want TLS, which "
            f"STORYWIRE_SECURITY_PROTOCOL={protocol} does not use?)"
        ) from None
    try:
        metadata = await conn.send(MetadataRequest([]))
    except errors.KafkaConnectionError:
        if protocol.startswith("SASL_"):
            raise
        # It answered the handshake, so it serves Kafka: it drops requests that come without authentication.
        raise _Refused(
            f"it wants authentication first; set STORYWIRE_SECURITY_PROTOCOL (now {protocol}) to SASL_PLAINTEXT or "
            "SASL_SSL, with STORYWIRE_SASL_MECHANISM, STORYWIRE_SASL_USERNAME and STORYWIRE_SASL_PASSWORD"
        ) from None
    finally:
        conn.close()
    if not metadata.brokers:
        raise ConnectionError("the metadata answer lists no broker yet")


async def wait_for_broker(bootstrap: str, timeout: float, security: Mapping[str, Any] | None = None) -> None:
    """Wait until Kafka at `bootstrap` answers a metadata request, or raise BrokerUnavailable.

    `security` is the clients' security options (`streams.kafka.connection.security_options`); none means
    plain text. For the CLI: a plain "cannot reach Kafka at X: connection refused", or "refused the connection:
    authentication ... failed" at once, is more useful than a client library's retry loop or traceback.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    reason = f"no answer within {timeout:g}s"
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise BrokerUnavailable(bootstrap, reason)
        try:
            await asyncio.wait_for(_probe(bootstrap, security or {}), remaining)
            return
        except _Refused as refusal:
            raise BrokerRefused(bootstrap, str(refusal)) from None
        except asyncio.TimeoutError:
            reason = f"no answer within {timeout:g}s"
        except ValueError as exc:  # a malformed address will not get better by waiting
            raise BrokerUnavailable(bootstrap, str(exc)) from None
        except Exception as exc:
            reason = str(exc) or type(exc).__name__
        await asyncio.sleep(max(0.0, min(0.5, deadline - loop.time())))


def _run_sync(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run a coroutine from sync code, even when called inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _port_accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex((HOST, port)) == 0


def free_port(span: int = 2) -> int:
    """A port p on 127.0.0.1 where p to p+span-1 are all free (a LocalKafka uses two, a LocalCluster two per node).

    Chosen below the usual ephemeral range (32768+) so that outgoing client
    connections do not grab it between this check and the broker's bind.
    """
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 30000 - span, 2)
        try:
            for p in range(port, port + span):
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                    sock.bind((HOST, p))
        except OSError:
            continue
        return port
    raise BrokerError(f"found no {span} free adjacent ports on 127.0.0.1 between 20000 and 30000")


# --------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between processes (CLI, demo, tests) acting on the same files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _tail(path: Path, lines: int = 25, start: int = 0) -> str:
    """The last lines of a log written since byte offset `start`."""
    try:
        with open(path, "rb") as fh:
            fh.seek(start)
            text = fh.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def new_cluster_id() -> str:
    """A Kafka cluster id, as `kafka-storage random-uuid` makes one, without starting a JVM for it."""
    while True:
        uid = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
        if not uid.startswith("-") and uid not in ("AAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAQ"):
            return uid


def require_java() -> str:
    java = shutil.which("java")
    if java is None:
        raise BrokerError(
            "the local Kafka broker needs Java 17 or newer, but `java` is not on PATH: install a JRE "
            "(Debian/Ubuntu: apt-get install openjdk-17-jre-headless; macOS: brew install openjdk@17), "
            "or point STORYWIRE_BROKER at a running Kafka"
        )
    return java


def process_stat(pid: int, thread: int | None = None) -> list[str] | None:
    """/proc/<pid>/stat's fields after the process's name (which may hold spaces and parentheses): [state, ppid,
    ...], or one thread's own (/proc/<pid>/task/<thread>/stat); None if it is gone (or there is no /proc)."""
    path = f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat"
    try:
        return Path(path).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _parent_death_signal() -> None:
    """In the child before exec: get SIGTERM when the parent dies (Linux), so test brokers never outlive pytest."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


# --------------------------------------------------------------------------- the broker


class LocalKafka:
    """One KRaft node, broker and controller, on 127.0.0.1:`port` (controller on `port`+1): by default a
    single-node cluster of its own.

    `home` holds the broker's data and, unless `jars_dir` says otherwise, the jars
    (tests give each session a fresh home but the machine-wide jar cache, so the
    jars are fetched once per machine). `detach=True` lets the broker outlive this
    Python process (the CLI's `broker up`); `detach=False` ties it to this process
    on Linux (test sessions), so a killed test run leaves no JVM behind.

    A node of a `LocalCluster` gets its `node_id`, the cluster's `voters` and `cluster_id`, its own
    `directory`, and `replicas` for Kafka's internal topics. `properties` are added to (or replace) the
    server properties, e.g. a SASL or TLS listener besides the plain one; `scram_users` (name: password) are
    created with SCRAM-SHA-256 and SCRAM-SHA-512 credentials when the data directory is first formatted.
    """

    def __init__(
        self,
        home: Path,
        version: str,
        port: int,
        *,
        jars_dir: Path | None = None,
        heap: str = HEAP,
        detach: bool = True,
        node_id: int = 1,
        voters: str | None = None,
        cluster_id: str | None = None,
        directory: Path | None = None,
        replicas: int = 1,
        properties: Mapping[str, object] | None = None,
        scram_users: Mapping[str, str] | None = None,
    ) -> None:
        self.home = Path(home).expanduser()
        self.version = version
        self.port = port
        self.controller_port = port + 1
        self.jars_dir = Path(jars_dir).expanduser() if jars_dir else self.home / "kafka" / version / "lib"
        self.heap = heap
        self.detach = detach
        self.node_id = node_id
        self.voters = voters or f"{node_id}@{HOST}:{self.controller_port}"
        self.cluster_id = cluster_id
        self.replicas = replicas
        self.properties = dict(properties or {})
        self.scram_users = dict(scram_users or {})
        self.dir = Path(directory) if directory else self.home / f"broker-{port}"
        self.data_dir = self.dir / "data"
        self.properties_file = self.dir / "server.properties"
        self.log4j_file = self.dir / "log4j.properties"
        self.pid_file = self.dir / "broker.pid"
        self.log_file = self.dir / "server.log"
        self.console_file = self.dir / "console.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"LocalKafka(version={self.version!r}, bootstrap={self.bootstrap!r}, dir={str(self.dir)!r})"

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    # ----------------------------------------------------------------- jars

    @property
    def _marker(self) -> Path:
        # Inside lib/ but not a .jar, so the `lib/*` class path ignores it.
        return self.jars_dir / ".complete"

    @property
    def installed(self) -> bool:
        return self._marker.is_file()

    def install(self, progress: Callable[[str], object] = print) -> None:
        """Fetch the broker jars with Maven unless already there.

        The jars land in a scratch directory that is renamed into place with its
        completion marker, so an interrupted fetch is simply redone next time.
        """
        if self.installed:
            return
        with file_lock(self.jars_dir.with_name(self.jars_dir.name + ".lock")):
            if self.installed:  # another process fetched them while we waited
                return
            require_java()  # Maven runs on it too
            mvn = shutil.which("mvn")
            if mvn is None:
                raise BrokerError(
                    f"fetching the Apache Kafka {self.version} jars needs Maven, but `mvn` is not on PATH: "
                    "install it (Debian/Ubuntu: apt-get install maven; macOS: brew install maven), "
                    "or point STORYWIRE_BROKER at a running Kafka"
                )
            progress(f"fetching Apache Kafka {self.version} jars from Maven Central (first run only)…")
            scratch = self.jars_dir.with_name(f"{self.jars_dir.name}.partial-{os.getpid()}")
            shutil.rmtree(scratch, ignore_errors=True)
            cmd = [
                mvn, "-q", "-B", "-Dstyle.color=never", "-f", str(POM),
                "dependency:copy-dependencies",
                f"-Dkafka.version={self.version}",
                f"-DoutputDirectory={scratch}",
            ]  # fmt: skip
            try:
                done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                shutil.rmtree(scratch, ignore_errors=True)
                raise BrokerError(f"fetching the Kafka {self.version} jars with Maven took over 30 minutes") from None
            main_jar = scratch / f"kafka_2.13-{self.version}.jar"
            if done.returncode != 0 or not main_jar.is_file():
                shutil.rmtree(scratch, ignore_errors=True)
                output = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
                raise BrokerError(
                    f"fetching the Kafka {self.version} jars with Maven failed (exit {done.returncode}); "
                    f"is {self.version} a released Kafka version and Maven Central reachable?\n{output}"
                )
            (scratch / ".complete").write_text(
                "\n".join(sorted(p.name for p in scratch.glob("*.jar"))) + "\n", encoding="utf-8"
            )
            shutil.rmtree(self.jars_dir, ignore_errors=True)  # leftovers of an older, unfinished layout
            scratch.rename(self.jars_dir)
            progress(f"Kafka {self.version} jars are in {self.jars_dir}")

    # ----------------------------------------------------------------- config

    def _server_properties(self) -> dict[str, object]:
        return {
            # One process is both the KRaft controller and the broker.
            "process.roles": "broker,controller",
            "node.id": self.node_id,
            "controller.quorum.voters": self.voters,
            "listeners": f"PLAINTEXT://{HOST}:{self.port},CONTROLLER://{HOST}:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{HOST}:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": self.data_dir,
            # Internal topics on every node (one replica on a single node); one replica may be lost.
            "offsets.topic.replication.factor": self.replicas,
            "transaction.state.log.replication.factor": self.replicas,
            "transaction.state.log.min.isr": max(1, self.replicas - 1),
            "min.insync.replicas": max(1, self.replicas - 1),
            "default.replication.factor": self.replicas,
            # Fast group joins; short session timeouts allowed for crash tests.
            "group.initial.rebalance.delay.ms": 0,
            "group.min.session.timeout.ms": 1000,
            # After a crash the restarted broker cannot register until its previous
            # registration expires: 6 s instead of 9 s (heartbeats stay well inside it).
            "broker.heartbeat.interval.ms": 1000,
            "broker.session.timeout.ms": 6000,
            # Topics: created on first use unless the app declares them.
            "auto.create.topics.enable": "true",
            "delete.topic.enable": "true",
            "num.partitions": 1,
            # Fewer internal partitions: less to create and load on every start.
            "offsets.topic.num.partitions": 8,
            "transaction.state.log.num.partitions": 4,
            # The raw topic takes messages up to Settings.max_message_bytes (16 MiB), so that oversized
            # articles reach the worker and become dead letters; the broker must allow at least that.
            "message.max.bytes": 32 * 1024 * 1024,
            "replica.fetch.max.bytes": 32 * 1024 * 1024,
            # Light on a 2-core machine.
            "num.network.threads": 2,
            "num.io.threads": 2,
            "background.threads": 2,
            "num.recovery.threads.per.data.dir": 1,
            "num.replica.fetchers": 1,
            # Compaction (faust changelogs are compact-only). The active segment is never
            # cleaned, so smaller segments let compaction actually run on a dev broker;
            # the dedupe buffer comes out of the heap (Kafka's default, 128 MiB, is a
            # quarter of it).
            "log.cleaner.enable": "true",
            "log.cleaner.threads": 1,
            "log.cleaner.dedupe.buffer.size": 32 * 1024 * 1024,
            "log.cleaner.backoff.ms": 5000,
            "log.cleaner.min.cleanable.ratio": 0.5,
            "log.cleaner.min.compaction.lag.ms": 0,
            "log.cleaner.delete.retention.ms": 24 * 3600 * 1000,
            "log.segment.bytes": 16 * 1024 * 1024,
            "log.retention.hours": 168,
            "log.retention.check.interval.ms": 60_000,
            **self.properties,
        }

    def _log4j_properties(self) -> str:
        # To server.log only (the console keeps JVM crashes). WARN, plus INFO from the few
        # loggers that tell start-up, shutdown, group rebalances and compaction.
        info = [
            "kafka.server.KafkaRaftServer",
            "kafka.server.BrokerServer",
            "kafka.server.ControllerServer",
            "kafka.server.BrokerLifecycleManager",
            "kafka.log.LogManager",
            "kafka.log.LogCleaner",
            "kafka.coordinator",
            "org.apache.kafka.coordinator",
            "org.apache.kafka.common.utils.LoggingSignalHandler",
        ]
        return "\n".join([
            "log4j.rootLogger=WARN, file",
            "log4j.appender.file=org.apache.log4j.RollingFileAppender",
            f"log4j.appender.file.File={self.log_file}",
            "log4j.appender.file.MaxFileSize=10MB",
            "log4j.appender.file.MaxBackupIndex=2",
            "log4j.appender.file.layout=org.apache.log4j.PatternLayout",
            "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n",
            *(f"log4j.logger.{name}=INFO" for name in info),
            "",
        ])  # fmt: skip

    def _write_config(self) -> None:
        """Rewrite the config on every start, so a changed setting (or a newer storywire) applies; data stays."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        props = "".join(f"{key}={value}\n" for key, value in self._server_properties().items())
        header = "# written by storywire (streams/tools/broker.py); rewritten on every start\n"
        self.properties_file.write_text(header + props)
        self.log4j_file.write_text(self._log4j_properties())

    def _java_cmd(self, java: str, main: str, *args: str) -> list[str]:
        return [
            java,
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            # C1 only: HotSpot's quick compiler, without its profiling tier and C2 after it. Measured on the
            # bench's stream, twenty runs of 3,000 articles on one broker each way: with both, the broker took
            # 0.33-0.42 ms of CPU per article from the 10th run on, its compilers 32-52 % of that CPU in the
            # first seven runs and still 7-15 % from the 9th to the 20th; with C1 alone, 0.34-0.45 ms from the
            # second run on, its compilers 5 % and less. A local broker (the demo's, the tests', the bench's,
            # a developer's) shares two cores with the worker, and has minutes, not months, to warm up.
            "-XX:TieredStopAtLevel=1",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration={self.log4j_file.as_uri()}",
            f"-Dkafka.logs.dir={self.dir}",
            "-cp",
            f"{self.jars_dir}{os.sep}*",
            main,
            *args,
        ]

    def _format(self, java: str) -> None:
        """Write the KRaft metadata (cluster id, node id) into a fresh data directory."""
        if (self.data_dir / "meta.properties").is_file():
            return
        scram = [
            arg
            for name, password in self.scram_users.items()
            for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512")
            for arg in ("--add-scram", f"{mechanism}=[name={name},password={password}]")
        ]
        cmd = self._java_cmd(
            java, "kafka.tools.StorageTool", "format", "-t", self.cluster_id or new_cluster_id(), "-c",
            str(self.properties_file), "--ignore-formatted", *scram,
        )  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise BrokerError(
                f"formatting the Kafka data directory {self.data_dir} failed (exit {done.returncode}):\n"
                + "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
            )

    # ----------------------------------------------------------------- process

    def _alive(self, pid: int) -> bool:
        """Whether `pid` is this broker's JVM (not a zombie, not a recycled pid)."""
        if self._proc is not None and self._proc.pid == pid:
            return self._proc.poll() is None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return False  # someone else's process now has that pid
        proc = Path(f"/proc/{pid}")
        if not proc.is_dir():
            return True  # no /proc (macOS): trust the pid file
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            return False
        stat = process_stat(pid)
        return stat is not None and stat[0] != "Z" and b"kafka.Kafka" in cmdline and str(self.properties_file).encode() in cmdline

    def _running_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if self._alive(pid):
            return pid
        self.pid_file.unlink(missing_ok=True)  # stale: the broker died or the machine rebooted
        return None

    def _failure(self, what: str, log_start: int) -> BrokerError:
        parts = [f"{what}; Kafka's log is {self.log_file}"]
        log = _tail(self.log_file, start=log_start)
        if log:
            parts.append(f"last lines of {self.log_file.name}:\n{log}")
        console = _tail(self.console_file)
        if console:
            parts.append(f"last lines of {self.console_file.name}:\n{console}")
        return BrokerError("\n".join(parts))

    def _start(self, java: str) -> int:
        cmd = self._java_cmd(java, "kafka.Kafka", str(self.properties_file))
        with open(self.console_file, "wb") as out:
            self._proc = subprocess.Popen(
                cmd,
                cwd=self.dir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                close_fds=True,
                # Own session: Ctrl-C in the terminal that ran `storywire broker up` does not reach it.
                start_new_session=True,
                preexec_fn=None if self.detach or not sys.platform.startswith("linux") else _parent_death_signal,
            )
        self.pid_file.write_text(f"{self._proc.pid}\n")
        return self._proc.pid

    def _wait_ready(self, pid: int, deadline: float, timeout: float, log_start: int) -> None:
        while True:
            if not self._alive(pid):
                raise self._failure(f"Kafka {self.version} exited while starting on {self.bootstrap}", log_start)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._failure(
                    f"Kafka {self.version} did not answer on {self.bootstrap} within {timeout:g}s", log_start
                )
            try:
                _run_sync(wait_for_broker(self.bootstrap, min(3.0, remaining)))
                return
            except BrokerUnavailable:
                time.sleep(0.2)

    def up(self, timeout: float = 60, progress: Callable[[str], object] = print) -> str:
        """Start the broker in the background (if not running) and return its bootstrap address.

        Returns only once the broker answers a metadata request, within `timeout` seconds of its jars being in
        place: fetching them on a first run has its own bound, and on a slow network it alone can take minutes.
        Data is kept from earlier runs. On failure the broker is stopped again and the error quotes the end of
        its log.
        """
        java = require_java()
        self.install(progress)
        deadline = time.monotonic() + timeout
        with file_lock(self.dir / ".lock"):
            pid, log_start, started = self._launch(java, progress)
            try:
                self._wait_ready(pid, deadline, timeout, log_start)
            except BaseException:
                if started:
                    self._stop(pid, timeout=10)
                raise
            return self.bootstrap

    def _launch(self, java: str, progress: Callable[[str], object]) -> tuple[int, int, bool]:
        """Start the JVM unless it runs, without waiting for it to answer (a cluster's nodes start together, as
        none answers before a majority of controllers runs). Returns its pid, where its log starts, and
        whether it was started now. The caller holds the node's lock."""
        log_start = self.log_file.stat().st_size if self.log_file.exists() else 0
        pid = self._running_pid()
        if pid is not None:  # already running (maybe still starting): just wait for it
            return pid, log_start, False
        for port in (self.port, self.controller_port):
            if _port_accepts(port):
                raise BrokerError(
                    f"{HOST}:{port} is already taken by another process, so the local Kafka cannot "
                    f"start on {self.bootstrap}: stop that process, use another port "
                    "(STORYWIRE_LOCAL_PORT; the broker also uses the next one), "
                    "or point STORYWIRE_BROKER at a running Kafka"
                )
        self._write_config()
        self._format(java)
        log_start = self.log_file.stat().st_size if self.log_file.exists() else 0
        progress(f"starting Kafka {self.version} on {self.bootstrap}…")
        return self._start(java), log_start, True

    def _stop(self, pid: int, timeout: float, graceful: bool = True) -> None:
        """SIGTERM (Kafka shuts down cleanly, so the next start need not recover logs), then SIGKILL."""
        steps = [(signal.SIGTERM, timeout)] if graceful else []
        for sig, wait in [*steps, (signal.SIGKILL, 10.0)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            end = time.monotonic() + wait
            while self._alive(pid) and time.monotonic() < end:
                time.sleep(0.1)
            if not self._alive(pid):
                break
        else:
            raise BrokerError(f"Kafka (pid {pid}) did not stop even after SIGKILL")
        if self._proc is not None and self._proc.pid == pid:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=1)
            self._proc = None
        self.pid_file.unlink(missing_ok=True)

    def down(self, timeout: float = 30) -> bool:
        """Stop the broker, keeping its data. Returns whether one was running (not running is no error)."""
        with file_lock(self.dir / ".lock"):
            pid = self._running_pid()
            if pid is None:
                return False
            self._stop(pid, timeout)
            return True

    def restart(self, timeout: float = 60, progress: Callable[[str], object] = print) -> str:
        """Stop (cleanly) and start again on the same data, e.g. for crash and recovery tests."""
        self.down()
        return self.up(timeout=timeout, progress=progress)

    def kill(self) -> bool:
        """SIGKILL the broker, as a crash would, for recovery tests. Returns whether one was running."""
        with file_lock(self.dir / ".lock"):
            pid = self._running_pid()
            if pid is None:
                return False
            self._stop(pid, timeout=0, graceful=False)
            return True

    def status(self) -> dict[str, Any]:
        """What `storywire broker status` shows. `listening` is a plain TCP check, `running` the process."""
        pid = self._running_pid()
        return {
            "running": pid is not None,
            "pid": pid,
            "listening": pid is not None and _port_accepts(self.port),
            "bootstrap": self.bootstrap,
            "version": self.version,
            "data_dir": str(self.data_dir),
            "log": str(self.log_file),
            "jars_dir": str(self.jars_dir),
            "jars_installed": self.installed,
        }


    def node_status(self) -> dict[str, Any]:
        """One entry of `storywire broker status --json`."""
        pid = self._running_pid()
        return {"id": self.node_id, "address": self.bootstrap, "pid": pid, "running": pid is not None}


def local_kafka(settings: Settings | None = None) -> LocalKafka:
    """The local broker that Settings describe (home, kafka_version, local_port)."""
    settings = settings or Settings()
    return LocalKafka(settings.home, settings.kafka_version, settings.local_port)
