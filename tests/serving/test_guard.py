"""The served model's copy guard: keyed digests, the key outside the artifact; attacks on the artifact fail."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import stat

import pytest

from synllm_mlops.errors import ConfigError
from synllm_mlops.parsing import table_keys
from synllm_mlops.serving import GuardKeys, key_id, load_key, new_guard, row_digest


@pytest.fixture()
def keys_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNLLM_GUARD_KEY_DIR", str(tmp_path / "keys"))
    for var in ("SYNLLM_GUARD_KEY", "SYNLLM_GUARD_KEY_FILE", "SYNLLM_ALLOW_UNGUARDED"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path / "keys"


def test_the_artifact_holds_digests_and_a_key_id_only_and_the_key_file_is_private(keys_dir, cirrhosis):
    spec, real, split = cirrhosis
    rows = set(table_keys(split.train, spec))
    guard, path = new_guard(rows)
    text = json.dumps(guard)
    key = bytes.fromhex(path.read_text())
    assert set(guard) == {"scheme", "key_id", "digests"} and len(guard["digests"]) == len(rows)
    assert key.hex() not in text and "salt" not in text
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and stat.S_IMODE(os.stat(keys_dir).st_mode) == 0o700
    assert path.name == f"{key_id(key)}.key"


def test_the_artifact_alone_cannot_confirm_a_candidate_row(keys_dir, cirrhosis):
    """The attack that broke salted hashes: knowing most fields of a patient, enumerate the rest.

    With the artifact only (no key), no candidate (the true row included) matches a digest, whatever
    hash or guessed key the attacker tries; with the key, exactly the true row does.
    """
    spec, real, split = cirrhosis
    rows = list(table_keys(split.train, spec))
    guard, path = new_guard(set(rows))
    digests = set(guard["digests"])
    target = rows[0]
    cats = {c.name: c.categories for c in spec.columns if not c.is_numeric}
    free = [i for i, c in enumerate(spec.columns) if c.name in ("Sex", "Ascites", "Edema", "Stage")]
    candidates = []
    for values in itertools.product(*[cats[spec.columns[i].name] + ["NA"] for i in free]):
        cand = list(target)
        for i, v in zip(free, values):
            cand[i] = v
        candidates.append(tuple(cand))
    assert target in candidates and len(candidates) > 50
    attacks = {
        "sha256": lambda r: hashlib.sha256("\x1f".join(r).encode()).hexdigest(),
        "sha256 with the key id as salt": lambda r: hashlib.sha256((guard["key_id"] + "\x1f".join(r)).encode()).hexdigest(),
        "hmac with the key id as key": lambda r: row_digest(guard["key_id"].encode(), r),
        "hmac with a guessed key": lambda r: row_digest(b"\x00" * 32, r),
    }
    for name, h in attacks.items():
        assert not any(h(c) in digests for c in candidates), name
    key = bytes.fromhex(path.read_text())
    assert [c for c in candidates if row_digest(key, c) in digests] == [target]  # positive control


def test_serving_needs_the_key_or_an_explicit_unguarded_choice(keys_dir, monkeypatch, cirrhosis):
    spec, real, split = cirrhosis
    rows = set(table_keys(split.train, spec))
    guard, path = new_guard(rows)
    key = bytes.fromhex(path.read_text())
    assert load_key(guard) == key  # found in the local key store by its id
    path.unlink()
    with pytest.raises(ConfigError, match=r"needs its key \(key id [0-9a-f]{16}\).*SYNLLM_GUARD_KEY=.*SYNLLM_ALLOW_UNGUARDED=true"):
        load_key(guard)
    monkeypatch.setenv("SYNLLM_GUARD_KEY", key.hex())
    assert load_key(guard) == key
    monkeypatch.setenv("SYNLLM_GUARD_KEY", "11" * 32)
    with pytest.raises(ConfigError, match="is not this model's guard key"):
        load_key(guard)
    monkeypatch.setenv("SYNLLM_GUARD_KEY", "not hex")
    with pytest.raises(ConfigError, match="must hold the guard key as hex"):
        load_key(guard)
    monkeypatch.delenv("SYNLLM_GUARD_KEY")
    monkeypatch.setenv("SYNLLM_ALLOW_UNGUARDED", "true")
    assert load_key(guard) is None
    with pytest.raises(ConfigError, match="old, reversible format"):
        load_key({"salt": "ab", "digests": {}})
    keys = GuardKeys(guard, key)
    assert keys.get(next(iter(rows))) == "real" and keys.get(("x",) * len(spec.columns)) is None
