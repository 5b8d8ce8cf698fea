"""Sensors that react to the world and the instance: arrivals -> ingest, and model health (drift, degradation, champion change)."""

from sensors.arrivals import landing_arrivals
from sensors.model_health import degradation_rollback, drift_retrain, rescore_on_champion_change

SENSORS = [landing_arrivals, drift_retrain, degradation_rollback, rescore_on_champion_change]
