"""AWS errors in plain words: what went wrong and what the organiser can do about it."""

from __future__ import annotations

HINTS = {
    "AccessDenied": "the AWS credentials in use may not do this; ask for the permissions listed in "
                    "infra/sagemaker/iam/organiser-policy.json",
    "AccessDeniedException": "the AWS credentials in use may not do this; ask for the permissions listed "
                             "in infra/sagemaker/iam/organiser-policy.json",
    "ResourceLimitExceeded": "the account's quota is reached; ask AWS for a higher quota "
                             "(Service Quotas console) or give fewer people an instance",
    "LimitExceeded": "the account's quota is reached; ask AWS for a higher quota",
    "ThrottlingException": "AWS kept asking to slow down even after retries; run apply again, it "
                           "continues where it stopped",
    "Throttling": "AWS kept asking to slow down even after retries; run apply again",
    "BucketAlreadyExists": "another AWS account owns a bucket with this name; set [sagemaker] bucket "
                           "to a different name",
    "ExpiredToken": "the AWS session has expired; log in again (aws sso login) and rerun",
    "UnrecognizedClientException": "the AWS credentials are not valid for this account",
}


def explain_aws(error: BaseException) -> str | None:
    """One sentence for a botocore error, or None if it is not one."""
    try:
        from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError
    except ImportError:  # pragma: no cover - boto3 is a dependency
        return None
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "Error")
        message = error.response.get("Error", {}).get("Message", "")
        hint = HINTS.get(code)
        return f"{code}: {message}" + (f" ({hint})" if hint else "")
    if isinstance(error, EndpointConnectionError):
        return f"could not reach AWS at {error.kwargs.get('endpoint_url')}; check the network or AWS_ENDPOINT_URL"
    if isinstance(error, BotoCoreError):
        return str(error)
    return None


def error_code(error: BaseException) -> str:
    response = getattr(error, "response", None) or {}
    return response.get("Error", {}).get("Code", "")
