"""Sensors that react to the world and the instance: arrivals now; drift and degradation (issue 9) next."""

from sensors.arrivals import landing_arrivals

SENSORS = [landing_arrivals]
