"""S3 storage: `s3://bucket/prefix` locations, and objects under one of them through dagster-aws's S3Resource.

Credentials come only from the standard AWS chain (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
AWS_REGION or AWS_DEFAULT_REGION, a profile, an instance role); an S3-compatible store is reached through its endpoint
URL (WORKBENCH_S3_ENDPOINT_URL). dagster-aws and pyarrow's S3 filesystem are imported on first use: importing
dagster-aws takes about a second, which the local default never pays.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import urlsplit

S3_SCHEME = "s3://"
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_ALREADY_THERE = ("PreconditionFailed", "ConditionalRequestConflict")


class ObjectExists(FileExistsError):
    """A write that must never replace an object found one already there."""


def is_s3(location: str) -> bool:
    return location.startswith(S3_SCHEME)


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str = ""

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        """`s3://bucket[/prefix]`, empty path segments dropped; ValueError when the bucket is missing or malformed."""
        if not is_s3(uri):
            raise ValueError(f"{uri!r} is not an s3:// location")
        bucket, _, prefix = uri.removeprefix(S3_SCHEME).partition("/")
        if not _BUCKET.fullmatch(bucket):
            raise ValueError(f"{uri!r} needs a bucket name of 3-63 lower-case letters, digits, dots or hyphens")
        return cls(bucket, "/".join(part for part in prefix.split("/") if part))

    def key(self, *parts: str) -> str:
        return "/".join(part for part in (self.prefix, *parts) if part)

    def uri(self, *parts: str) -> str:
        return f"{S3_SCHEME}{self.bucket}/{self.key(*parts)}".rstrip("/")


@dataclass(frozen=True)
class StoredObject:
    key: str  # relative to the location that was listed
    size: int
    modified: datetime


@cache
def s3_client(endpoint_url: str | None) -> Any:
    """A boto3 S3 client from dagster-aws's S3Resource, one per endpoint: clients are thread-safe and slow to build."""
    from dagster_aws.s3 import S3Resource

    return S3Resource(endpoint_url=endpoint_url).get_client()


@cache
def arrow_filesystem(endpoint_url: str | None) -> Any:
    """pyarrow's S3 filesystem on the same endpoint and region as the boto3 client, so it never asks instance metadata
    for a region; credentials come from the same standard chain."""
    from pyarrow import fs

    region = s3_client(endpoint_url).meta.region_name
    if endpoint_url is None:
        return fs.S3FileSystem(region=region)
    endpoint = urlsplit(endpoint_url)
    return fs.S3FileSystem(region=region, scheme=endpoint.scheme, endpoint_override=endpoint.netloc + endpoint.path.rstrip("/"))


@dataclass(frozen=True)
class ObjectStore:
    """The objects under one S3 location; `parts` name a key below it."""

    location: S3Location
    endpoint_url: str | None = None

    @classmethod
    def at(cls, uri: str, endpoint_url: str | None = None) -> ObjectStore:
        return cls(S3Location.parse(uri), endpoint_url)

    @property
    def client(self) -> Any:
        return s3_client(self.endpoint_url)

    def get(self, *parts: str) -> bytes | None:
        """The object's bytes, or None when there is no such object."""
        try:
            return self.client.get_object(Bucket=self.location.bucket, Key=self.location.key(*parts))["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None

    def put(self, data: bytes, *parts: str, replace: bool = True) -> None:
        """Write one object; with `replace=False` the store itself refuses an existing key (a conditional write, so two
        writers racing for the same key cannot both succeed) and ObjectExists is raised."""
        condition = {} if replace else {"IfNoneMatch": "*"}
        try:
            self.client.put_object(Bucket=self.location.bucket, Key=self.location.key(*parts), Body=data, **condition)
        except self.client.exceptions.ClientError as err:
            if err.response["Error"]["Code"] in _ALREADY_THERE:
                raise ObjectExists(f"{self.location.uri(*parts)} already exists and is never replaced") from None
            raise

    def _pages(self, prefix: str, **options: str) -> Iterator[dict]:
        return self.client.get_paginator("list_objects_v2").paginate(Bucket=self.location.bucket, Prefix=prefix, **options)

    def _folder(self, *parts: str) -> str:
        """The key prefix of `parts` as a folder: ends with "/", or is empty at the bucket's root."""
        return (self.location.key(*parts) + "/").lstrip("/")

    def list(self, *parts: str) -> list[StoredObject]:
        """Every object below `parts` (any depth), keys relative to it, in key order."""
        prefix = self._folder(*parts)
        return [StoredObject(o["Key"].removeprefix(prefix), o["Size"], o["LastModified"])
                for page in self._pages(prefix) for o in page.get("Contents", [])]

    def folders(self, *parts: str) -> list[str]:
        """The names one level below `parts`, from a delimiter listing (no object is read)."""
        prefix = self._folder(*parts)
        return [p["Prefix"].removeprefix(prefix).rstrip("/")
                for page in self._pages(prefix, Delimiter="/") for p in page.get("CommonPrefixes", [])]

    def parquet_dataset(self, keys: list[str]) -> Any:
        """A pyarrow dataset over the given Parquet objects: DuckDB scans it lazily, fetching only the columns and row
        groups a query needs."""
        import pyarrow.dataset as ds

        paths = [f"{self.location.bucket}/{self.location.key(key)}" for key in keys]
        return ds.dataset(paths, filesystem=arrow_filesystem(self.endpoint_url), format="parquet")
