"""The local single-node Kafka broker (KRaft): jars from Maven Central, run with the system Java."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from string import Template

from deploy import local_secrets
from deploy.processes import (
    OWNER_ONLY_UMASK,
    Log,
    ServerError,
    ensure_tool,
    log_tail,
    open_private,
    port_open,
    read_pid,
    start_detached,
    stop_server,
    wait_ready,
)
from streams.infra.settings import Settings

DEPLOY_DIR = Path(__file__).resolve().parent / "kafka"
POM = DEPLOY_DIR / "pom.xml"
LOG4J_CONFIG = DEPLOY_DIR / "log4j2.properties"
SERVER_TEMPLATE = DEPLOY_DIR / "server.properties.template"
PLAINTEXT_LISTENERS = DEPLOY_DIR / "listeners-plaintext.properties.template"
SECURE_LISTENERS = DEPLOY_DIR / "listeners-sasl-ssl.properties.template"
SCRAM_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")
MAVEN_COPY_GOAL = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies"
MAIN_CLASS = "kafka.Kafka"
MIN_JAVA = 17
HOST = "127.0.0.1"
STOP_GRACE_SECONDS = 15.0


@dataclass(frozen=True)
class KafkaPaths:
    """Where the local broker keeps its files under the state dir (jars in a sibling dir)."""

    root: Path
    lib: Path
    data: Path
    conf: Path
    server_properties: Path
    log4j: Path
    log: Path
    pid: Path
    cluster_id: Path
    mvn_log: Path
    jars_marker: Path  # sha256 of the pom whose jars are in `lib`
    scram_marker: Path  # present when the storage was formatted with the SCRAM users

    @classmethod
    def of(cls, state_dir: Path) -> KafkaPaths:
        root = state_dir.resolve() / "kafka"
        lib = state_dir.resolve() / "kafka-lib"
        conf = root / "conf"
        return cls(
            root=root,
            lib=lib,
            data=root / "data",
            conf=conf,
            server_properties=conf / "server.properties",
            log4j=conf / "log4j2.properties",
            log=root / "broker.log",
            pid=root / "broker.pid",
            cluster_id=root / "cluster.id",
            mvn_log=root / "mvn.log",
            jars_marker=lib / ".pom.sha256",
            scram_marker=root / "scram-users.formatted",
        )

    @property
    def identity(self) -> str:
        """A string only our broker's command line contains (its config path)."""
        return str(self.server_properties)


def kafka_version(pom: Path = POM) -> str:
    """The Kafka version the pom asks for (its `kafka.version` property)."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = ET.parse(pom).getroot().find("m:properties/m:kafka.version", ns)  # noqa: S314
    if node is None or not node.text:
        raise ServerError(f"{pom} has no <kafka.version> property")
    return node.text.strip()


@dataclass(frozen=True)
class BrokerSecurity:
    """What the secured broker needs: its own SCRAM login and its TLS files."""

    broker_user: str
    broker_password: str
    keystore: Path
    ca_file: Path

    def __repr__(self) -> str:
        return f"BrokerSecurity(broker_user={self.broker_user!r}, keystore={self.keystore})"


def render_server_properties(
    broker_port: int, controller_port: int, data_dir: Path, security: BrokerSecurity | None = None
) -> str:
    """server.properties for a broker+controller on loopback with its log dirs in `data_dir`:
    plain text, or (with `security`) a SASL_SSL client listener and an mTLS controller listener."""
    ports = {"broker_port": broker_port, "controller_port": controller_port}
    if security is None:
        listeners = Template(PLAINTEXT_LISTENERS.read_text()).substitute(ports)
    else:
        listeners = Template(SECURE_LISTENERS.read_text()).substitute(
            ports,
            broker_user=security.broker_user,
            broker_password=security.broker_password,
            keystore=security.keystore,
            ca_file=security.ca_file,
        )
    return Template(SERVER_TEMPLATE.read_text()).substitute(
        ports, data_dir=data_dir, listeners=listeners.strip()
    )


def broker_security(settings: Settings) -> BrokerSecurity | None:
    """The secured broker's login and TLS files (generated on first use), or None for plain text."""
    if not settings.local_secure:
        return None
    paths = local_secrets.ensure_certificates(settings)
    broker = local_secrets.read_logins(settings)["kafka"]["broker"]
    return BrokerSecurity(broker["username"], broker["password"], paths.broker_keystore, paths.ca_cert)


def scram_arguments(settings: Settings) -> list[str]:
    """`--add-scram` arguments of the storage format: the broker's and the clients' users, for each
    SCRAM mechanism the broker enables."""
    logins = local_secrets.read_logins(settings)["kafka"]
    args: list[str] = []
    for user in (logins["broker"], logins["client"]):
        for mechanism in SCRAM_MECHANISMS:
            args += ["--add-scram", f"{mechanism}=[name={user['username']},password={user['password']}]"]
    return args


def new_cluster_id() -> str:
    """A random KRaft cluster id: 22 url-safe base64 chars, never starting with '-'."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


_java_checked: dict[str, str] = {}


def ensure_java(log: Log = print) -> str:
    """Path of a Java >= 17 (installing default-jre-headless when missing and root)."""
    java = ensure_tool("java", "default-jre-headless", log=log)
    if java in _java_checked:
        return java
    out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30, check=False)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if match:
        major = int(match.group(1))
        if major == 1 and match.group(2):
            major = int(match.group(2))  # "1.8.0" is Java 8
        if major < MIN_JAVA:
            raise ServerError(f"Kafka needs Java {MIN_JAVA}+, but {java} is Java {major}")
    _java_checked[java] = out.stderr.strip().splitlines()[0] if out.stderr.strip() else ""
    return java


def ensure_tools(settings: Settings, log: Log = print) -> None:
    """Install what the local broker needs (Java; Maven when the jars are not copied yet)."""
    ensure_java(log)
    if not jars_current(KafkaPaths.of(settings.state_dir)):
        ensure_tool("mvn", "maven", log=log)


def pom_hash(pom: Path = POM) -> str:
    return hashlib.sha256(pom.read_bytes()).hexdigest()


def jars_current(paths: KafkaPaths, pom: Path = POM) -> bool:
    """True when `paths.lib` holds the jars of this exact pom."""
    try:
        recorded = paths.jars_marker.read_text().strip()
    except OSError:
        return False
    return recorded == pom_hash(pom) and any(paths.lib.glob("*.jar"))


def ensure_jars(paths: KafkaPaths, log: Log = print, pom: Path = POM) -> bool:
    """Copy the broker's jars with Maven unless already done for this pom; True when copied."""
    if jars_current(paths, pom):
        return False
    ensure_java(log)
    mvn = ensure_tool("mvn", "maven", log=log)
    log(f"Resolving Kafka {kafka_version(pom)} jars with Maven (first run only)...")
    started = time.monotonic()
    shutil.rmtree(paths.lib, ignore_errors=True)  # never mix versions
    paths.lib.mkdir(mode=0o700, parents=True)
    paths.root.mkdir(mode=0o700, parents=True, exist_ok=True)
    argv = [
        mvn,
        "-B",
        "-q",
        "-f",
        str(pom),
        MAVEN_COPY_GOAL,
        "-DincludeScope=runtime",
        f"-DoutputDirectory={paths.lib}",
    ]
    with open_private(paths.mvn_log, "wb") as out:
        try:
            code = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=paths.root,
                timeout=900,
                check=False,
                umask=OWNER_ONLY_UMASK,
            ).returncode
        except subprocess.TimeoutExpired:
            code = -1
    if code != 0 or not any(paths.lib.glob("*.jar")):
        raise ServerError(
            f"Maven could not copy the Kafka jars (code {code})\n"
            f"--- last lines of {paths.mvn_log} ---\n{log_tail(paths.mvn_log)}"
        )
    paths.jars_marker.write_text(pom_hash(pom) + "\n")
    size_mb = sum(f.stat().st_size for f in paths.lib.glob("*.jar")) / 1e6
    log(f"Kafka jars ready in {paths.lib} ({size_mb:.0f} MB, {time.monotonic() - started:.1f} s)")
    return True


def write_config(settings: Settings, paths: KafkaPaths) -> None:
    """(Re)write server.properties (mode 0600: it may hold the broker's password) and
    log4j2.properties for the configured ports and security."""
    paths.conf.mkdir(mode=0o700, parents=True, exist_ok=True)
    paths.data.mkdir(mode=0o700, parents=True, exist_ok=True)
    text = render_server_properties(
        settings.local_kafka_port, settings.local_kafka_controller_port, paths.data, broker_security(settings)
    )
    paths.server_properties.touch(mode=0o600)
    paths.server_properties.chmod(0o600)
    paths.server_properties.write_text(text)
    shutil.copyfile(LOG4J_CONFIG, paths.log4j)


def _classpath_opts(paths: KafkaPaths) -> list[str]:
    return [f"-Dlog4j2.configurationFile={paths.log4j}", "-cp", f"{paths.lib}/*"]


def format_storage(java: str, paths: KafkaPaths, settings: Settings, log: Log = print) -> None:
    """Format the KRaft log dir once (with the SCRAM users when secured); the cluster id is kept in
    `cluster.id`. A secured start on a log dir formatted without the users is refused with what to do."""
    if (paths.data / "meta.properties").exists():
        if settings.local_secure and not paths.scram_marker.exists():
            raise ServerError(
                f"The Kafka data in {paths.data} was created by the plain-text local stack, without "
                "the SCRAM users the secured stack logs in with. Either start it as before with "
                "IVIGWATCH_LOCAL_SECURE=false, or remove the old broker data (its topics are lost) "
                f"and start again: `ivigwatch stack down && rm -rf {paths.root}` (state dir "
                f"{settings.state_dir})"
            )
        return
    if paths.cluster_id.exists():
        cluster_id = paths.cluster_id.read_text().strip()
    else:
        cluster_id = new_cluster_id()
        paths.cluster_id.write_text(cluster_id + "\n")
    log(f"Formatting the Kafka storage in {paths.data} (cluster id {cluster_id})...")
    argv = [
        java,
        *_classpath_opts(paths),
        "kafka.tools.StorageTool",
        "format",
        "-t",
        cluster_id,
        "-c",
        str(paths.server_properties),
        "--ignore-formatted",
    ]
    scram = scram_arguments(settings) if settings.local_secure else []
    out = subprocess.run(
        argv + scram,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        umask=OWNER_ONLY_UMASK,  # meta.properties and the bootstrap checkpoint: owner only
    )
    if out.returncode != 0:
        tail = "\n".join((out.stdout + out.stderr).splitlines()[-20:])
        for secret in scram[1::2]:  # never echo a password in an error text
            tail = tail.replace(secret.split("password=", 1)[1].rstrip("]"), "***")
        raise ServerError(f"Formatting the Kafka storage failed (code {out.returncode}):\n{tail}")
    if scram:
        paths.scram_marker.write_text("SCRAM users added at format\n")


def running_pid(settings: Settings) -> int | None:
    """Pid of the local broker of this state dir, or None when it is not running."""
    paths = KafkaPaths.of(settings.state_dir)
    return read_pid(paths.pid, paths.identity)


def _check_ports_free(settings: Settings) -> None:
    for name, port in (
        ("IVIGWATCH_LOCAL_KAFKA_PORT", settings.local_kafka_port),
        ("IVIGWATCH_LOCAL_KAFKA_CONTROLLER_PORT", settings.local_kafka_controller_port),
    ):
        if port_open(HOST, port):
            raise ServerError(
                f"Port {HOST}:{port} is taken by another program, not this stack's broker "
                f"(state dir {settings.state_dir}): stop it or set {name} to a free port"
            )


def ensure_running(settings: Settings, log: Log = print) -> int:
    """Start the local broker unless it already runs; wait until it accepts clients; its pid."""
    paths = KafkaPaths.of(settings.state_dir)
    address = f"{HOST}:{settings.local_kafka_port}"

    def accepting() -> bool:
        return port_open(HOST, settings.local_kafka_port)

    timeout = settings.stack_start_timeout
    pid = read_pid(paths.pid, paths.identity)
    if pid is not None:
        wait_ready(accepting, pid=pid, what="Kafka", log_path=paths.log, timeout=timeout)
        log(f"Kafka already running on {address} (pid {pid})")
        return pid
    _check_ports_free(settings)
    ensure_jars(paths, log)
    java = ensure_java(log)
    write_config(settings, paths)
    format_storage(java, paths, settings, log)
    heap = settings.local_kafka_heap_mb
    argv = [
        java,
        f"-Xms{min(256, heap)}m",
        f"-Xmx{heap}m",
        "-XX:+UseSerialGC",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        *_classpath_opts(paths),
        MAIN_CLASS,
        str(paths.server_properties),
    ]
    log(f"Starting Kafka on {address}...")
    started = time.monotonic()
    pid = start_detached(argv, log_path=paths.log, pid_path=paths.pid, cwd=paths.root)
    wait_ready(accepting, pid=pid, what="Kafka", log_path=paths.log, timeout=timeout)
    log(f"Kafka ready on {address} in {time.monotonic() - started:.1f} s (pid {pid})")
    return pid


def stop(settings: Settings, log: Log = print) -> int | None:
    """Stop the local broker (controlled shutdown, SIGKILL after 15 s); its pid or None."""
    paths = KafkaPaths.of(settings.state_dir)
    return stop_server("Kafka", paths.pid, paths.identity, log, grace=STOP_GRACE_SECONDS)
