"""Sensors that react to the instance: arrivals, drift and degradation (issue 9)."""

SENSORS: list = []
