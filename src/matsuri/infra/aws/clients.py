"""boto3 clients with retries for throttling (adaptive backoff) and the event's region.

boto3 reads AWS_ENDPOINT_URL itself, so the same code path talks to AWS or to a local moto server.
"""

from __future__ import annotations


def client(service: str, region: str, max_attempts: int = 8, quick: bool = False):
    """A client for one service. `quick` gives read-only look-ups a short fuse (plan, status)."""
    import boto3
    from botocore.config import Config

    config = Config(
        region_name=region,
        retries={"mode": "adaptive", "max_attempts": 2 if quick else max_attempts},
        connect_timeout=5 if quick else 30,
        read_timeout=30 if quick else 120,
        user_agent_extra="matsuri-infra",
    )
    # A new session per client: credentials and endpoint come from the environment at that moment.
    return boto3.session.Session().client(service, config=config)


def account_id(region: str) -> str:
    return client("sts", region, quick=True).get_caller_identity()["Account"]
