"""Diagnosis candidates for claim lines, and the pick of up to two diagnoses per line."""

from __future__ import annotations

import polars as pl

from resources.feeds.contract import SOURCE_LINE
from resources.feeds.fhir.codes import DIAGNOSIS, map_codes
from resources.feeds.fhir.elements import _coding, _ref_id
from resources.feeds.fhir.tables import Row

# Diagnosis candidates for a claim line, best first: coded reasons, referenced conditions, a preventive visit's
# Z-code, conditions recorded at the encounter, then (for a procedure) its encounter's diagnoses.
REASON, REASON_LINK, VISIT_TYPE, AT_ENCOUNTER, OF_ENCOUNTER = range(5)


def _diagnosis_rows(key: str, reasons: list | None, links: list | None) -> list[Row]:
    """Diagnosis candidates of a claim line: coded reasons, then conditions referenced by id."""
    coded = [("dx_candidate", {"key": key, "rank": REASON, "order": i, **dict(zip(("system", "code"), _coding(c, DIAGNOSIS)))})
             for i, c in enumerate(reasons or [])]
    linked = [("dx_reference", {"key": key, "rank": REASON_LINK, "order": i, "condition_id": _ref_id(r)}) for i, r in enumerate(links or [])]
    return coded + linked


def _diagnosis_candidates(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Coded diagnosis candidates plus those given by reference to a Condition in the export."""
    conditions = tables["condition"].select("condition_id", "system", "code")
    linked = tables["dx_reference"].join(conditions, on="condition_id", how="inner").drop("condition_id")
    return pl.concat([tables["dx_candidate"], linked], how="diagonal").filter(pl.col("code").is_not_null())


def pick_diagnoses(candidates: pl.DataFrame) -> pl.DataFrame:
    """Up to two distinct diagnoses per claim-line key, long form (slot 1 or 2), mapped before unmapped, then by rank.

    An unmapped code fills only slot 1 (the required diagnosis, so the line is quarantined for it rather than lost);
    the optional second slot takes only a mapped code, so a stray finding cannot spoil an otherwise valid line.
    """
    mapped = map_codes(candidates, "system", "code", DIAGNOSIS, "dx")
    usable = mapped.filter((pl.col("rank") != VISIT_TYPE) | pl.col("dx_mapped"))  # a visit type is a diagnosis only through the map
    ranked = usable.sort(~pl.col("dx_mapped"), "rank", SOURCE_LINE, "order").unique(["key", "dx"], keep="first", maintain_order=True)
    slotted = ranked.with_columns((pl.int_range(pl.len()).over("key") + 1).alias("slot"))
    return slotted.filter((pl.col("slot") == 1) | ((pl.col("slot") == 2) & pl.col("dx_mapped"))).select("key", "slot", "system", "code", "dx", "dx_mapped")


def _in_slot(slot: int, column: str) -> pl.Expr:
    return pl.col(column).filter(pl.col("slot") == slot).first()


def _diagnosis_columns(picked: pl.DataFrame) -> pl.DataFrame:
    """Long picks -> diagnosis_code_1/2 plus their source system, code and mapped flag (for the unmapped count)."""
    return picked.group_by("key").agg(
        *[_in_slot(n, "dx").alias(f"diagnosis_code_{n}") for n in (1, 2)],
        *[_in_slot(n, c).alias(f"dx{n}_{c.removeprefix('dx_')}") for n in (1, 2) for c in ("system", "code", "dx_mapped")],
    )


def _inherited_diagnoses(procedures: pl.DataFrame, encounter_picks: pl.DataFrame) -> pl.DataFrame:
    """A procedure line falls back on its encounter's diagnoses."""
    links = procedures.select((pl.lit("Procedure/") + pl.col("procedure_id")).alias("key"), (pl.lit("Encounter/") + pl.col("encounter_id")).alias("visit"))
    return links.join(encounter_picks.rename({"key": "visit"}), on="visit", how="inner").select(
        "key", pl.lit(OF_ENCOUNTER, pl.Int64).alias("rank"), pl.col("slot").cast(pl.Int64).alias("order"), "system", "code",
        pl.lit(None, pl.Int64).alias(SOURCE_LINE),
    )
