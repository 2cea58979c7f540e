"""Stop this notebook instance when Jupyter has been idle for a while (run from cron every 5 min).

Idle means: no kernel is busy, and the newest activity of any kernel (or, with no kernels, the
instance's start) is older than --idle-seconds. The inputs can be given as files and the clock
fixed (--sessions-file, --now), so the decision is testable away from AWS.
"""
import argparse
import json
import os
import ssl
import sys
import time
import urllib.request
from datetime import datetime, timezone

METADATA = "/opt/ml/metadata/resource-metadata.json"


def parse_time(text):
    return datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()


def load_sessions(args):
    if args.sessions_file:
        with open(args.sessions_file) as f:
            return json.load(f)
    context = ssl._create_unverified_context()  # the local Jupyter uses a self-signed certificate
    with urllib.request.urlopen(args.jupyter_url + "/api/sessions", context=context, timeout=20) as r:
        return json.load(r)


def idle_for(sessions, now, started):
    """Seconds since the last activity, or None if a kernel is busy right now."""
    newest = started
    for session in sessions:
        kernel = session.get("kernel") or {}
        if kernel.get("execution_state") == "busy":
            return None
        if kernel.get("last_activity"):
            newest = max(newest, parse_time(kernel["last_activity"]))
    return now - newest


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--idle-seconds", type=int, default=3600)
    parser.add_argument("--jupyter-url", default="https://localhost:8443")
    parser.add_argument("--sessions-file", help="read sessions from this JSON file (tests)")
    parser.add_argument("--metadata-file", default=METADATA)
    parser.add_argument("--now", type=float, help="the current time as a UNIX timestamp (tests)")
    parser.add_argument("--started", type=float, help="when the instance started (default: uptime)")
    parser.add_argument("--dry-run", action="store_true", help="print the decision, stop nothing")
    args = parser.parse_args(argv)

    now = args.now if args.now is not None else time.time()
    started = args.started
    if started is None:
        with open("/proc/uptime") as f:
            started = time.time() - float(f.read().split()[0])
    idle = idle_for(load_sessions(args), now, started)
    if idle is None:
        print("active: a kernel is busy")
        return 0
    if idle < args.idle_seconds:
        print("active: idle for %d s of %d" % (idle, args.idle_seconds))
        return 0
    with open(args.metadata_file) as f:
        name = json.load(f)["ResourceName"]
    print("idle for %d s: stopping %s" % (idle, name))
    if args.dry_run:
        return 0
    import boto3  # present in the instance's JupyterSystemEnv
    region = os.environ.get("AWS_REGION") or boto3.session.Session().region_name
    boto3.client("sagemaker", region_name=region).stop_notebook_instance(NotebookInstanceName=name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
