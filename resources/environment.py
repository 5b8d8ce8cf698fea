"""Which environment the workbench runs in and where it keeps state, resolved once from environment variables.

Every setting has a safe embedded default (synthetic feeds, local files under `.workbench/`), so a fresh
clone runs with nothing configured; production overrides the same variables.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from resources.object_store import S3Location, is_s3

PROJECT_ROOT = Path(__file__).resolve().parents[1]
FEED_SOURCES = ("synthetic", "landing", "fhir")
ENVIRONMENTS = ("local", "production")
MLFLOW_UI_DEFAULT = "http://127.0.0.1:5000"  # the MLflow UI `make ui` starts beside Dagster's


class ConfigError(ValueError):
    """A setting has a value the workbench cannot use; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    home: Path
    environment: str
    feed_source: str
    members: int
    months: int
    seed: int
    end_date: date
    faults: bool
    demo_drift: bool
    lookback_months: int
    mlflow_uri: str | None = None
    mlflow_ui: str | None = None
    outreach_size: int = 500
    block_members: int = 50_000  # WORKBENCH_BLOCK_MEMBERS: members the synthetic plan generates at once
    max_concurrent: int = 2  # WORKBENCH_MAX_CONCURRENT: step processes at once in one run (2 cores on the team's machines)
    max_concurrent_runs: int = 2  # WORKBENCH_MAX_CONCURRENT_RUNS: runs in progress at once on the local instance
    storage_root: str | None = None  # WORKBENCH_STORAGE_ROOT; None: the state folder
    inbox_root: str | None = None  # WORKBENCH_INBOX; None: inbox/ in the state folder
    s3_endpoint_url: str | None = None  # WORKBENCH_S3_ENDPOINT_URL, for an S3-compatible store

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def storage(self) -> str:
        """Where bronze, the warehouse and model artifacts live: a local folder or an `s3://bucket/prefix`."""
        return self.storage_root or str(self.home)

    @property
    def on_s3(self) -> bool:
        return is_s3(self.storage)

    def stored(self, *parts: str) -> str:
        """`parts` under the storage root: an s3:// URI, or a local path."""
        return S3Location.parse(self.storage).uri(*parts) if self.on_s3 else str(Path(self.storage, *parts))

    def _local(self, *parts: str) -> Path:
        """A path under a local storage root; an s3:// root has none, and saying so beats a path that is not there."""
        if self.on_s3:
            raise ConfigError(f"WORKBENCH_STORAGE_ROOT is {self.storage}: {'/'.join(parts)} is an S3 prefix, not a local path")
        return Path(self.storage, *parts)

    @property
    def raw_dir(self) -> Path:
        return self._local("raw")

    @property
    def inbox(self) -> str:
        """The landing inbox: a local folder or an `s3://` prefix, with one folder per feed."""
        return self.inbox_root or str(self.home / "inbox")

    @property
    def inbox_dir(self) -> Path:
        """The inbox as a local folder (the FHIR export is read from one)."""
        if is_s3(self.inbox):
            raise ConfigError(f"WORKBENCH_INBOX is {self.inbox}: the FHIR bulk export is read from a local folder only")
        return Path(self.inbox)

    @property
    def warehouse_path(self) -> Path:
        return self._local("warehouse.duckdb")

    @property
    def warehouse_location(self) -> str:
        """The DuckDB file, or on S3 the prefix under which every table is Parquet objects."""
        return self.stored("warehouse") if self.on_s3 else str(self.warehouse_path)

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @property
    def mlflow_tracking_uri(self) -> str:
        """The configured tracking server, else a SQLite store under the state folder."""
        return self.mlflow_uri or f"sqlite:///{self.home / 'mlflow' / 'mlflow.db'}"

    @property
    def mlflow_ui_url(self) -> str:
        """Where people browse MLflow: the configured address, else the tracking server, else the one `make ui` starts."""
        if self.mlflow_ui:
            return self.mlflow_ui.rstrip("/")
        if self.mlflow_uri and self.mlflow_uri.startswith(("http://", "https://")):
            return self.mlflow_uri.rstrip("/")
        return MLFLOW_UI_DEFAULT

    @property
    def mlflow_artifacts(self) -> Path:
        return self._local("mlflow", "artifacts")

    @property
    def reports_dir(self) -> Path:
        """Executed notebooks and their HTML, one folder per report and subject."""
        return self.home / "reports"

    @property
    def history_start(self) -> date:
        """First day of the data window: the first of the month `months` months before the end date."""
        return _month_shift(self.end_date.replace(day=1), -self.months)

    @property
    def first_as_of_month(self) -> date:
        """The first as-of month with `lookback_months` of history behind it."""
        return _month_shift(self.history_start, self.lookback_months)

    @property
    def after_last_as_of_month(self) -> date:
        """The month after the last complete month of data (as-of months end on their last day)."""
        return _month_shift((self.end_date + timedelta(days=1)).replace(day=1), 0)

    @property
    def demo_outage_start(self) -> date:
        """Where the demo's claims outage begins: three months before the end of the latest as-of month, so every 90-day
        utilisation window of that month is empty."""
        return _month_shift(self.after_last_as_of_month, -3)


def _month_shift(first_of_month: date, months: int) -> date:
    year, month = divmod(first_of_month.year * 12 + first_of_month.month - 1 + months, 12)
    return date(year, month + 1, 1)


def _int(name: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(name, str(default))
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, default)
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def _location(name: str) -> str | None:
    """A local folder (resolved) or `s3://bucket[/prefix]` (normalised); None when unset, for the default."""
    raw = os.environ.get(name)
    if not raw:
        return None
    if is_s3(raw):
        try:
            return S3Location.parse(raw).uri()
        except ValueError as err:
            raise ConfigError(f"{name} must be s3://<bucket>[/<prefix>]: {err}") from None
    if "://" in raw:
        raise ConfigError(f"{name} must be a local folder or s3://<bucket>[/<prefix>], got {raw!r}")
    return str(Path(raw).resolve())


def _endpoint_url(name: str) -> str | None:
    raw = os.environ.get(name)
    if not raw:
        return None
    url = urlsplit(raw)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ConfigError(f"{name} must be an http:// or https:// URL, got {raw!r}")
    return raw.rstrip("/")


def _end_date() -> date:
    raw = os.environ.get("WORKBENCH_END_DATE")
    if not raw:
        return date.today() - timedelta(days=1)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ConfigError(f"WORKBENCH_END_DATE must be a date like 2026-06-30, got {raw!r}") from None


def settings() -> Settings:
    """The settings in force now (read each call, so tests can change the environment)."""
    return Settings(
        home=Path(os.environ.get("WORKBENCH_HOME") or PROJECT_ROOT / ".workbench").resolve(),
        environment=_choice("WORKBENCH_ENV", "local", ENVIRONMENTS),
        feed_source=_choice("WORKBENCH_FEED_SOURCE", "synthetic", FEED_SOURCES),
        members=_int("WORKBENCH_MEMBERS", 50_000),
        months=_int("WORKBENCH_MONTHS", 60, minimum=3),
        seed=_int("WORKBENCH_SEED", 7, minimum=0),
        end_date=_end_date(),
        faults=_choice("WORKBENCH_FAULTS", "on", ("on", "off")) == "on",
        demo_drift=_choice("WORKBENCH_DEMO_DRIFT", "off", ("on", "off")) == "on",
        lookback_months=_int("WORKBENCH_LOOKBACK_MONTHS", 27),
        mlflow_uri=os.environ.get("WORKBENCH_MLFLOW_URI") or None,
        mlflow_ui=os.environ.get("WORKBENCH_MLFLOW_UI_URL") or None,
        outreach_size=_int("WORKBENCH_OUTREACH_SIZE", 500),
        block_members=_int("WORKBENCH_BLOCK_MEMBERS", 50_000, minimum=200),
        max_concurrent=_int("WORKBENCH_MAX_CONCURRENT", 2),
        max_concurrent_runs=_int("WORKBENCH_MAX_CONCURRENT_RUNS", 2),
        storage_root=_location("WORKBENCH_STORAGE_ROOT"),
        inbox_root=_location("WORKBENCH_INBOX"),
        s3_endpoint_url=_endpoint_url("WORKBENCH_S3_ENDPOINT_URL"),
    )
