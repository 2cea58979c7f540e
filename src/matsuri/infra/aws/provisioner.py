"""`--target sagemaker`: one notebook instance per participant, with plain boto3.

What apply sends is built first as `Request` objects, so plan validates exactly those against the
service model, and apply replays them. Everything created carries the tag matsuri:event=<id>
(roles also live under the IAM path /matsuri/<id>/); destroy removes only what carries it.
"""

from __future__ import annotations

import json
import string
import time
from pathlib import Path

from matsuri import paths
from matsuri.errors import AlreadyExists, MatsuriError
from matsuri.infra.aws import clients, lifecycle, pricing
from matsuri.infra.aws.errors import error_code, explain_aws
from matsuri.infra.aws.validate import Request, validate
from matsuri.infra.base import (
    CONFLICT,
    CREATE,
    DELETE,
    EXISTS,
    STOP,
    Action,
    Plan,
    Provisioner,
    StatusRow,
)
from matsuri.infra.participants import LANGUAGES
from matsuri.infra.settings import course_release

TAG_EVENT, TAG_PARTICIPANT, TAG_ROLE, TAG_TEAM = ("matsuri:event", "matsuri:participant",
                                                  "matsuri:role", "matsuri:team")
OFFLINE_ACCOUNT = "000000000000"
NOT_FOUND = ("ValidationException", "NoSuchEntity", "NoSuchBucket", "404", "NoSuchTagSet",
             "ResourceNotFound")


class PresignedUnavailable(MatsuriError):
    """The endpoint does not implement presigned notebook URLs (moto does not)."""


def iam_folder() -> Path:
    return paths.project_root() / "infra" / "sagemaker" / "iam"


class SageMakerProvisioner(Provisioner):
    name = "sagemaker"
    workers = 8

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict = {}
        self._account: str | None = None

    # ---------------------------------------------------------------- names and clients
    @property
    def event(self) -> str:
        return self.settings.event.id

    def instance_name(self, username: str) -> str:
        return f"{self.event}-{username}"

    role_name = instance_name

    @property
    def role_path(self) -> str:
        return f"/matsuri/{self.event}/"

    def lifecycle_name(self, language: str = "") -> str:
        """One lifecycle config per language read at the event ("": the course's): it says which
        copy of the lessons on-create syncs."""
        return f"{self.event}-lifecycle" + (f"-{language}" if language else "")

    @property
    def languages(self) -> list[str]:
        return sorted({""} | {p.language for p in self.participants})

    def client(self, service: str, quick: bool = False):
        key = (service, quick)
        if key not in self._clients:
            self._clients[key] = clients.client(service, self.settings.sagemaker.region,
                                                self.settings.sagemaker.max_attempts, quick)
        return self._clients[key]

    @property
    def account(self) -> str:
        if self._account is None:
            self._account = OFFLINE_ACCOUNT if self.offline else clients.account_id(self.settings.sagemaker.region)
        return self._account

    def tags(self, person=None) -> list[dict]:
        tags = [{"Key": TAG_EVENT, "Value": self.event}]
        if person is not None:
            tags += [{"Key": TAG_PARTICIPANT, "Value": person.username},
                     {"Key": TAG_ROLE, "Value": person.role}]
            if person.team:
                tags.append({"Key": TAG_TEAM, "Value": person.team})
        return tags

    # ---------------------------------------------------------------- requests (pure)
    def bucket_requests(self) -> list[Request]:
        region = self.settings.sagemaker.region
        create = {"Bucket": self.settings.bucket}
        if region != "us-east-1":
            create["CreateBucketConfiguration"] = {"LocationConstraint": region}
        block = dict.fromkeys(("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
                               "RestrictPublicBuckets"), True)
        return [Request("s3", "CreateBucket", create),
                Request("s3", "PutPublicAccessBlock", {"Bucket": self.settings.bucket,
                                                       "PublicAccessBlockConfiguration": block}),
                Request("s3", "PutBucketTagging", {"Bucket": self.settings.bucket,
                                                   "Tagging": {"TagSet": self.tags()}})]

    def lifecycle_request(self, language: str = "") -> Request:
        hooks = lifecycle.render(self.settings, language).hooks()
        return Request("sagemaker", "CreateNotebookInstanceLifecycleConfig",
                       {"NotebookInstanceLifecycleConfigName": self.lifecycle_name(language), **hooks,
                        "Tags": self.tags()})

    def policy(self, person) -> str:
        """The participant's inline policy: only the event's bucket (and their own instance)."""
        name = "instructor-policy.json" if person.role == "instructor" else "participant-policy.json"
        template = string.Template((iam_folder() / name).read_text(encoding="utf-8"))
        text = template.substitute(partition="aws", bucket=self.settings.bucket, participant=person.username,
                                   region=self.settings.sagemaker.region, account=self.account,
                                   instance=self.instance_name(person.username))
        return json.dumps(json.loads(text), separators=(",", ":"))

    def role_requests(self, person) -> list[Request]:
        role = self.role_name(person.username)
        trust = json.dumps(json.loads((iam_folder() / "trust-policy.json").read_text()), separators=(",", ":"))
        return [Request("iam", "CreateRole", {
                    "RoleName": role, "Path": self.role_path, "AssumeRolePolicyDocument": trust,
                    "Description": f"Notebook instance role of {person.username} at {self.event}",
                    "MaxSessionDuration": 43200, "Tags": self.tags(person)}),
                Request("iam", "PutRolePolicy", {"RoleName": role, "PolicyName": f"{self.event}-bucket",
                                                 "PolicyDocument": self.policy(person)})]

    def instance_request(self, person) -> Request:
        sm = self.settings.sagemaker
        arn = f"arn:aws:iam::{self.account}:role{self.role_path}{self.role_name(person.username)}"
        return Request("sagemaker", "CreateNotebookInstance", {
            "NotebookInstanceName": self.instance_name(person.username), "InstanceType": sm.instance_type,
            "RoleArn": arn, "LifecycleConfigName": self.lifecycle_name(person.language),
            "VolumeSizeInGB": sm.volume_gb,
            "RootAccess": "Disabled", "PlatformIdentifier": sm.platform, "Tags": self.tags(person),
            "DirectInternetAccess": "Enabled" if sm.direct_internet_access else "Disabled",
            **({"SubnetId": sm.subnet_id, "SecurityGroupIds": list(sm.security_group_ids)} if sm.subnet_id else {})})

    def release_requests(self) -> list[Request]:
        """The course release, uploaded under releases/<course>/ for on-create to sync, and each
        language's copy that someone reads under releases/<language>/<course>/."""
        course = self.settings.event.course
        folders = {f"releases/{course}": course_release(course)}
        for language in filter(None, self.languages):
            if (copy := course_release(course, language)) != course_release(course):
                folders[f"releases/{language}/{course}"] = copy
        return [Request("s3", "PutObject", {"Bucket": self.settings.bucket,
                                            "Key": f"{prefix}/{p.relative_to(folder).as_posix()}",
                                            "Body": p.read_bytes()})
                for prefix, folder in folders.items() if folder.is_dir()
                for p in sorted(folder.rglob("*")) if p.is_file()]

    # ---------------------------------------------------------------- sending
    def send(self, request: Request):
        from botocore import xform_name

        method = getattr(self.client(request.service), xform_name(request.operation))
        for attempt in range(6):
            try:
                return method(**request.params)
            except Exception as error:
                # A new IAM role takes a few seconds to become assumable by SageMaker.
                if (request.operation == "CreateNotebookInstance" and attempt < 5
                        and "assume" in str(error).lower()):
                    time.sleep(5 * (attempt + 1))
                    continue
                raise

    def _runner(self, requests: list[Request], note: str = ""):
        def run() -> str:
            for request in requests:
                self.send(request)
            return note
        return run

    # ---------------------------------------------------------------- state (read-only)
    def _quiet(self, call, *args, **kwargs):
        """A look-up that answers None for 'not found'."""
        try:
            return call(*args, **kwargs)
        except Exception as error:
            if error_code(error) in NOT_FOUND or "RecordNotFound" in str(error) or "does not exist" in str(error):
                return None
            raise

    def existing(self) -> dict:
        """What the account already holds under this event's names (empty when offline)."""
        state = {"bucket": None, "lifecycle": set(), "roles": {}, "instances": {}}
        if self.offline:
            return state
        try:
            return self._look_up(state)
        except MatsuriError:
            raise
        except Exception as error:
            explained = explain_aws(error)
            if explained is None:
                raise
            raise MatsuriError(f"Could not look up what exists in AWS: {explained}. Check the credentials "
                               "and region (or AWS_ENDPOINT_URL); `plan --offline` works without AWS.") from None

    def _look_up(self, state: dict) -> dict:
        self._account = self._account or clients.account_id(self.settings.sagemaker.region)
        s3, iam = self.client("s3", quick=True), self.client("iam", quick=True)
        sm = self.client("sagemaker", quick=True)
        tagging = self._quiet(s3.get_bucket_tagging, Bucket=self.settings.bucket)
        if tagging is not None:
            state["bucket"] = {t["Key"]: t["Value"] for t in tagging.get("TagSet", [])}
        elif self._quiet(s3.head_bucket, Bucket=self.settings.bucket) is not None:
            state["bucket"] = {}
        for name in {self.lifecycle_name(x) for x in ("", *LANGUAGES)}:
            if self._quiet(sm.describe_notebook_instance_lifecycle_config,
                           NotebookInstanceLifecycleConfigName=name) is not None:
                state["lifecycle"].add(name)
        for page in iam.get_paginator("list_roles").paginate(PathPrefix=self.role_path):
            for role in page["Roles"]:
                state["roles"][role["RoleName"]] = role
        for page in sm.get_paginator("list_notebook_instances").paginate(NameContains=f"{self.event}-"):
            for item in page["NotebookInstances"]:
                state["instances"][item["NotebookInstanceName"]] = item
        return state

    def instance_tags(self, arn: str) -> dict:
        tags = self.client("sagemaker", quick=True).list_tags(ResourceArn=arn).get("Tags", [])
        return {t["Key"]: t["Value"] for t in tags}

    # ---------------------------------------------------------------- the four verbs
    def plan(self) -> Plan:
        state = self.existing()
        actions: list[Action] = []
        bucket = self.settings.bucket
        if state["bucket"] is None:
            actions.append(Action(CREATE, "bucket", bucket, requests=self.bucket_requests(),
                                  run=self._runner(self.bucket_requests())))
        elif state["bucket"].get(TAG_EVENT) == self.event:
            actions.append(Action(EXISTS, "bucket", bucket))
        else:
            actions.append(Action(CONFLICT, "bucket", bucket, run=_refuse(
                f"bucket {bucket} exists but is not tagged {TAG_EVENT}={self.event}; set [sagemaker] bucket")))
        releases = self.release_requests()
        if releases:
            actions.append(Action(CREATE, "course release", self.settings.event.course,
                                  detail=f"{len(releases)} files", requests=releases,
                                  run=self._runner(releases), needs=(f"bucket:{bucket}",), stage=1))
        for language in self.languages:
            name = self.lifecycle_name(language)
            if name in state["lifecycle"]:
                actions.append(Action(EXISTS, "lifecycle config", name))
            else:
                request = self.lifecycle_request(language)
                actions.append(Action(CREATE, "lifecycle config", name, requests=[request],
                                      run=self._runner([request])))
        for person in self.participants:
            actions += self._participant_actions(person, state)
        requests = [(a, r) for a in actions for r in a.requests]
        problems = [f"{line}" + (f" (participant {a.participant})" if a.participant else "")
                    for a, r in requests for line in validate(r)]
        creating = sum(a.kind == CREATE and a.resource == "notebook instance" for a in actions)
        notes = [f"{len(requests)} requests validated against the service model",
                 f"bucket s3://{bucket}; roles under {self.role_path}; tag {TAG_EVENT}={self.event}"]
        if not releases:
            notes.append(f"no course release at {course_release(self.settings.event.course)} yet (run "
                         "`matsuri course release`); or upload one later with `matsuri infra exchange release`")
        if self.offline:
            notes.append("offline: nothing was looked up, so everything is shown as new")
        cost = pricing.estimate(self.settings, len(self.participants))
        return Plan(self.name, actions, problems, notes, cost if creating or self.participants else None)

    def _participant_actions(self, person, state) -> list[Action]:
        role, instance = self.role_name(person.username), self.instance_name(person.username)
        out = []
        if role in state["roles"]:
            out.append(Action(EXISTS, "role", role, person.username, stage=1))
        else:
            requests = self.role_requests(person)
            out.append(Action(CREATE, "role", role, person.username, requests=requests,
                              run=self._runner(requests), stage=1))
        found = state["instances"].get(instance)
        if found is None:
            request = self.instance_request(person)
            out.append(Action(CREATE, "notebook instance", instance, person.username,
                              f"{self.settings.sagemaker.instance_type}, {self.settings.sagemaker.volume_gb} GB",
                              [request], self._runner([request]),
                              needs=(f"role:{role}", f"lifecycle config:{self.lifecycle_name(person.language)}"),
                              stage=2))
        elif self.instance_tags(found["NotebookInstanceArn"]).get(TAG_EVENT) == self.event:
            out.append(Action(EXISTS, "notebook instance", instance, person.username,
                              found["NotebookInstanceStatus"], stage=2))
        else:
            out.append(Action(CONFLICT, "notebook instance", instance, person.username, stage=2,
                              run=_refuse(f"notebook instance {instance} exists but was not created by "
                                          f"event {self.event}")))
        return out

    def status(self, presigned: bool = False) -> list[StatusRow]:
        state = self.existing()
        rows = []
        for person in self.participants:
            found = state["instances"].get(self.instance_name(person.username))
            if found is None:
                rows.append(StatusRow(person.username, person.role, "missing"))
                continue
            url, detail = f"https://{found.get('Url', '')}", found.get("InstanceType", "")
            if presigned and found["NotebookInstanceStatus"] == "InService":
                try:
                    url = self.presigned_url(person.username)
                except PresignedUnavailable as error:
                    detail = str(error)
            rows.append(StatusRow(person.username, person.role, found["NotebookInstanceStatus"], url, detail))
        return rows

    def presigned_url(self, username: str, session_hours: int = 12) -> str:
        """A sign-in-free link to the participant's Jupyter, valid for 5 minutes to open."""
        try:
            answer = self.client("sagemaker", quick=True).create_presigned_notebook_instance_url(
                NotebookInstanceName=self.instance_name(username),
                SessionExpirationDurationInSeconds=session_hours * 3600)
        except Exception as error:
            code = error_code(error)
            if code in ("500", "501", "NotImplemented", "InternalFailure") or "not been implemented" in str(error):
                raise PresignedUnavailable("this endpoint does not implement presigned notebook URLs "
                                           "(moto does not); on AWS the link opens Jupyter directly") from None
            raise MatsuriError(explain_aws(error) or str(error)) from None
        return answer["AuthorizedUrl"]

    def teardown(self) -> Plan:
        state = self.existing()
        actions = []
        for name, item in sorted(state["instances"].items()):
            if self.instance_tags(item["NotebookInstanceArn"]).get(TAG_EVENT) == self.event:
                # Stop every instance first (quick calls), then wait for each and delete it: the
                # instances stop in parallel instead of one waiter after another.
                if item["NotebookInstanceStatus"] in ("InService", "Pending", "Updating"):
                    actions.append(Action(STOP, "notebook instance", name, detail=item["NotebookInstanceStatus"],
                                          run=lambda n=name: self._stop_instance(n)))
                actions.append(Action(DELETE, "notebook instance", name, detail=item["NotebookInstanceStatus"],
                                      run=lambda n=name: self._delete_instance(n), stage=1))
        iam = self.client("iam", quick=True)
        for name in sorted(state["roles"]):
            tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=name).get("Tags", [])}
            if tags.get(TAG_EVENT) == self.event:
                actions.append(Action(DELETE, "role", name, run=lambda n=name: self._delete_role(n), stage=2))
        for name in sorted(state["lifecycle"]):
            actions.append(Action(DELETE, "lifecycle config", name, stage=2,
                                  run=self._runner([Request("sagemaker", "DeleteNotebookInstanceLifecycleConfig", {
                                      "NotebookInstanceLifecycleConfigName": name})])))
        notes = []
        ours = (state["bucket"] or {}).get(TAG_EVENT) == self.event
        if ours and self.include_data:
            actions.append(Action(DELETE, "bucket", self.settings.bucket, stage=3, run=self._delete_bucket))
        elif ours:
            notes.append(f"kept bucket s3://{self.settings.bucket} (it holds the submissions); "
                         "pass --include-data to remove it too")
        return Plan(self.name, actions, notes=notes)

    def _stop_instance(self, name: str) -> None:
        self.client("sagemaker").stop_notebook_instance(NotebookInstanceName=name)

    def _delete_instance(self, name: str) -> str:
        sm = self.client("sagemaker")
        status = sm.describe_notebook_instance(NotebookInstanceName=name)["NotebookInstanceStatus"]
        if status in ("InService", "Pending", "Updating"):  # started again since the stop step
            sm.stop_notebook_instance(NotebookInstanceName=name)
        if status not in ("Stopped", "Failed"):
            sm.get_waiter("notebook_instance_stopped").wait(
                NotebookInstanceName=name, WaiterConfig={"Delay": 15, "MaxAttempts": 80})
        sm.delete_notebook_instance(NotebookInstanceName=name)
        return f"was {status}"

    def _delete_role(self, name: str) -> None:
        iam = self.client("iam")
        for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            iam.delete_role_policy(RoleName=name, PolicyName=policy)
        iam.delete_role(RoleName=name)

    def _delete_bucket(self) -> str:
        s3, bucket, removed = self.client("s3"), self.settings.bucket, 0
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
                removed += len(keys)
        s3.delete_bucket(Bucket=bucket)
        return f"{removed} objects removed"


def _refuse(message: str):
    def run():
        raise AlreadyExists(message)
    return run
