"""The raw (bronze) layer: one encrypted Parquet file per feed and arrival date, immutable once written.

Each partition also gets a plaintext sidecar manifest (file name, rows, content hash, source files,
columns seen) that holds no PHI, so reconciliation and lineage never need the key.
The root is a local folder or an `s3://bucket/prefix`; on S3 every object is written only if absent (a conditional
write), so not even two writers racing for the same day can replace a landed object.
"""

import hashlib
import io
import json
from dataclasses import asdict, dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import dagster as dg
import polars as pl

from resources.feeds.contract import ARRIVAL_DATE, SOURCE_FILE
from resources.object_store import ObjectExists, ObjectStore, is_s3
from resources.vault import decrypt, encrypt


class ImmutablePartitionError(RuntimeError):
    """New data for an arrival date that has already landed: bronze never rewrites a partition."""


@dataclass(frozen=True)
class PartitionManifest:
    feed: str
    arrival_date: str
    file: str | None
    rows: int
    sha256: str | None
    source_files: dict[str, int]
    columns: list[str]
    landed_at: str


def content_hash(parquet_bytes: bytes) -> str:
    return hashlib.sha256(parquet_bytes).hexdigest()


class BronzeStore(dg.ConfigurableResource):
    """Reads and writes bronze partitions under `root`: a local folder, or an `s3://` prefix reached through dagster-aws's
    S3Resource (at `s3_endpoint_url` for an S3-compatible store)."""

    root: str
    s3_endpoint_url: str | None = None

    def _dir(self, feed: str) -> Path:
        return Path(self.root) / "bronze" / feed

    def _objects(self, feed: str) -> ObjectStore | None:
        return ObjectStore.at(f"{self.root}/bronze/{feed}", self.s3_endpoint_url) if is_s3(self.root) else None

    def _read(self, feed: str, name: str) -> bytes | None:
        """One file of the feed's partitions, or None when it does not exist."""
        if objects := self._objects(feed):
            return objects.get(name)
        path = self._dir(feed) / name
        return path.read_bytes() if path.exists() else None

    def _write(self, feed: str, name: str, data: bytes) -> None:
        if objects := self._objects(feed):
            try:
                objects.put(data, name, replace=False)
            except ObjectExists as exists:
                raise ImmutablePartitionError(f"bronze/{feed}: {exists}") from None
            return
        folder = self._dir(feed)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)

    def manifests(self, feed: str, arrival_dates: set[str] | None = None) -> list[PartitionManifest]:
        """Every landed partition's manifest (or those of the given ISO dates), oldest arrival first."""
        days = sorted(self.landed(feed) if arrival_dates is None else arrival_dates)
        return [PartitionManifest(**json.loads(text)) for day in days if (text := self._read(feed, f"{day}.json")) is not None]

    def landed(self, feed: str) -> set[str]:
        if objects := self._objects(feed):
            return {o.key.removesuffix(".json") for o in objects.list() if o.key.endswith(".json")}
        return {p.stem for p in self._dir(feed).glob("*.json")}

    def write(self, feed: str, arrival_date: date, frame: pl.DataFrame, key: bytes) -> PartitionManifest:
        """Land one arrival date; refuses to touch a partition that already exists."""
        name = arrival_date.isoformat()
        if self.manifests(feed, {name}):
            raise ImmutablePartitionError(f"bronze/{feed} partition {name} has already landed and is immutable")
        data_file, digest = None, None
        if frame.height:
            buffer = io.BytesIO()
            frame.write_parquet(buffer, compression="zstd", statistics=False)
            plaintext = buffer.getvalue()
            digest = content_hash(plaintext)
            data_file = f"{name}.parquet.enc"
            self._write(feed, data_file, encrypt(key, plaintext, f"bronze/{feed}/{data_file}"))
        counts = frame.group_by(SOURCE_FILE).len().sort(SOURCE_FILE).rows() if frame.height else []
        manifest = PartitionManifest(
            feed=feed,
            arrival_date=name,
            file=data_file,
            rows=frame.height,
            sha256=digest,
            source_files=dict(counts),
            columns=[c for c in frame.columns if c != ARRIVAL_DATE],
            landed_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        self._write(feed, f"{name}.json", json.dumps(asdict(manifest)).encode())
        return manifest

    def read(self, feed: str, key: bytes, arrival_dates: set[str] | None = None) -> pl.DataFrame:
        """Decrypt and concatenate partitions (all, or the given ISO dates); columns may differ by day."""
        frames = [
            pl.read_parquet(io.BytesIO(decrypt(key, self._read(feed, m.file), f"bronze/{feed}/{m.file}")))
            for m in self.manifests(feed, arrival_dates)
            if m.file
        ]
        return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()
