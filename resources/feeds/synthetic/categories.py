"""Index codes shared across the plan: lines of business, chronic conditions, colorectal screening modalities."""

COMMERCIAL, MEDICARE, MEDICAID = range(3)
DIABETES, HYPERTENSION, ASCVD = range(3)
COLONOSCOPY, FIT, STOOL_DNA = range(3)
