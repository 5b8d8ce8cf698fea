"""Which environment the workbench runs in and where it keeps state, resolved once from environment variables.

Every setting has a safe embedded default (synthetic feeds, local files under `.workbench/`), so a fresh
clone runs with nothing configured; production overrides the same variables.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

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

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def raw_dir(self) -> Path:
        return self.home / "raw"

    @property
    def inbox_dir(self) -> Path:
        return self.home / "inbox"

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

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
        return self.home / "mlflow" / "artifacts"

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
    )
