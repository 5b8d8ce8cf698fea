"""IO manager that stores polars frames (a LazyFrame streamed, for tables larger than memory) as warehouse tables
named after the asset key.

`["silver", "pharmacy_fills"]` becomes table `silver.pharmacy_fills`; reads go back through the
Warehouse resource, so notebooks loading assets by key see exactly what the pipeline sees.
Partitioned assets name their partition column in metadata (`partition_column`); a run replaces only
its own partitions. A load may name member keys in its input metadata (`member_keys`) to read only their rows.
"""

import dagster as dg
import polars as pl

from resources.warehouse import Warehouse


PARTITION_COLUMN = "partition_column"
# Input metadata naming the member keys to read (a notebook reading only the members it needs); absent: every member.
MEMBERS = "member_keys"


def table_of(key: dg.AssetKey) -> tuple[str, str]:
    return key.path[0], "_".join(key.path[1:])


class WarehouseIOManager(dg.ConfigurableIOManager):
    warehouse: Warehouse

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame | pl.LazyFrame) -> None:
        schema, name = table_of(context.asset_key)
        if context.has_asset_partitions:
            column = context.definition_metadata[PARTITION_COLUMN]
            self.warehouse.write_partitions(schema, name, obj, column, list(context.asset_partition_keys))
        else:
            self.warehouse.write_table(schema, name, obj)
        rows = obj.select(pl.len()).collect().item() if isinstance(obj, pl.LazyFrame) else obj.height
        context.add_output_metadata({"dagster/row_count": rows, "table": f"{schema}.{name}"})

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        schema, name = table_of(context.asset_key)
        members = (context.definition_metadata or {}).get(MEMBERS)
        if context.has_asset_partitions:
            column = context.upstream_output.definition_metadata[PARTITION_COLUMN]
            return self.warehouse.read_table(schema, name, column, list(context.asset_partition_keys), members=members)
        return self.warehouse.read_table(schema, name, members=members)
