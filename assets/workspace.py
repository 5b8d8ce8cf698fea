"""A researcher's door to the assets: load any materialized asset by key through the pipeline's own definitions.

Values come through the same IO managers and warehouse read path as in a run, so the access policy of the acting
principal (WORKBENCH_PRINCIPAL) applies to a notebook exactly as to the pipeline. A mistyped key or partition fails in
one line naming the closest real ones.
"""

import contextvars
import difflib
from collections.abc import Sequence
from typing import Any

import dagster as dg
import polars as pl

from resources.io_manager import MEMBERS


class UnknownAsset(LookupError):
    """A key or partition the definitions do not have; the message names the closest ones that exist."""


def _defs() -> dg.Definitions:
    from definitions import defs  # the code location, imported on first use so this module stays cheap to import

    return defs


def _closest(wanted: str, known: Sequence[str]) -> str:
    """Up to three names that start with `wanted` (a month without its day), else the most similar by difflib."""
    close = [k for k in known if k.startswith(wanted)][:3] or difflib.get_close_matches(wanted, known, n=3, cutoff=0.5)
    return f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(known[:5])}{' ...' if len(known) > 5 else ''}"


def asset_key(key: str) -> dg.AssetKey:
    """The AssetKey of a key written as in the UI (`gold/features`); an unknown one raises UnknownAsset."""
    known = sorted(k.to_user_string() for k in _defs().resolve_all_asset_keys())
    if key not in known:
        raise UnknownAsset(f"no asset {key!r}; {_closest(key, known)}")
    return dg.AssetKey.from_user_string(key)


def _checked(key: dg.AssetKey, partitions: Sequence[str]) -> list[str]:
    """The asset's partition keys in order; refuses partitions it does not have, so a typo never reads as an empty frame."""
    partitions_def = _defs().resolve_assets_def(key).partitions_def
    if partitions_def is None:
        raise UnknownAsset(f"{key.to_user_string()} is not partitioned; load it without a partition")
    known = partitions_def.get_partition_keys()
    for partition in partitions:
        if partition not in known:
            raise UnknownAsset(f"{key.to_user_string()} has no partition {partition!r}; {_closest(partition, known)}")
    return known


def _runs(partitions: Sequence[str], known: list[str]) -> list[dg.PartitionKeyRange]:
    """The partitions as ranges of consecutive keys, so a run of months is one read."""
    ranges: list[dg.PartitionKeyRange] = []
    for partition in partitions:
        last = ranges[-1] if ranges else None
        if last is not None and known.index(partition) == known.index(last.end) + 1:
            ranges[-1] = dg.PartitionKeyRange(last.start, partition)
        else:
            ranges.append(dg.PartitionKeyRange(partition, partition))
    return ranges


def _values(key: dg.AssetKey, selections: list[dict[str, Any]]) -> list[Any]:
    """The asset once per selection (a partition or a range of them) through one loader, run in a copy of the context:
    when loading raises (an access denial, say), Dagster's loader leaves a disposed instance's state storage in a context
    variable, which would break every later definitions load in the same process or notebook kernel.
    """
    def read() -> list[Any]:
        with _defs().get_asset_value_loader() as loader:
            return [loader.load_asset_value(key, **selection) for selection in selections]

    return contextvars.copy_context().run(read)


def load(key: str, partition: str | None = None) -> Any:
    """The stored value of asset `key`: one partition of a partitioned asset, or all of it when `partition` is None."""
    found = asset_key(key)
    if partition is not None:
        _checked(found, [partition])
    return _values(found, [{"partition_key": partition}])[0]


def load_partitions(key: str, partitions: Sequence[str], members: Sequence[str] | None = None) -> pl.DataFrame:
    """Several partitions of a partitioned table asset (only the rows of `members`, member keys, if given); each run of
    consecutive ones is one read, stacked in the order given."""
    found = asset_key(key)
    ranges = _runs(partitions, _checked(found, partitions))
    only = {} if members is None else {"input_definition_metadata": {MEMBERS: list(members)}}
    return pl.concat(_values(found, [{"partition_key_range": r, **only} for r in ranges]))
