#!/usr/bin/env python3
"""Submit a campaign to a Ray cluster as a Ray job: ``python -m campaign OVERRIDES...`` run on the cluster.

    python jobs/submit.py --address http://HEAD:8265 --output /shared/lupex -- +experiment=launch run.samples=10000000
    python jobs/submit.py --output s3://bucket/lupex --no-wait -- \
        -m +experiment=launch mission.launch.propellant_load_kg=3700,3900

What it sends (Ray Jobs SDK, the same as ``ray job submit``):

* the entrypoint ``PYTHON -m campaign OVERRIDES`` (``--python``: the interpreter on the cluster, ``python`` by
  default), with the campaign's own Hydra overrides passed through unchanged;
* a runtime environment: this repository as the working directory (its ``campaign/`` and ``conf/``, without
  results, virtual environments, git metadata or caches: see ``EXCLUDES``), and environment variables:
  ``LUPEX_OUTPUT_BASE`` (the ``--output`` location: every relative output path of the campaign, the default
  ``results/...`` tree and sweep directories included, is resolved against it on the driver, since the job's
  own working directory is a temporary copy that Ray deletes), ``LUPEX_CODE_REVISION`` (the copy has no
  ``.git``), ``JAX_PLATFORMS=cpu`` and any ``--env KEY=VALUE``;
* a submission id (``--submission-id``, else ``lupex-<experiment>-<UTC time>-<random>``): Ray refuses a second
  job with the same id, so a retried submission cannot start the campaign twice.

By default it then follows the job, printing its log, and exits 0 if the job succeeded, 1 if it failed or was
stopped, 124 if ``--timeout`` passed (the job is stopped), 3 if the cluster refused the request (no or a wrong
token), 2 for bad arguments. A failed or interrupted job is completed by submitting again with
``run.output_dir=<its run directory> run.resume=true``.

Authentication: the client sends Ray's token (``RAY_AUTH_MODE=token``, the default here, with the token in
``RAY_AUTH_TOKEN``, the file ``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token``). See docs/cluster.md.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script: the package beside this file, not an installed copy
    sys.path.insert(0, str(REPO))

from campaign.provenance import code_revision  # noqa: E402  (standard library only: no JAX, no models)

DEFAULT_ADDRESS = "http://127.0.0.1:8265"
# Uploaded sources exclude everything that is not code or configuration (gitignore syntax, relative to the
# working directory): results are never shipped, nor imported from, and the package stays small.
EXCLUDES = [
    ".git",
    ".venv",
    "venv",
    "results",
    "multirun",
    "outputs",
    ".ray-local-cluster",
    ".pytest_cache",
    "**/__pycache__",
    "*.egg-info",
    "build",
    "dist",
    "tests",
    "benchmarks",
    "*.parquet",
]
TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}
EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED, EXIT_TIMEOUT = 1, 2, 3, 124


def default_submission_id(overrides: list[str]) -> str:
    experiment = next((o.split("=", 1)[1] for o in overrides if o.startswith("+experiment=")), "campaign")
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"lupex-{re.sub(r'[^A-Za-z0-9_-]', '_', experiment)}-{stamp}-{secrets.token_hex(3)}"


def build_request(args: argparse.Namespace) -> dict:
    """The keyword arguments of ``JobSubmissionClient.submit_job`` for these command-line arguments."""
    env = {
        "LUPEX_OUTPUT_BASE": args.output,
        "LUPEX_CODE_REVISION": code_revision(args.working_dir),
        "JAX_PLATFORMS": "cpu",
        "PYTHONUNBUFFERED": "1",
    }
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--env expects KEY=VALUE, got {item!r}")
        env[key] = value
    overrides = list(args.overrides)
    if overrides and overrides[0] == "--":
        overrides = overrides[1:]
    excludes = EXCLUDES + args.exclude
    if "://" not in args.output and Path(args.output).resolve().is_relative_to(args.working_dir):
        # Results kept inside the sources (e.g. a local cluster sharing this disk) are never uploaded with them.
        excludes.append("/" + Path(args.output).resolve().relative_to(args.working_dir).as_posix())
    return {
        "entrypoint": " ".join([shlex.quote(args.python), "-m", "campaign", *map(shlex.quote, overrides)]),
        "submission_id": args.submission_id or default_submission_id(overrides),
        "runtime_env": {"working_dir": str(args.working_dir), "excludes": excludes, "env_vars": env},
        "entrypoint_num_cpus": args.entrypoint_num_cpus,
        "metadata": {"lupex_output": args.output},
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="See docs/cluster.md.")
    parser.add_argument(
        "--address",
        default=os.environ.get("RAY_ADDRESS") or DEFAULT_ADDRESS,
        help="the cluster's job server (dashboard) URL (default: $RAY_ADDRESS, else %(default)s)",
    )
    parser.add_argument(
        "--output",
        required=True,
        help="where results go, as the driver sees it: an absolute path (shared storage, or the "
        "head node's disk) or a URI such as s3://bucket/lupex; relative output paths of the "
        "campaign resolve against it",
    )
    parser.add_argument("--submission-id", help="the job's id (default: lupex-<experiment>-<UTC time>-<random>)")
    parser.add_argument(
        "--python",
        default="python",
        help="the Python interpreter on the cluster, with the project's dependencies installed (default: %(default)s)",
    )
    parser.add_argument(
        "--working-dir", type=Path, default=REPO, help="the sources to upload (default: this repository)"
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an environment variable for the job (repeatable)",
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="PATTERN",
        help="another path to leave out of the upload (gitignore syntax; repeatable)",
    )
    parser.add_argument(
        "--entrypoint-num-cpus",
        type=float,
        default=0,
        help="CPUs reserved for the driver (default: %(default)s: it only coordinates)",
    )
    parser.add_argument("--no-wait", action="store_true", help="return once the job is submitted")
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="stop the job and exit 124 if it has not finished after this many seconds",
    )
    parser.add_argument("overrides", nargs=argparse.REMAINDER, help="Hydra overrides for python -m campaign (after --)")
    args = parser.parse_args(argv)
    if "://" not in args.output and not os.path.isabs(os.path.expanduser(args.output)):
        parser.error(f"--output must be an absolute path or a URI (it is resolved on the cluster), got {args.output!r}")
    args.output = args.output if "://" in args.output else os.path.expanduser(args.output)
    args.working_dir = args.working_dir.resolve()
    return args


def follow(client, submission_id: str, timeout: float | None, out=sys.stdout) -> str:
    """Stream the job's log until the job ends (or ``timeout`` passes); return its final status.

    The log is streamed (not fetched whole again and again: a long campaign's log grows for hours); if the
    stream ends early (a dropped connection), the status is polled until the job ends."""
    import asyncio

    deadline = None if timeout is None else time.monotonic() + timeout

    async def stream() -> None:
        async for lines in client.tail_job_logs(submission_id):
            out.write(lines)
            out.flush()

    try:
        asyncio.run(asyncio.wait_for(stream(), None if deadline is None else max(1.0, deadline - time.monotonic())))
    except TimeoutError:
        return "TIMEOUT"
    except Exception as e:  # the stream broke; the job goes on
        print(f"(log stream interrupted: {type(e).__name__}: {e}; waiting for the job to end)", file=sys.stderr)
    while True:
        status = str(client.get_job_status(submission_id).value)
        if status in TERMINAL:
            return status
        if deadline is not None and time.monotonic() > deadline:
            return "TIMEOUT"
        time.sleep(1.0)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Send the cluster's token unless told otherwise (a cluster without authentication ignores it).
    os.environ.setdefault("RAY_AUTH_MODE", "token")
    from ray.exceptions import AuthenticationError
    from ray.job_submission import JobSubmissionClient

    request = build_request(args)
    try:
        client = JobSubmissionClient(args.address)
        submission_id = client.submit_job(**request)
    except (AuthenticationError, ConnectionError, RuntimeError) as e:
        refused = isinstance(e, AuthenticationError) or re.search(
            r"\b(401|403)\b|[Uu]nauthori[sz]ed|[Ff]orbidden", str(e)
        )
        print(
            f"error: the cluster at {args.address} {'refused the submission' if refused else 'failed'}: {e}",
            file=sys.stderr,
        )
        if refused:
            print(
                "Token authentication: set RAY_AUTH_TOKEN, or RAY_AUTH_TOKEN_PATH to a file holding the "
                "cluster's token (docs/cluster.md).",
                file=sys.stderr,
            )
        return EXIT_REFUSED if refused else EXIT_FAILED
    print(
        f"submitted {submission_id} to {args.address}\n  entrypoint {request['entrypoint']}\n"
        f"  output     {args.output}",
        flush=True,
    )
    if args.no_wait:
        print(f"follow it with: ray job logs --address {args.address} --follow {submission_id}")
        return 0
    status = follow(client, submission_id, args.timeout)
    if status == "TIMEOUT":
        client.stop_job(submission_id)
        print(f"\njob {submission_id} still running after {args.timeout:g} s: stopped", file=sys.stderr)
        return EXIT_TIMEOUT
    print(f"\njob {submission_id}: {status}", file=sys.stderr if status != "SUCCEEDED" else sys.stdout)
    if status != "SUCCEEDED":
        info = client.get_job_info(submission_id)
        if info.message:
            print(info.message, file=sys.stderr)
        print(
            "An interrupted run is completed by submitting again with run.output_dir=<its run directory> "
            "run.resume=true.",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
