"""The served model's copy guard: keyed digests, the key outside the artifact; attacks on the artifact fail."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import stat

import pytest

from synllm_mlops.errors import ConfigError
from synllm_mlops.parsing import masked_keys, table_keys
from synllm_mlops.serving import GuardKeys, key_id, load_key, new_guard, row_digest
from synllm_mlops.serving._guard import near_digests


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
    assert set(guard) == {"scheme", "key_id", "digests", "near_digests"} and len(guard["digests"]) == len(rows)
    assert len(rows) * 50 < len(guard["near_digests"]) <= len(rows) * 171  # <= C(19, 2) a row: repeats collapse
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
        near = set(guard["near_digests"])  # the masked digests, truncated: no better without the key
        assert not any(h(m)[:16] in near for c in candidates for m in masked_keys(c)), name
    key = bytes.fromhex(path.read_text())
    assert [c for c in candidates if row_digest(key, c) in digests] == [target]  # positive control
    assert all(GuardKeys(guard, key).near(c) for c in candidates if sum(a != b for a, b in zip(c, target)) <= 2)


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


def test_the_served_guard_rejects_rows_within_two_values_of_a_real_row_in_any_order(keys_dir, cirrhosis):
    spec, real, split = cirrhosis
    rows = list(table_keys(split.train, spec))
    guard, path = new_guard(set(rows))
    keys = GuardKeys(guard, bytes.fromhex(path.read_text()))
    target = rows[0]
    age = spec.column_names.index("Age")
    one_day = target[:age] + (str(int(target[age]) + 1),) + target[age + 1:]  # the attack: Age + 1 day
    assert keys.get(one_day) is None and keys.near(one_day)
    two = list(one_day)
    two[0] = "99999"
    swapped = list(target)
    swapped[9], swapped[11] = swapped[11], swapped[9]  # two values swapped between columns
    three = two.copy()
    three[2] = "zz"
    assert keys.near(tuple(two)) and keys.near(tuple(swapped)) and not keys.near(tuple(three))
    others = list(table_keys(split.holdout, spec))  # other patients: none is near a train row
    assert not any(keys.near(r) for r in others)
    assert near_digests(bytes(32), target).isdisjoint(guard["near_digests"])  # another key: nothing matches
    assert not GuardKeys({"digests": guard["digests"]}, keys.key).near(one_day)  # an old guard: exact copies only


def test_an_existing_shared_key_directory_keeps_its_mode_and_the_key_file_is_created_private(keys_dir, cirrhosis):
    spec, real, split = cirrhosis
    keys_dir.mkdir()
    os.chmod(keys_dir, 0o2775)  # a team's shared, setgid directory
    old = os.umask(0)  # the most permissive umask: the key file must still be the owner's alone
    try:
        guard, path = new_guard(set(table_keys(split.train.head(3), spec)))
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(keys_dir).st_mode) == 0o2775
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and path.parent == keys_dir


def test_directories_we_create_are_private_and_a_readable_existing_key_file_is_refused(keys_dir, monkeypatch,
                                                                                        cirrhosis):
    spec, real, split = cirrhosis
    nested = keys_dir / "team" / "keys"
    monkeypatch.setenv("SYNLLM_GUARD_KEY_DIR", str(nested))
    monkeypatch.setenv("SYNLLM_GUARD_KEY", "ab" * 32)
    rows = set(table_keys(split.train.head(3), spec))
    guard, path = new_guard(rows)
    for d in (keys_dir, keys_dir / "team", nested):
        assert stat.S_IMODE(os.stat(d).st_mode) == 0o700, d
    assert new_guard(rows)[1] == path  # the same key again: the private file is kept as it is
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match=r"guard key file .* is readable by others than its owner \(mode 0644\).*"
                                          r"chmod 600"):
        new_guard(rows)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644  # refused, never silently changed
    os.chmod(path, 0o600)
    path.write_text("cd" * 32 + "\n")
    with pytest.raises(ConfigError, match="holds another key than its name says"):
        new_guard(rows)


def test_a_padded_guard_hides_its_row_count_and_still_guards(keys_dir, cirrhosis):
    """A DP champion's guard is padded with decoys to a size read off the noisy count: its lists' lengths
    are that size, whichever of two neighbouring tables it was built from, and it matches what it did."""
    spec, real, split = cirrhosis
    rows = table_keys(split.train, spec) | table_keys(split.holdout, spec)
    fewer = rows - {next(iter(sorted(rows)))}
    per_row = 171  # C(19, 2): the masks of a row of 19 distinct values
    sizes = []
    for table in (rows, fewer):
        guard, path = new_guard(table, pad_to=1000)
        sizes.append((len(guard["digests"]), len(guard["near_digests"])))
        keys = GuardKeys(guard, bytes.fromhex(path.read_text()))
        assert all(keys.get(r) == "real" for r in table) and all(keys.near(r) for r in list(table)[:20])
        fake = tuple("zz-not-a-value" for _ in spec.columns)
        assert keys.get(fake) is None and not keys.near(fake)
    assert sizes == [(1000, 1000 * per_row)] * 2
    unpadded, _ = new_guard(rows)
    assert len(unpadded["digests"]) == len(rows)  # the control: without padding the count is exact
