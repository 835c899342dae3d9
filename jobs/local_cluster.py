#!/usr/bin/env python3
"""A multi-node Ray cluster on this machine, every port on 127.0.0.1, token authentication on: for developing
and testing cluster jobs without a real cluster.

    python jobs/local_cluster.py start [--workers 1] [--cpus-per-node 1] [--state-dir DIR]
    python jobs/local_cluster.py status|add-node|remove-node|stop [--state-dir DIR]

``start`` runs a head node (GCS, dashboard with the job server) and ``--workers`` worker nodes, each a
separate raylet with its own workers, object store and agents, in one background process group
(``ray.cluster_utils.Cluster``); it returns once they are up and prints the environment a client needs:
``RAY_ADDRESS`` (the dashboard, where jobs are submitted), ``RAY_AUTH_MODE=token`` and ``RAY_AUTH_TOKEN_PATH``.
``remove-node`` kills the newest worker node's processes at once, as when a machine is lost; ``add-node`` adds
one. ``stop`` shuts the cluster down and kills anything it started that is still alive (job drivers included),
then checks that nothing is left.

Why not ``ray start``: Ray binds every port to all interfaces by default, even with ``--node-ip-address
127.0.0.1``. Single-machine mode (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, read when Ray is imported) binds
them to 127.0.0.1, but then ``ray start`` refuses to add worker nodes; ``ray.cluster_utils.Cluster`` starts
them anyway, each on its own ports. The cluster's temporary directory is private to it (not ``/tmp/ray``) and
it is not registered as the machine's "current" cluster, so it neither sees nor disturbs other Ray instances
on the machine; it never runs ``ray stop``, which would kill every Ray process of the user.

The state directory (default ``.ray-local-cluster/`` in the current directory, mode 0700) holds
``cluster.json`` (addresses, process ids), ``auth_token`` (0600; generated unless ``RAY_AUTH_TOKEN`` is set
when starting) and ``cluster.log``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STATE_FILE = "cluster.json"
TOKEN_FILE = "auth_token"
LOG_FILE = "cluster.log"
LOOPBACK = "127.0.0.1"


# ------------------------------------------------------------------------------------------ the cluster
def _free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def _write_json(path: Path, obj: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    os.replace(tmp, path)


def serve(state_dir: Path, workers: int, cpus_per_node: int, system_config: dict) -> int:
    """Run the cluster in this process until SIGTERM/SIGINT (``start`` runs this in the background).

    SIGUSR1 adds a worker node, SIGUSR2 removes the newest one; ``cluster.json`` is rewritten after each change.
    """
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # every port on 127.0.0.1; read at import
    os.environ["RAY_AUTH_MODE"] = "token"
    os.environ["RAY_AUTH_TOKEN"] = (state_dir / TOKEN_FILE).read_text().strip()
    os.environ.pop("RAY_AUTH_TOKEN_PATH", None)
    os.environ.pop("RAY_ADDRESS", None)
    # Ports Ray otherwise takes at fixed numbers (metrics of the autoscaler and the dashboard; the head's
    # dashboard agent): free ones, so that this cluster can run beside another Ray instance.
    os.environ["AUTOSCALER_METRIC_PORT"] = str(_free_port())
    os.environ["DASHBOARD_METRIC_PORT"] = str(_free_port())
    import ray
    import ray._common.utils
    import ray._private.utils
    from ray.cluster_utils import Cluster

    # The Cluster helper records its address in /tmp/ray/ray_current_cluster, where `ray.init()` and
    # `address="auto"` look, and deletes that file at shutdown: it would redirect, then break, other Ray users
    # of this machine. The address is recorded in each node's own temporary directory instead (below), which
    # is where Ray's job supervisor looks for the address it gives a job's driver; without it, Ray would
    # connect the driver to whatever Ray instance it finds running on the machine.
    write_ray_address = ray._private.utils.write_ray_address
    ray._private.utils.write_ray_address = lambda *a, **k: None
    ray._common.utils.reset_ray_address = lambda *a, **k: None

    requests: list[str] = []

    def handle_signals() -> None:  # again once the nodes are up: Ray's node objects install their own
        for sig, what in (
            (signal.SIGTERM, "stop"),
            (signal.SIGINT, "stop"),
            (signal.SIGUSR1, "add"),
            (signal.SIGUSR2, "remove"),
        ):
            signal.signal(sig, lambda *_, what=what: requests.append(what))

    handle_signals()

    # Each node has a temporary directory of its own, as separate machines have: nodes sharing one would
    # unpack the job's sources into the same place, replacing the directory under the driver's feet.
    # Short names: Ray's socket paths must fit in 107 bytes.
    temp_dirs: list[str] = []

    def node_args() -> dict:
        temp_dirs.append(tempfile.mkdtemp(prefix="lupex-ray-"))
        return dict(num_cpus=cpus_per_node, node_ip_address=LOOPBACK, temp_dir=temp_dirs[-1])

    dashboard_port = _free_port()
    cluster = Cluster(
        initialize_head=True,
        shutdown_at_exit=True,
        head_node_args=dict(
            **node_args(),
            include_dashboard=True,
            dashboard_host=LOOPBACK,
            dashboard_port=dashboard_port,
            dashboard_agent_listen_port=_free_port(),
            gcs_server_port=_free_port(),
            _system_config=system_config,
        ),
    )
    nodes = [cluster.add_node(**node_args()) for _ in range(workers)]
    for d in temp_dirs:
        write_ray_address(cluster.address, d)
    handle_signals()

    def describe() -> dict:
        def node_info(node, role):
            procs = {kind: [p.process.pid for p in infos] for kind, infos in node.all_processes.items()}
            return {"role": role, "node_id": node.node_id, "raylet_pid": procs.get("raylet", [None])[0]}

        return {
            "pid": os.getpid(),
            "gcs_address": cluster.address,
            "dashboard_url": f"http://{LOOPBACK}:{dashboard_port}",
            "temp_dirs": temp_dirs,
            "token_file": str(state_dir / TOKEN_FILE),
            "nodes": [node_info(cluster.head_node, "head")] + [node_info(n, "worker") for n in nodes],
        }

    _write_json(state_dir / STATE_FILE, describe())
    print(f"cluster up: {len(nodes)} worker node(s), dashboard {describe()['dashboard_url']}", flush=True)
    try:
        while True:
            if not requests:
                time.sleep(0.1)
                continue
            what = requests.pop(0)
            if what == "stop":
                break
            if what == "add":
                nodes.append(cluster.add_node(**node_args()))
                write_ray_address(cluster.address, temp_dirs[-1])
                print("added a worker node", flush=True)
            elif what == "remove" and nodes:
                node = nodes.pop()
                cluster.remove_node(node, allow_graceful=False)  # SIGKILL: the node is lost, not drained
                print(f"removed worker node {node.node_id}", flush=True)
            _write_json(state_dir / STATE_FILE, describe())
    finally:
        cluster.shutdown()
        for d in temp_dirs:
            shutil.rmtree(d, ignore_errors=True)
        print("cluster stopped", flush=True)
    return 0


# --------------------------------------------------------------------------------------------- control
def _psutil():
    try:
        import psutil
    except ImportError:  # Ray ships its own copy, on its path once Ray is imported
        import psutil
        import ray  # noqa: F401
    return psutil


def read_state(state_dir: Path) -> dict:
    path = state_dir / STATE_FILE
    if not path.exists():
        raise SystemExit(f"no cluster recorded in {state_dir} (start one with: {sys.argv[0]} start)")
    return json.loads(path.read_text())


def client_env(state: dict) -> dict[str, str]:
    """What a client (job submission, ``ray.init``) needs to reach and authenticate to the cluster."""
    return {"RAY_ADDRESS": state["dashboard_url"], "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": state["token_file"]}


def _process_tree(pid: int) -> list:
    """The process and all its descendants, found while the tree is intact (Ray's job drivers and some
    helpers run in sessions of their own, so they are not in the cluster's process group)."""
    psutil = _psutil()
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _alive(procs: list) -> list:
    psutil = _psutil()
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def start(state_dir: Path, workers: int, cpus_per_node: int, timeout: float, system_config: dict) -> dict:
    """Start the cluster in the background and wait until it is up; return its state (see the module doc)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(state_dir, 0o700)
    if (state_dir / STATE_FILE).exists():
        state = json.loads((state_dir / STATE_FILE).read_text())
        if _alive(_process_tree(state["pid"])):
            raise SystemExit(f"a cluster is already running from {state_dir} (pid {state['pid']}): stop it first")
        for d in state.get("temp_dirs", []):  # left by a cluster that died without stopping
            shutil.rmtree(d, ignore_errors=True)
        (state_dir / STATE_FILE).unlink()
    token = os.environ.get("RAY_AUTH_TOKEN") or secrets.token_hex(32)
    fd = os.open(state_dir / TOKEN_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token)
    with open(state_dir / LOG_FILE, "ab") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                os.path.abspath(__file__),
                "_serve",
                "--state-dir",
                str(state_dir),
                "--workers",
                str(workers),
                "--cpus-per-node",
                str(cpus_per_node),
                "--system-config",
                json.dumps(system_config),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while not (state_dir / STATE_FILE).exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            _kill_tree(_process_tree(proc.pid), grace=0)
            _kill_group(proc.pid)
            proc.wait()
            tail = (state_dir / LOG_FILE).read_text(errors="replace")[-3000:]
            raise SystemExit(f"the cluster did not start (see {state_dir / LOG_FILE}):\n{tail}")
        time.sleep(0.2)
    state = read_state(state_dir)
    status = _unauthenticated_status(state["dashboard_url"], deadline)
    if status != 401:
        stop(state_dir)
        raise SystemExit(
            f"the job server answered a request without a token with HTTP {status}, not 401: token "
            "authentication is not in effect (it needs Ray >= 2.52); the cluster was stopped"
        )
    return state


def _unauthenticated_status(url: str, deadline: float) -> int | None:
    """The HTTP status of a job listing asked without a token, once the job server answers."""
    import urllib.error
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy
    while time.monotonic() < deadline:
        try:
            with opener.open(f"{url}/api/jobs/", timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:  # not listening yet
            time.sleep(0.2)
    return None


def _kill_tree(procs: list, grace: float) -> list:
    """SIGTERM the first process (the cluster), wait up to ``grace`` s, then SIGKILL whatever of ``procs`` is
    still alive; return what survived even that."""
    psutil = _psutil()
    if procs and grace > 0:
        try:
            procs[0].send_signal(signal.SIGTERM)
        except psutil.NoSuchProcess:
            pass
        psutil.wait_procs(procs[:1], timeout=grace)
    for p in _alive(procs):
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=10)
    return _alive(procs)


def _kill_group(pgid: int) -> None:
    """SIGKILL the cluster's process group: Ray's node processes share it with the cluster process, and are
    found there even when they outlived it (orphans are no longer in its tree)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def stop(state_dir: Path, grace: float = 60) -> None:
    """Shut the cluster down (gracefully, then by force) and verify that none of its processes is left."""
    state = read_state(state_dir)
    procs = _process_tree(state["pid"])
    left = _kill_tree(procs, grace)
    _kill_group(state["pid"])
    for d in state.get("temp_dirs", []):
        shutil.rmtree(d, ignore_errors=True)
    (state_dir / STATE_FILE).unlink(missing_ok=True)
    if left:
        raise SystemExit(f"processes left after stopping: {[p.pid for p in left]}")


def signal_cluster(state_dir: Path, sig: int, expect_workers: int, timeout: float = 60) -> dict:
    """Ask the running cluster to add (SIGUSR1) or remove (SIGUSR2) a worker node and wait until it has."""
    state = read_state(state_dir)
    os.kill(state["pid"], sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = read_state(state_dir)
        if sum(n["role"] == "worker" for n in state["nodes"]) == expect_workers:
            return state
        time.sleep(0.1)
    raise SystemExit("the cluster did not change its nodes in time (see the log in the state directory)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["start", "stop", "status", "add-node", "remove-node", "_serve"])
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path(".ray-local-cluster"),
        help="where the cluster's state, token and log live (default: %(default)s)",
    )
    parser.add_argument("--workers", type=int, default=1, help="worker nodes besides the head (default: 1)")
    parser.add_argument("--cpus-per-node", type=int, default=1, help="CPUs each node offers (default: 1)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for the cluster to start")
    parser.add_argument("--system-config", default="{}", help=argparse.SUPPRESS)  # Ray internals (tests)
    args = parser.parse_args(argv)
    state_dir = args.state_dir.resolve()
    system_config = json.loads(args.system_config)
    if args.command == "_serve":
        return serve(state_dir, args.workers, args.cpus_per_node, system_config)
    if args.command == "start":
        state = start(state_dir, args.workers, args.cpus_per_node, args.timeout, system_config)
    elif args.command == "stop":
        stop(state_dir)
        print("stopped")
        return 0
    elif args.command in ("add-node", "remove-node"):
        workers = sum(n["role"] == "worker" for n in read_state(state_dir)["nodes"])
        add = args.command == "add-node"
        if not add and workers == 0:
            raise SystemExit("no worker node to remove")
        state = signal_cluster(state_dir, signal.SIGUSR1 if add else signal.SIGUSR2, workers + (1 if add else -1))
    else:
        state = read_state(state_dir)
    print(json.dumps(state, indent=2))
    print("# a client of this cluster needs:")
    for key, value in client_env(state).items():
        print(f"export {key}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
