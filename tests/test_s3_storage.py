"""Storage root on S3: bronze, warehouse, MLflow artifacts and the arrival sensor against a local S3 server (moto on 127.0.0.1)."""

import os
import socket
import uuid
from collections.abc import Iterator
from datetime import date

import dagster as dg
import polars as pl
import pytest
from moto.server import ThreadedMotoServer

from assets.bronze import land
from definitions import defs
from resources import build_resources
from resources.access import AccessDenied
from resources.audit import default_path, read_entries
from resources.bronze_store import BronzeStore, ImmutablePartitionError
from resources.environment import ConfigError, settings
from resources.feeds import LandingFeedSource
from resources.model_registry import S3_ENDPOINT_VARIABLE, ModelRegistry
from resources.object_store import s3_client
from resources.warehouse import Warehouse
from sensors.arrivals import landing_arrivals
from tests.rows import fill, raw_rows

KEY = os.urandom(32)
DAY = date(2026, 6, 1)
KEYS = ["0a1b2c3d4e5f6071", "1111222233334444", "9f8e7d6c5b4a3928"]
AWS_TEST_ENVIRONMENT = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                        "AWS_EC2_METADATA_DISABLED": "true"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """A local S3 server for this module, with test credentials in the standard AWS variables (never real ones)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("AWS_")]:
            patch.delenv(name)
        for name, value in AWS_TEST_ENVIRONMENT.items():
            patch.setenv(name, value)
        port = _free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.stop()


@pytest.fixture
def bucket(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket, made the storage root (under `prod/`), the inbox (under `inbox/`) and the S3 endpoint in force."""
    name = f"workbench-{uuid.uuid4().hex[:12]}"
    s3_client(endpoint).create_bucket(Bucket=name)
    monkeypatch.setenv("WORKBENCH_STORAGE_ROOT", f"s3://{name}/prod")
    monkeypatch.setenv("WORKBENCH_INBOX", f"s3://{name}/inbox")
    monkeypatch.setenv("WORKBENCH_S3_ENDPOINT_URL", endpoint)
    return name


def _keys(endpoint: str, bucket: str, prefix: str) -> list[str]:
    return [o["Key"] for o in s3_client(endpoint).list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]


def _object(endpoint: str, bucket: str, key: str) -> bytes:
    return s3_client(endpoint).get_object(Bucket=bucket, Key=key)["Body"].read()


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("WORKBENCH_STORAGE_ROOT", "s3://", r"^WORKBENCH_STORAGE_ROOT must be s3://<bucket>\[/<prefix>\]: 's3://' needs a bucket name"),
    ("WORKBENCH_STORAGE_ROOT", "s3:///prefix", r"^WORKBENCH_STORAGE_ROOT must be s3://"),
    ("WORKBENCH_STORAGE_ROOT", "s3://Upper_Case", r"^WORKBENCH_STORAGE_ROOT must be s3://"),
    ("WORKBENCH_STORAGE_ROOT", "ftp://x", r"^WORKBENCH_STORAGE_ROOT must be a local folder or s3://<bucket>\[/<prefix>\], got 'ftp://x'$"),
    ("WORKBENCH_INBOX", "s3://", r"^WORKBENCH_INBOX must be s3://"),
    ("WORKBENCH_S3_ENDPOINT_URL", "127.0.0.1:9000", r"^WORKBENCH_S3_ENDPOINT_URL must be an http:// or https:// URL, got '127.0.0.1:9000'$"),
])
def test_unusable_storage_settings_name_their_variable_in_one_line(monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=message) as err:
        settings()
    assert "\n" not in str(err.value)


def test_default_storage_is_the_state_folder_as_before(monkeypatch):
    for name in ("WORKBENCH_STORAGE_ROOT", "WORKBENCH_INBOX", "WORKBENCH_S3_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    s = settings()
    resources = build_resources(s)
    assert resources["bronze_store"].root == str(s.home / "raw") == str(s.raw_dir)
    assert resources["warehouse"].path == str(s.home / "warehouse.duckdb")
    assert resources["model_registry"].artifact_root == str(s.home / "mlflow" / "artifacts")
    assert s.inbox_dir == s.home / "inbox"


def test_an_s3_root_places_bronze_warehouse_and_artifacts_under_its_prefix(monkeypatch):
    monkeypatch.setenv("WORKBENCH_STORAGE_ROOT", "s3://care-gaps//prod/")
    monkeypatch.setenv("WORKBENCH_FEED_SOURCE", "landing")
    monkeypatch.setenv("WORKBENCH_INBOX", "s3://plan-drops/inbox")
    monkeypatch.setenv("WORKBENCH_S3_ENDPOINT_URL", "http://127.0.0.1:9")
    resources = build_resources()
    assert resources["bronze_store"].root == "s3://care-gaps/prod/raw"
    assert resources["warehouse"].path == "s3://care-gaps/prod/warehouse"
    assert resources["model_registry"].artifact_root == "s3://care-gaps/prod/mlflow/artifacts"
    assert resources["feed_source"].inbox == "s3://plan-drops/inbox"
    assert {r.s3_endpoint_url for r in (resources["bronze_store"], resources["warehouse"], resources["model_registry"], resources["feed_source"])} == {
        "http://127.0.0.1:9"}
    with pytest.raises(ConfigError, match="WORKBENCH_STORAGE_ROOT is s3://care-gaps/prod: raw is an S3 prefix"):
        _ = settings().raw_dir


def test_bronze_on_s3_is_encrypted_immutable_and_reads_back(endpoint, bucket):
    store = BronzeStore(root=settings().stored("raw"), s3_endpoint_url=endpoint)
    rows = raw_rows([fill(member_id="M00000777", drug_name="Zqxcanary")], arrival=DAY)
    manifest = store.write("pharmacy_fills", DAY, rows, KEY)
    data_key, manifest_key = "prod/raw/bronze/pharmacy_fills/2026-06-01.parquet.enc", "prod/raw/bronze/pharmacy_fills/2026-06-01.json"
    assert sorted(_keys(endpoint, bucket, "prod/")) == [manifest_key, data_key]
    stored = _object(endpoint, bucket, data_key)
    assert b"M00000777" not in stored and b"Zqxcanary" not in stored and not stored.startswith(b"PAR1") and not stored.endswith(b"PAR1")
    assert store.read("pharmacy_fills", KEY).equals(rows)
    assert store.landed("pharmacy_fills") == {"2026-06-01"} and store.manifests("pharmacy_fills") == [manifest]

    with pytest.raises(ImmutablePartitionError, match="partition 2026-06-01 has already landed"):
        store.write("pharmacy_fills", DAY, raw_rows([fill()], arrival=DAY, source="late.csv"), KEY)
    s3_client(endpoint).delete_object(Bucket=bucket, Key=manifest_key)  # a racing writer that checked before the manifest landed
    with pytest.raises(ImmutablePartitionError, match=f"s3://{bucket}/{data_key} already exists and is never replaced"):
        store.write("pharmacy_fills", DAY, raw_rows([fill()], arrival=DAY, source="late.csv"), KEY)
    assert _object(endpoint, bucket, data_key) == stored


@pytest.fixture
def warehouse(endpoint, bucket) -> Warehouse:
    service = Warehouse(path=settings().warehouse_location, s3_endpoint_url=endpoint, principal="pipeline-service")
    service.write_table("silver", "eligibility", pl.DataFrame({"member_key": KEYS, "line_of_business": ["commercial", "medicaid", "commercial"]}))
    service.write_table("governance", "audit_notes", pl.DataFrame({"note": ["kept from analysts"]}))
    return service


def _features(month: str, ages: list[int]) -> pl.DataFrame:
    return pl.DataFrame({"member_key": KEYS, "as_of_month": [month] * 3, "age": ages})


def test_partitions_written_separately_all_survive_as_their_own_objects(endpoint, bucket, warehouse):
    warehouse.write_partitions("gold", "features", _features("2026-04-01", [96, 46, 66]), "as_of_month", ["2026-04-01"])
    warehouse.write_partitions("gold", "features", _features("2026-05-01", [97, 47, 67]), "as_of_month", ["2026-05-01"])
    warehouse.write_partitions("gold", "features", _features("2026-04-01", [10, 20, 30]), "as_of_month", ["2026-04-01"])
    assert sorted(_keys(endpoint, bucket, "prod/warehouse/gold/features/")) == [
        "prod/warehouse/gold/features/2026-04-01.parquet", "prod/warehouse/gold/features/2026-05-01.parquet"]
    stored = warehouse.read_table("gold", "features").sort("as_of_month", "member_key")
    assert stored["age"].to_list() == [10, 20, 30, 97, 47, 67]
    assert warehouse.read_table("gold", "features", "as_of_month", ["2026-05-01"])["age"].sort().to_list() == [47, 67, 97]
    with pytest.raises(ValueError, match="rows for as_of_month 2026-06-01, outside the partitions written"):
        warehouse.write_partitions("gold", "features", _features("2026-06-01", [1, 2, 3]), "as_of_month", ["2026-05-01"])
    assert warehouse.tables() == ["gold.features", "governance.audit_notes", "silver.eligibility"]


def test_reads_on_s3_apply_the_access_policy_and_audit(warehouse):
    warehouse.write_partitions("gold", "features", _features("2026-04-01", [96, 46, 66]), "as_of_month", ["2026-04-01"])

    def as_(principal: str) -> Warehouse:
        return Warehouse(path=warehouse.path, s3_endpoint_url=warehouse.s3_endpoint_url, principal=principal)

    assert as_("analyst-commercial").read_table("gold", "features")["member_key"].to_list() == [KEYS[0], KEYS[2]]
    assert as_("researcher").read_table("gold", "features")["age"].to_list() == [90, 46, 66]
    with pytest.raises(AccessDenied, match=r"^analyst-commercial \(analyst\) may not read governance.audit_notes$"):
        as_("analyst-commercial").read_table("governance", "audit_notes")
    with pytest.raises(AccessDenied, match="may not run ad-hoc SQL"):
        as_("analyst").query("SELECT * FROM silver.eligibility")
    recent = read_entries(default_path())[-3:]
    assert [(e["principal"], e["action"], e["target"]) for e in recent] == [
        ("researcher", "read", "gold.features"), ("analyst-commercial", "deny", "governance.audit_notes"), ("analyst", "deny", "warehouse:sql")]


def test_query_and_append_on_s3(endpoint, bucket, warehouse):
    first = warehouse.append("governance", "promotion_ledger", pl.DataFrame({"model": ["a", "b"]}), "seq")
    second = warehouse.append("governance", "promotion_ledger", pl.DataFrame({"model": ["c"]}), "seq")
    assert first["seq"].to_list() == [1, 2] and second.rows() == [(3, "c")]
    assert sorted(_keys(endpoint, bucket, "prod/warehouse/governance/promotion_ledger/")) == [
        "prod/warehouse/governance/promotion_ledger/part-000000000002.parquet", "prod/warehouse/governance/promotion_ledger/part-000000000003.parquet"]
    assert warehouse.read_table("governance", "promotion_ledger").sort("seq").rows() == [(1, "a"), (2, "b"), (3, "c")]
    joined = warehouse.query("SELECT e.line_of_business, count(*) AS n FROM silver.eligibility e JOIN governance.promotion_ledger l ON true "
                             "GROUP BY ALL ORDER BY 1")
    assert joined.rows() == [("commercial", 6), ("medicaid", 3)]
    catalog = warehouse.query("SELECT DISTINCT table_schema || '.' || table_name AS t FROM information_schema.tables "
                              "WHERE table_catalog = 'memory' ORDER BY 1")
    assert catalog["t"].to_list() == warehouse.tables()


def test_a_lazy_frame_becomes_one_table_object_read_back_in_member_whole_batches(endpoint, bucket, warehouse, tmp_path):
    pl.DataFrame({"member_key": [KEYS[i % 3] for i in range(30)], "visit": range(30)}).write_parquet(tmp_path / "visits.parquet")
    warehouse.write_table("silver", "clinical_records", pl.scan_parquet(tmp_path / "visits.parquet"))
    assert _keys(endpoint, bucket, "prod/warehouse/silver/clinical_records/") == ["prod/warehouse/silver/clinical_records/table.parquet"]
    batches = list(warehouse.read_batches("silver", "clinical_records", by=["member_key"], rows=10))
    assert len(batches) == 3 and sorted(pl.concat(batches)["visit"].to_list()) == list(range(30))
    assert all(n == 10 for batch in batches for n in batch["member_key"].value_counts()["count"])


def test_mlflow_artifacts_land_in_the_bucket(endpoint, bucket, tmp_path):
    s = settings()
    registry = ModelRegistry(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", artifact_root=s.stored("mlflow", "artifacts"), s3_endpoint_url=endpoint)
    with registry.session() as mlflow:
        with mlflow.start_run(experiment_id=registry.experiment_id()) as run:
            mlflow.log_dict({"features": ["age"]}, "feature_list.json")
        assert mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/feature_list.json") == {"features": ["age"]}
    assert S3_ENDPOINT_VARIABLE not in os.environ
    landed = [k for k in _keys(endpoint, bucket, "prod/mlflow/artifacts/") if k.endswith(f"{run.info.run_id}/artifacts/feature_list.json")]
    assert len(landed) == 1


def _evaluate(store: BronzeStore) -> dg.SkipReason | list[dg.RunRequest]:
    return landing_arrivals(dg.build_sensor_context(resources={"bronze_store": store}, definitions=defs))


def test_a_new_s3_object_requests_its_day_once_and_ingests_from_s3(endpoint, bucket, monkeypatch):
    monkeypatch.setenv("WORKBENCH_FEED_SOURCE", "landing")
    store = BronzeStore(root=settings().stored("raw"), s3_endpoint_url=endpoint)
    assert "no new files in s3://" in _evaluate(store).skip_message
    name = f"fills_{DAY}.csv"
    s3_client(endpoint).put_object(Bucket=bucket, Key=f"inbox/pharmacy_fills/{name}",
                                   Body=pl.DataFrame([fill(fill_id=f"R{i:010d}") for i in range(2)]).write_csv().encode())
    first = _evaluate(store)
    assert [(r.partition_key, r.tags["workbench/reason"]) for r in first] == [(DAY.isoformat(), "1 new file(s) for pharmacy_fills")]
    assert [r.run_key for r in _evaluate(store)] == [first[0].run_key]

    source = build_resources()["feed_source"]
    assert isinstance(source, LandingFeedSource) and source.inbox == f"s3://{bucket}/inbox"
    delivery = source.deliver("pharmacy_fills", {DAY})
    assert delivery.rows.height == 2 and delivery.rows["_source_file"].unique().to_list() == [name] and delivery.rejected == []
    land("pharmacy_fills", delivery.rows, [DAY], store, KEY)
    assert "no new files" in _evaluate(store).skip_message

    s3_client(endpoint).put_object(Bucket=bucket, Key="inbox/pharmacy/rx_2026-06-02.csv", Body=b"fill_id\nF1\n")
    skipped = _evaluate(store)
    assert isinstance(skipped, dg.SkipReason) and f"inbox s3://{bucket}/inbox has files outside the feed folders" in skipped.skip_message
    assert "pharmacy/rx_2026-06-02.csv" in skipped.skip_message
