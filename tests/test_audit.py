"""The audit trail: every kind of tampering is caught and named, appends from many processes keep one chain."""

import base64
import hashlib
import json
import multiprocessing
from multiprocessing.synchronize import Barrier
import os

import pytest

from resources.audit import AuditError, AuditTrail, audit_trail, canonical, current_principal, read_entries, verify, verify_command
from resources.environment import settings
from resources.vault import KeyUnavailable

KEY = os.urandom(32)


def build(path, count: int, key: bytes | None = None) -> AuditTrail:
    trail = AuditTrail(path=str(path), key=base64.b64encode(key).decode() if key else None)
    for n in range(1, count + 1):
        trail.record("analyst-7", "materialize", f"gold/care_gaps#{n}", "scheduled run", {"rows": n, "partition": "2026-06"})
    return trail


def lines(path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def rewrite(path, new_lines: list[str]) -> None:
    path.write_text("".join(new_lines))


def edit(line: str, **changes) -> str:
    return json.dumps({**json.loads(line), **changes}) + "\n"


def test_chain_of_50_verifies(tmp_path, capsys):
    path = tmp_path / "audit.jsonl"
    trail = build(path, 50)
    result = verify(path)
    assert result.ok and result.entries == 50 and result.problems == ()
    entries = trail.entries()
    assert [e["seq"] for e in entries] == list(range(1, 51))
    assert all(later["prev_hash"] == earlier["hash"] for earlier, later in zip(entries, entries[1:]))
    assert verify_command(path) == 0
    assert capsys.readouterr().out.startswith(f"audit trail {path}: intact, 50 entries, SHA-256 chain verified")


def test_record_returns_the_entry_as_stored(tmp_path):
    trail = AuditTrail(path=str(tmp_path / "audit.jsonl"))
    entry = trail.record("analyst-7", "promote", "model/care_gap_risk@v3", "beat champion on AUC", {"auc": 0.81, "ids": ("a", "b")})
    assert trail.entries() == [entry]
    assert entry["detail"] == {"auc": 0.81, "ids": ["a", "b"]} and entry["seq"] == 1 and entry["time"].endswith("+00:00")


def test_editing_one_field_of_entry_17_is_named(tmp_path, capsys):
    path = tmp_path / "audit.jsonl"
    build(path, 50)
    text = lines(path)
    text[16] = edit(text[16], reason="nothing to see here")
    rewrite(path, text)
    result = verify(path)
    assert [(p.kind, p.seq, p.line) for p in result.problems] == [("edited", 17, 17)]
    assert verify_command(path) == 1
    assert "TAMPERED, 1 problem in 50 entries; first: seq 17 (line 17): hash mismatch, the entry was edited" in capsys.readouterr().out


def test_deleting_entry_9_is_named(tmp_path):
    path = tmp_path / "audit.jsonl"
    build(path, 50)
    text = lines(path)
    del text[8]
    rewrite(path, text)
    result = verify(path)
    assert [(p.kind, p.seq) for p in result.problems] == [("missing", 9)]
    assert "seq 9 is missing: deleted" in str(result) and result.entries == 49


def test_rehashing_an_edit_in_a_plain_chain_is_caught_at_the_next_link(tmp_path):
    path = tmp_path / "audit.jsonl"
    build(path, 20)
    text = lines(path)
    forged = {**json.loads(text[9]), "reason": "rewritten"}
    forged["hash"] = hashlib.sha256(canonical({k: v for k, v in forged.items() if k != "hash"})).hexdigest()
    text[9] = json.dumps(forged) + "\n"
    rewrite(path, text)
    assert [(p.kind, p.seq) for p in verify(path).problems] == [("broken_link", 10)]


def test_swapping_entries_3_and_4_is_detected(tmp_path):
    path = tmp_path / "audit.jsonl"
    build(path, 10)
    text = lines(path)
    text[2], text[3] = text[3], text[2]
    rewrite(path, text)
    result = verify(path)
    assert [(p.kind, p.seq, p.line) for p in result.problems] == [("reordered", 3, 4)]
    assert "seq 3 (line 4) comes after seq 4 (line 3): entries reordered" in str(result)


def test_truncating_the_last_line_is_detected(tmp_path):
    path = tmp_path / "audit.jsonl"
    build(path, 50)
    path.write_bytes(path.read_bytes()[:-25])
    result = verify(path)
    assert [(p.kind, p.line) for p in result.problems] == [("garbled", 50)]
    assert "line 50: truncated" in str(result)
    with pytest.raises(AuditError, match="ends in a partial line"):
        AuditTrail(path=str(path)).record("analyst-7", "check", "gold/care_gaps", "after the cut")


def test_keyed_chain_cannot_be_reforged_with_plain_sha256(tmp_path):
    path = tmp_path / "audit.jsonl"
    build(path, 30, key=KEY)
    assert verify(path, KEY).ok and "HMAC-SHA256 chain verified" in str(verify(path, KEY))
    text, previous = lines(path), None
    for index in range(16, 30):  # edit entry 17, then re-chain every later entry the way an attacker without the key can
        entry = json.loads(text[index])
        entry.update(reason="rewritten") if index == 16 else entry.update(prev_hash=previous)
        entry["hash"] = previous = hashlib.sha256(canonical({k: v for k, v in entry.items() if k != "hash"})).hexdigest()
        text[index] = json.dumps(entry) + "\n"
    rewrite(path, text)
    result = verify(path, KEY)
    assert not result.ok and result.problems[0].seq == 17 and {p.kind for p in result.problems} == {"edited"}
    assert sorted(p.seq for p in result.problems) == list(range(17, 31))
    with pytest.raises(KeyUnavailable, match="is keyed"):
        verify(path)


def test_keyed_and_unkeyed_writers_do_not_mix(tmp_path):
    keyed = tmp_path / "keyed.jsonl"
    build(keyed, 1, key=KEY)
    with pytest.raises(KeyUnavailable, match="set WORKBENCH_AUDIT_KEY"):
        AuditTrail(path=str(keyed)).record("analyst-7", "check", "gold/care_gaps", "no key")
    plain = tmp_path / "plain.jsonl"
    build(plain, 1)
    with pytest.raises(AuditError, match="is unkeyed"):
        build(plain, 1, key=KEY)


def append_many(path: str, principal: str, count: int, start: Barrier) -> None:
    start.wait()
    trail = AuditTrail(path=path)
    for n in range(count):
        trail.record(principal, "read_phi", "silver/members", "care manager outreach", {"n": n})


def test_concurrent_appends_from_4_processes_keep_one_chain(tmp_path):
    path = tmp_path / "audit.jsonl"
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(4)
    workers = [context.Process(target=append_many, args=(str(path), f"worker-{w}", 25, start)) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    result = verify(path)
    assert result.ok and result.entries == 100
    principals = [e["principal"] for e in AuditTrail(path=str(path)).entries()]
    assert {p: principals.count(p) for p in set(principals)} == {f"worker-{w}": 25 for w in range(4)}


@pytest.mark.parametrize("detail", [{"member": "M12345678"}, {"batch": [{"ids": ["x", "M00000777"]}]}, {"M12345678": 1}])
def test_raw_member_id_in_detail_is_refused(tmp_path, detail):
    trail = AuditTrail(path=str(tmp_path / "audit.jsonl"))
    with pytest.raises(AuditError, match=r"raw member id \(M \+ 8 digits\) in detail") as refused:
        trail.record("analyst-7", "read_phi", "silver/members", "outreach", detail)
    assert "M12345678" not in str(refused.value) and "M00000777" not in str(refused.value)
    assert trail.entries() == []


def test_principal_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("WORKBENCH_PRINCIPAL", raising=False)
    assert current_principal() == "pipeline-service"
    monkeypatch.setenv("WORKBENCH_PRINCIPAL", "dr.lee")
    assert current_principal() == "dr.lee"


def test_the_workbench_trail_is_keyed_by_an_owner_only_key_file_created_on_first_use(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    s = settings()
    audit_trail(s).record("analyst-7", "materialize", "gold/features", "scheduled run")
    key_file = s.keys_dir / "workbench_audit_key.key"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert read_entries(s.home / "audit" / "audit.jsonl")[0]["alg"] == "hmac-sha256"
    assert verify_command(s.home / "audit" / "audit.jsonl", s.keys_dir) == 0 and "HMAC-SHA256 chain verified" in capsys.readouterr().out
    key_file.unlink()
    with pytest.raises(KeyUnavailable, match="is keyed"):
        verify_command(s.home / "audit" / "audit.jsonl", s.keys_dir)


def test_production_never_creates_an_audit_key_and_refuses_to_record_without_one(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    monkeypatch.setenv("WORKBENCH_ENV", "production")
    with pytest.raises(KeyUnavailable, match="set the environment variable WORKBENCH_AUDIT_KEY"):
        audit_trail().record("pipeline-service", "materialize", "gold/features", "scheduled run")
    assert not (tmp_path / "keys").exists() and not (tmp_path / "audit" / "audit.jsonl").exists()
