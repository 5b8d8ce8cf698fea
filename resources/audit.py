"""A tamper-evident audit trail: who did what to which asset, model or table, and why.

Entries are appended to a JSON Lines file, each carrying the hash of the entry before it, so an edited,
deleted, reordered or cut entry breaks the chain where it happened and `verify` names it. With a key the
hashes are HMAC-SHA256, so someone who can edit the file still cannot recompute them. A hash chain cannot
show that the newest entries were removed: compare the count and head hash with a copy kept elsewhere.
The workbench's own trail is always keyed: `WORKBENCH_AUDIT_KEY`, else an owner-only key file under `keys/`.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import dagster as dg

from resources.environment import Settings, settings
from resources.vault import KeyUnavailable, decode_key, key_file, load_key

AUDIT_KEY_ENV = "WORKBENCH_AUDIT_KEY"
PRINCIPAL_ENV = "WORKBENCH_PRINCIPAL"
DEFAULT_PRINCIPAL = "pipeline-service"
GENESIS_HASH = "0" * 64
PLAIN, KEYED = "sha256", "hmac-sha256"
MEMBER_ID = re.compile(r"M[0-9]{8}")
MAX_DETAIL_BYTES = 4096
TAIL_BLOCK = 4096
FILE_MODE = 0o640


class AuditError(ValueError):
    """An entry the trail refuses to record (PHI, malformed fields) or a trail too damaged to extend."""


class NoAuditTrail(LookupError):
    """There is no trail file to verify; a LookupError so the CLI prints one line."""


def default_path(s: Settings | None = None) -> Path:
    """The trail lives with the rest of the workbench state, under `<home>/audit/`."""
    return (s or settings()).home / "audit" / "audit.jsonl"


def current_principal() -> str:
    """Who is acting: `WORKBENCH_PRINCIPAL` for a person or job, else the pipeline's service identity."""
    return os.environ.get(PRINCIPAL_ENV, "").strip() or DEFAULT_PRINCIPAL


def audit_key(keys_dir: Path | None = None) -> bytes | None:
    """The HMAC key to verify with: `WORKBENCH_AUDIT_KEY`, else the key file under `keys_dir`; None when neither exists."""
    if os.environ.get(AUDIT_KEY_ENV) or (keys_dir is not None and key_file(AUDIT_KEY_ENV, keys_dir).exists()):
        return load_key(AUDIT_KEY_ENV, keys_dir or Path(), create=False)
    return None


def canonical(fields: dict[str, Any]) -> bytes:
    """Sorted keys and no whitespace, so the same entry always hashes the same."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def entry_hash(entry: dict[str, Any], key: bytes | None) -> str:
    """The hash over every field but `hash` itself (prev_hash included, which makes it a chain)."""
    body = canonical({name: value for name, value in entry.items() if name != "hash"})
    if key is None:
        return hashlib.sha256(body).hexdigest()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def _member_id_paths(value: Any, where: str) -> Iterator[str]:
    """Where raw member ids sit in a JSON value; the paths never repeat the id itself."""
    if isinstance(value, str) and MEMBER_ID.fullmatch(value):
        yield where
    elif isinstance(value, dict):
        for name, item in value.items():
            if MEMBER_ID.fullmatch(name):
                yield f"{where} key"
            yield from _member_id_paths(item, f"{where}[{'<member id>' if MEMBER_ID.fullmatch(name) else repr(name)}]")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _member_id_paths(item, f"{where}[{index}]")


def _json_detail(detail: dict[str, Any] | None) -> dict[str, Any]:
    """The detail exactly as it will be stored (a JSON round trip), refused when unfit for an audit line."""
    if detail is None:
        return {}
    if not isinstance(detail, dict):
        raise AuditError(f"detail must be a dict, got {type(detail).__name__}")
    try:
        stored = canonical(detail)
    except (TypeError, ValueError) as err:
        raise AuditError(f"detail is not JSON-serialisable: {err}") from None
    if len(stored) > MAX_DETAIL_BYTES:
        raise AuditError(f"detail is {len(stored):,} bytes serialised; keep it under {MAX_DETAIL_BYTES:,} (counts and keys, not data)")
    return json.loads(stored)


def audit_fields(principal: str, action: str, target: str, reason: str, detail: dict[str, Any] | None) -> dict[str, Any]:
    """The caller's fields, checked: non-empty strings, a small JSON detail, and nothing like a raw member id."""
    fields: dict[str, Any] = {"principal": principal, "action": action, "target": target, "reason": reason}
    for name, value in fields.items():
        if not isinstance(value, str) or not value.strip():
            raise AuditError(f"{name} must be a non-empty string")
    fields["detail"] = _json_detail(detail)
    if found := [path for name, value in fields.items() for path in _member_id_paths(value, name)]:
        raise AuditError(f"raw member id (M + 8 digits) in {', '.join(found)}: audit entries must not hold PHI; pseudonymise or count instead")
    return fields


def parse_entry(line: bytes) -> dict[str, Any] | None:
    """An entry if the line is a JSON object with the fields that place it in the chain, else None."""
    try:
        entry = json.loads(line)
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(entry, dict) or type(entry.get("seq")) is not int:
        return None
    return entry if isinstance(entry.get("hash"), str) and isinstance(entry.get("prev_hash"), str) else None


def _last_entry(handle: IO[bytes], path: Path) -> dict[str, Any] | None:
    """The newest entry, read backwards from the end so an append costs the same on a long trail."""
    end = handle.seek(0, os.SEEK_END)
    if end == 0:
        return None
    handle.seek(end - 1)
    if handle.read(1) != b"\n":
        raise AuditError(f"audit trail {path} ends in a partial line (an interrupted write or tampering); run `workbench verify` and move the file aside")
    tail, start = b"", end - 1
    while start > 0 and b"\n" not in tail:
        step = min(TAIL_BLOCK, start)
        start -= step
        handle.seek(start)
        tail = handle.read(step) + tail
    line = tail[:end - 1 - start].rsplit(b"\n", 1)[-1]
    if (entry := parse_entry(line)) is None:
        raise AuditError(f"the last entry of audit trail {path} is unreadable; run `workbench verify` and move the file aside")
    return entry


def _check_keying(last: dict[str, Any] | None, key: bytes | None, path: Path) -> None:
    """A trail stays keyed or unkeyed for life, so a writer without the key cannot weaken it."""
    if last is None:
        return
    if last.get("alg") == KEYED and key is None:
        raise KeyUnavailable(f"audit trail {path} is keyed: set {AUDIT_KEY_ENV} (32 bytes, base64) to record to it")
    if last.get("alg") != KEYED and key is not None:
        raise AuditError(f"audit trail {path} is unkeyed; start a keyed trail in a new file")


def append_entry(path: Path, fields: dict[str, Any], key: bytes | None) -> dict[str, Any]:
    """Append one chained entry; the exclusive lock spans reading the head and writing, so processes never fork the chain."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with os.fdopen(os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, FILE_MODE), "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        last = _last_entry(handle, path)
        _check_keying(last, key, path)
        entry = {
            "seq": last["seq"] + 1 if last else 1,
            "time": datetime.now(UTC).isoformat(timespec="microseconds"),
            **fields,
            "alg": PLAIN if key is None else KEYED,
            "prev_hash": last["hash"] if last else GENESIS_HASH,
        }
        entry["hash"] = entry_hash(entry, key)
        handle.write(json.dumps(entry, ensure_ascii=False).encode() + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    return entry


def _read_lines(path: Path) -> tuple[list[bytes], bool]:
    """The file's lines under a shared lock (no half-written entry), and whether the last one lacks its newline."""
    with path.open("rb") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        data = handle.read()
    lines = data.split(b"\n")
    cut = lines[-1] != b""
    if not cut:
        lines.pop()
    return lines, cut


def read_entries(path: Path) -> list[dict[str, Any]]:
    """Every entry in file order, for display; integrity is `verify`'s job, but an unreadable line is never skipped."""
    if not path.exists():
        return []
    lines, cut = _read_lines(path)
    entries = []
    for number, line in enumerate(lines, 1):
        if (entry := parse_entry(line)) is None or (cut and number == len(lines)):
            raise AuditError(f"audit trail {path} line {number} is unreadable; run `workbench verify`")
        entries.append(entry)
    return entries


@dataclass(frozen=True)
class Problem:
    """One way the trail was damaged, with the seq or line it happened at."""

    kind: str  # garbled, edited, unkeyed, duplicate, reordered, missing, broken_link
    message: str
    seq: int | None = None
    line: int | None = None

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class VerifyResult:
    """The verdict on a trail: intact with its count and head hash, or the problems found."""

    path: Path
    entries: int
    keyed: bool
    head: str
    problems: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        if self.ok:
            chain = "HMAC-SHA256" if self.keyed else "SHA-256"
            return f"audit trail {self.path}: intact, {self.entries} entries, {chain} chain verified, head {self.head[:16]}"
        count = f"{len(self.problems)} problem{'s' if len(self.problems) > 1 else ''}"
        return f"audit trail {self.path}: TAMPERED, {count} in {self.entries} entries; first: {self.problems[0]}"


Located = tuple[int, dict[str, Any]]


def _garbled(number: int, cut: bool) -> Problem:
    why = "truncated (no line ending: an interrupted write or a cut file)" if cut else "garbled (not a readable audit entry)"
    return Problem("garbled", f"line {number}: {why}", line=number)


def _hash_problems(located: list[Located], key: bytes | None) -> Iterator[Problem]:
    """Entries whose stored hash is not the one their fields give (or that dodge the key)."""
    for number, entry in located:
        seq = entry["seq"]
        if key is not None and entry.get("alg") != KEYED:
            yield Problem("unkeyed", f"seq {seq} (line {number}): not keyed (alg {entry.get('alg')!r}) though a key was given: forged, or the trail was never keyed", seq, number)
        elif not hmac.compare_digest(entry_hash(entry, key), entry["hash"]):
            yield Problem("edited", f"seq {seq} (line {number}): hash mismatch, the entry was edited", seq, number)


def _order_problems(located: list[Located]) -> Iterator[Problem]:
    """Entries out of sequence in the file, and seqs that appear more than once."""
    first_line: dict[int, int] = {}
    previous: Located | None = None
    for number, entry in located:
        seq = entry["seq"]
        if seq in first_line:
            yield Problem("duplicate", f"seq {seq} appears twice (lines {first_line[seq]} and {number}): an entry was copied or replayed", seq, number)
        elif previous and seq < previous[1]["seq"]:
            yield Problem("reordered", f"seq {seq} (line {number}) comes after seq {previous[1]['seq']} (line {previous[0]}): entries reordered", seq, number)
        first_line.setdefault(seq, number)
        previous = (number, entry)


def _runs(numbers: list[int]) -> list[tuple[int, int]]:
    """Consecutive numbers as (first, last) ranges, so a large deletion is one problem."""
    runs: list[tuple[int, int]] = []
    for number in numbers:
        if runs and number == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], number)
        else:
            runs.append((number, number))
    return runs


def _gap_problems(by_seq: dict[int, Located], garbled: bool) -> Iterator[Problem]:
    """Seqs absent between 1 and the highest present: deleted entries."""
    missing = [seq for seq in range(1, max(by_seq, default=0) + 1) if seq not in by_seq]
    or_garbled = ", or it is on a garbled line" if garbled else ""
    for first, last in _runs(missing):
        which = f"seq {first} is" if first == last else f"seqs {first}-{last} are"
        yield Problem("missing", f"{which} missing: deleted{or_garbled}", first)


def _link_problems(by_seq: dict[int, Located]) -> Iterator[Problem]:
    """Entries whose prev_hash is not their predecessor's hash: a rewritten or spliced-in entry."""
    for seq, (number, entry) in sorted(by_seq.items()):
        if seq == 1 and entry["prev_hash"] != GENESIS_HASH:
            yield Problem("broken_link", f"seq 1 (line {number}) does not start from the genesis hash: earlier entries were cut off", seq, number)
        elif seq - 1 in by_seq and entry["prev_hash"] != by_seq[seq - 1][1]["hash"]:
            before = by_seq[seq - 1][0]
            yield Problem("broken_link", f"seq {seq - 1} (line {before}) was rewritten or replaced: seq {seq} (line {number}) does not chain to it", seq - 1, before)


def verify(path: str | Path, key: bytes | None = None) -> VerifyResult:
    """Check every line, hash, seq and link of the trail and name each place it was tampered with."""
    path = Path(path)
    if not path.exists():
        raise NoAuditTrail(f"no audit trail at {path}")
    lines, cut = _read_lines(path)
    located: list[Located] = []
    problems: list[Problem] = []
    for number, line in enumerate(lines, 1):
        last_cut = cut and number == len(lines)
        entry = None if last_cut else parse_entry(line)
        if entry is None:
            problems.append(_garbled(number, last_cut))
        else:
            located.append((number, entry))
    if key is None and any(entry.get("alg") == KEYED for _, entry in located):
        raise KeyUnavailable(f"audit trail {path} is keyed (HMAC-SHA256): set {AUDIT_KEY_ENV} to verify it")
    by_seq: dict[int, Located] = {}
    for number, entry in located:
        by_seq.setdefault(entry["seq"], (number, entry))
    problems += [*_hash_problems(located, key), *_order_problems(located), *_gap_problems(by_seq, bool(problems)), *_link_problems(by_seq)]
    head = by_seq[max(by_seq)][1]["hash"] if by_seq else GENESIS_HASH
    return VerifyResult(path, len(located), key is not None, head, tuple(problems))


def verify_command(path: str | Path, keys_dir: Path | None = None) -> int:
    """`workbench verify`: print the verdict and each problem; exit 0 when intact, 1 when tampered."""
    result = verify(path, audit_key(keys_dir))
    print(result)
    for problem in result.problems:
        print(f"  {problem}")
    return 0 if result.ok else 1


class AuditTrail(dg.ConfigurableResource):
    """Records who did what and why; keyed by `key` (base64, e.g. `dg.EnvVar("WORKBENCH_AUDIT_KEY")`) or the key file in `keys_dir`."""

    path: str
    key: str | None = None
    keys_dir: str | None = None
    create_missing_key: bool = False

    def record(self, principal: str, action: str, target: str, reason: str, detail: dict[str, Any] | None = None) -> dict[str, Any]:
        """Append one entry and return it as stored (seq, time and hashes filled in)."""
        return append_entry(Path(self.path), audit_fields(principal, action, target, reason, detail), self._hmac_key())

    def entries(self) -> list[dict[str, Any]]:
        return read_entries(Path(self.path))

    def _hmac_key(self) -> bytes | None:
        """The configured key; an EnvVar is resolved here too, so the resource also works outside a Dagster run."""
        raw = self.key.get_value() if isinstance(self.key, dg.EnvVar) else self.key
        if raw:
            return decode_key(raw, "the audit trail key")
        return load_key(AUDIT_KEY_ENV, Path(self.keys_dir), self.create_missing_key) if self.keys_dir else None


def audit_trail(s: Settings | None = None) -> AuditTrail:
    """The trail for the environment in force, always keyed: `WORKBENCH_AUDIT_KEY` (never copied into config), else the key
    file under `keys/`, which only the local environment creates."""
    s = s or settings()
    return AuditTrail(path=str(default_path(s)), key=dg.EnvVar(AUDIT_KEY_ENV) if os.environ.get(AUDIT_KEY_ENV) else None,
                      keys_dir=str(s.keys_dir), create_missing_key=s.environment == "local")
