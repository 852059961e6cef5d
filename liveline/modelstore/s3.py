"""Amazon S3 (SeaweedFS locally) as the models' object store, through boto3.

Credentials come from the standard AWS chain (environment, profile, web identity, the
instance's role); only the local server, named by an endpoint on 127.0.0.1, gets the
development identity that `make up` configures it with (liveline.settings). Nothing of
either reaches a log or object metadata.
Create-only writes are conditional (If-None-Match: *, 412 when the key exists: AWS since
2024-08 and SeaweedFS both honour it), replacements If-Match: <etag>; every write sends
its SHA-256 (x-amz-checksum-sha256), which the server checks against the bytes it gets.
Retries are bounded (botocore's standard mode, 3 attempts) and so are the timeouts.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from liveline.modelstore.base import ModelStoreError, ObjectChanged, ObjectExists, ObjectNotFound
from liveline.modelstore.objects import NewObject, ObjectInfo, Page, StoredObject
from liveline.settings import SEAWEEDFS_ACCESS_KEY, SEAWEEDFS_SECRET_KEY, Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
NOT_FOUND = frozenset({"404", "NoSuchKey", "NoSuchBucket", "NotFound"})
# What a server without bucket policies answers (and AWS for a bucket without a policy).
UNSUPPORTED = frozenset({"NoSuchBucketPolicy", "NotImplemented", "MethodNotAllowed", "501"})
PUBLIC_GRANTEES = frozenset(
    {
        "http://acs.amazonaws.com/groups/global/AllUsers",
        "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
    }
)


def endpoint_url(settings: Settings) -> str | None:
    """LIVELINE_S3_ENDPOINT_URL; empty: the local SeaweedFS; "aws": AWS's own endpoint."""
    if settings.s3_endpoint_url == "aws":
        return None
    return settings.s3_endpoint_url or settings.local_s3_url


def client(endpoint: str | None, region: str, attempts: int = 3) -> S3Client:
    """An S3 client with bounded retries and timeouts (a sensor tick must not hang)."""
    config = Config(
        retries={"max_attempts": attempts, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
        s3={"addressing_style": "path"} if endpoint else {},
        # Checksums only where an operation requires one; put() sends its own SHA-256.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    local = endpoint is not None and urlsplit(endpoint).hostname in LOCAL_HOSTS
    keys: dict[str, Any] = (
        {"aws_access_key_id": SEAWEEDFS_ACCESS_KEY, "aws_secret_access_key": SEAWEEDFS_SECRET_KEY}
        if local
        else {}  # the standard credential chain
    )
    session = boto3.session.Session()
    return session.client("s3", endpoint_url=endpoint, region_name=region, config=config, **keys)


_SHARED: dict[tuple[str | None, str], S3Client] = {}
_SHARED_LOCK = threading.Lock()


def shared_client(endpoint: str | None, region: str) -> S3Client:
    """One client per endpoint and region for the process, never closed: making one costs
    about 100 ms (botocore loads its service model and resolves credentials), more than
    a whole sensor tick may take. boto3 clients are thread-safe, and refreshable
    credentials (web identity, instance role) renew themselves."""
    with _SHARED_LOCK:
        if (endpoint, region) not in _SHARED:
            _SHARED[(endpoint, region)] = client(endpoint, region)
        return _SHARED[(endpoint, region)]


def _code(e: ClientError) -> str:
    return str(e.response.get("Error", {}).get("Code", ""))


def _seconds(t: datetime) -> datetime:
    return t.replace(microsecond=0)


def _info(name: str, got: Mapping[str, Any]) -> ObjectInfo:
    """The properties a GetObject or HeadObject answer carries (the same headers)."""
    return ObjectInfo(
        name=name,
        size=got["ContentLength"],
        etag=got["ETag"].strip('"'),
        last_modified=_seconds(got["LastModified"]),
        metadata=got.get("Metadata", {}),
    )


class S3Bucket:
    """A models bucket: the Bucket that liveline.modelstore.objects describes."""

    def __init__(self, s3: S3Client, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}"

    def ensure(self) -> None:
        try:
            self.s3.head_bucket(Bucket=self.bucket)
        except ClientError as e:
            if _code(e) not in NOT_FOUND:
                raise
            self._create()
        grants = self.s3.get_bucket_acl(Bucket=self.bucket).get("Grants", [])
        public = [g for g in grants if g.get("Grantee", {}).get("URI") in PUBLIC_GRANTEES]
        if public:
            raise ModelStoreError(
                f"bucket {self.url} grants {public[0].get('Permission')} to everyone; models "
                "must stay private: remove that grant (and keep Block Public Access on)"
            )
        try:  # a bucket policy can make it public too (AWS; not every server has it)
            status = self.s3.get_bucket_policy_status(Bucket=self.bucket)["PolicyStatus"]
        except ClientError as e:
            if _code(e) not in UNSUPPORTED:
                raise
            return
        if status.get("IsPublic"):
            raise ModelStoreError(
                f"bucket {self.url} has a policy that makes it public; models must stay "
                "private: remove that statement (and keep Block Public Access on)"
            )

    def _create(self) -> None:
        """Private: no ACL argument. Outside us-east-1 AWS wants the region named."""
        region = self.s3.meta.region_name
        where: dict[str, Any] = (
            {"CreateBucketConfiguration": {"LocationConstraint": region}}
            if region and region != "us-east-1"
            else {}
        )
        try:
            self.s3.create_bucket(Bucket=self.bucket, **where)
        except ClientError as e:
            if _code(e) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise

    def put(self, new: NewObject, replacing: str | None = None) -> None:
        condition = {"IfNoneMatch": "*"} if replacing is None else {"IfMatch": f'"{replacing}"'}
        try:
            self.s3.put_object(
                Bucket=self.bucket,
                Key=new.name,
                Body=new.data,
                Metadata=dict(new.metadata),
                ContentType=new.content_type,
                ChecksumSHA256=base64.b64encode(hashlib.sha256(new.data).digest()).decode(),
                **condition,  # type: ignore[arg-type]
            )
        except ClientError as e:
            if _code(e) in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                raise (ObjectExists if replacing is None else ObjectChanged)(new.name) from e
            if replacing is not None and _code(e) in NOT_FOUND:
                raise ObjectChanged(new.name) from e
            raise

    def get(self, name: str, etag: str | None = None) -> StoredObject:
        pinned = {"IfMatch": f'"{etag}"'} if etag else {}
        try:
            got = self.s3.get_object(Bucket=self.bucket, Key=name, **pinned)  # type: ignore[arg-type]
            data = got["Body"].read()
        except ClientError as e:
            if _code(e) in NOT_FOUND:
                raise ObjectNotFound(name) from e
            if _code(e) in ("PreconditionFailed", "412"):
                raise ObjectChanged(name) from e
            raise
        return StoredObject(_info(name, got), data)

    def head(self, name: str) -> ObjectInfo:
        try:
            got = self.s3.head_object(Bucket=self.bucket, Key=name)
        except ClientError as e:
            if _code(e) in NOT_FOUND:
                raise ObjectNotFound(name) from e
            raise
        return _info(name, got)

    def pages(
        self, prefix: str = "", page_size: int = 1000, token: str | None = None
    ) -> Iterator[Page]:
        while True:
            more: dict[str, Any] = {"ContinuationToken": token} if token else {}
            try:
                got = self.s3.list_objects_v2(
                    Bucket=self.bucket, Prefix=prefix, MaxKeys=page_size, **more
                )
            except ClientError as e:
                if _code(e) in NOT_FOUND:
                    raise ObjectNotFound(self.url) from e
                raise
            objects = [
                ObjectInfo(
                    name=o["Key"],
                    size=o["Size"],
                    etag=o["ETag"].strip('"'),
                    last_modified=_seconds(o["LastModified"]),
                )
                for o in got.get("Contents", [])
            ]
            token = got.get("NextContinuationToken") if got.get("IsTruncated") else None
            yield Page(objects, token)
            if token is None:
                return
