"""Feature-build throughput (members x as-of months per second), with DuckDB SQL as a side-by-side peer.

Builds a synthetic plan in memory (no Dagster), conforms it to silver, then times `build_features` over
the latest as-of months. The peer computes the utilisation block (visits / ED / inpatient in 90/180/365
days under the same visibility rule) in DuckDB SQL on identical data; outputs are checked equal.

    python -m bench.feature_build --members 50000 --months 36 --as-of-months 12
"""

import argparse
import os
from datetime import date, timedelta

import duckdb
import polars as pl

from assets.silver_build import split_feed
from assets.events import Silver, tagged_events
from assets.features import UTILISATION, WINDOWS, build_features, utilisation
from assets.pit import add_months, month_end, visible
from bench.measure import timed
from bench.table import Row, load_average, markdown, times
from resources.feeds.contract import FEEDS, contract
from resources.feeds.faults import FaultConfig, inject_faults
from resources.feeds.synthetic import SyntheticConfig, generate_feed


def silver_plan(members: int, months: int, end: date) -> Silver:
    cfg = SyntheticConfig(seed=7, members=members, months=months, end_date=end)
    key = os.urandom(32)
    frames = {}
    for feed in FEEDS:
        raw, _ = inject_faults(generate_feed(cfg, feed), feed, FaultConfig(), cfg.seed)
        frames[feed] = split_feed(raw, contract(feed), key).accepted
    return Silver.of(frames)


def duckdb_utilisation(claims: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """The peer: the utilisation block as SQL, same visibility rule and windows."""
    cases = ", ".join(
        f"count(DISTINCT service_date) FILTER (WHERE place_of_service IN ({', '.join(repr(p) for p in places)}) "
        f"AND date_diff('day', service_date, DATE '{as_of}') < {days}) AS {kind}_{days}d"
        for kind, places in UTILISATION.items() for days in WINDOWS
    )
    sql = f"""SELECT member_key, {cases} FROM claims
              WHERE _arrival_date <= DATE '{as_of}' AND service_date <= DATE '{as_of}'
                AND (_valid_to_arrival IS NULL OR _valid_to_arrival > DATE '{as_of}')
                AND service_date > DATE '{as_of - timedelta(days=max(WINDOWS))}'
              GROUP BY member_key"""
    with duckdb.connect() as con:
        con.register("claims", claims.to_arrow())
        return con.execute(sql).pl()


def rows(members: int, months: int, as_of_months: int) -> list[Row]:
    """Feature-build throughput over the latest as-of months, and the utilisation block against its DuckDB peer."""
    silver = silver_plan(members, months, date(2026, 6, 30))
    events = tagged_events(silver).collect().lazy()
    keys = [add_months(date(2026, 6, 1), -i).isoformat() for i in range(as_of_months)]
    load = load_average()
    built, feature_s = timed(lambda: sum(build_features(silver, events, month_end(key)).height for key in keys))
    claims = silver.medical_claims.collect()
    as_of = month_end(keys[0])
    peer_load = load_average()
    ours, ours_s = timed(lambda: utilisation(visible(claims.lazy(), as_of, "service_date"), as_of).collect())
    peer, peer_s = timed(duckdb_utilisation, claims, as_of)
    columns = [f"{k}_{d}d" for k in UTILISATION for d in WINDOWS]
    same = ours.select("member_key", *columns).sort("member_key").cast({c: pl.Int64 for c in columns}).equals(
        peer.select("member_key", *columns).sort("member_key").cast({c: pl.Int64 for c in columns}))
    plan = f"{members:,} members, {months} months"
    return [
        Row(f"feature build ({plan}, {len(keys)} as-of months): member-months/s", f"{built / feature_s:,.0f} ({built:,} in {feature_s:.1f} s)",
            load=load),
        Row(f"utilisation block, one as-of month ({ours.height:,} members): polars lazy against the same SQL in DuckDB "
            f"(outputs {'equal' if same else 'DIFFER'})", f"{ours_s:.3f} s", f"{peer_s:.3f} s (DuckDB {duckdb.__version__})",
            times(ours_s, peer_s), load=peer_load, peer_load=peer_load),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=50_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--as-of-months", type=int, default=12)
    args = parser.parse_args()
    print(markdown(rows(args.members, args.months, args.as_of_months)))


if __name__ == "__main__":
    main()
