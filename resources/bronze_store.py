"""The raw (bronze) layer: one encrypted Parquet file per feed and arrival date, immutable once written.

Each partition also gets a plaintext sidecar manifest (file name, rows, content hash, source files,
columns seen) that holds no PHI, so reconciliation and lineage never need the key.
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
    """Reads and writes bronze partitions under `root` (a local folder)."""

    root: str

    def _dir(self, feed: str) -> Path:
        return Path(self.root) / "bronze" / feed

    def manifests(self, feed: str, arrival_dates: set[str] | None = None) -> list[PartitionManifest]:
        """Every landed partition's manifest (or those of the given ISO dates), oldest arrival first."""
        folder = self._dir(feed)
        if not folder.exists():
            return []
        paths = sorted(folder.glob("*.json")) if arrival_dates is None else [folder / f"{d}.json" for d in sorted(arrival_dates)]
        return [PartitionManifest(**json.loads(p.read_text())) for p in paths if p.exists()]

    def landed(self, feed: str) -> set[str]:
        return {p.stem for p in self._dir(feed).glob("*.json")}

    def write(self, feed: str, arrival_date: date, frame: pl.DataFrame, key: bytes) -> PartitionManifest:
        """Land one arrival date; refuses to touch a partition that already exists."""
        folder = self._dir(feed)
        name = arrival_date.isoformat()
        if (folder / f"{name}.json").exists():
            raise ImmutablePartitionError(f"bronze/{feed} partition {name} has already landed and is immutable")
        folder.mkdir(parents=True, exist_ok=True)
        data_file, digest = None, None
        if frame.height:
            buffer = io.BytesIO()
            frame.write_parquet(buffer, compression="zstd", statistics=False)
            plaintext = buffer.getvalue()
            digest = content_hash(plaintext)
            data_file = f"{name}.parquet.enc"
            (folder / data_file).write_bytes(encrypt(key, plaintext, f"bronze/{feed}/{data_file}"))
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
        (folder / f"{name}.json").write_text(json.dumps(asdict(manifest)))
        return manifest

    def read(self, feed: str, key: bytes, arrival_dates: set[str] | None = None) -> pl.DataFrame:
        """Decrypt and concatenate partitions (all, or the given ISO dates); columns may differ by day."""
        frames = [
            pl.read_parquet(io.BytesIO(decrypt(key, (self._dir(feed) / m.file).read_bytes(), f"bronze/{feed}/{m.file}")))
            for m in self.manifests(feed)
            if m.file and (arrival_dates is None or m.arrival_date in arrival_dates)
        ]
        return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()
