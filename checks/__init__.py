"""Data contracts as asset checks: Pandera schemas, reconciliation, schema drift and freshness."""

from checks.bronze import FRESHNESS_CHECKS
from checks.silver import SILVER_CHECKS

CHECKS = [*FRESHNESS_CHECKS, *SILVER_CHECKS]
