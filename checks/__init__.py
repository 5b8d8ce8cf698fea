"""Data contracts as asset checks: Pandera schemas, reconciliation, schema drift, freshness, leakage."""
