"""Monitoring a deployed care-gap model as plain functions: feature, prediction and schema drift, estimated and realized performance, thresholds."""

FEATURE_DRIFT, PREDICTION_DRIFT, ESTIMATED_PERFORMANCE, REALIZED_PERFORMANCE = (
    "feature_drift", "prediction_drift", "estimated_performance", "realized_performance")
