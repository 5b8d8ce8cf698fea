"""The asset graph by layer: raw feeds -> bronze (encrypted, per arrival day) -> silver + quarantine."""

from assets.bronze import BRONZE_FEEDS
from assets.raw import RAW_FEEDS
from assets.silver import SILVER_FEEDS

ASSETS = [*RAW_FEEDS, *BRONZE_FEEDS, *SILVER_FEEDS]
