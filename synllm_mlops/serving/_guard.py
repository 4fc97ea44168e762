"""The served model's copy guard: keyed digests of the real rows, the key kept out of the artifact.

A plain or salted hash shipped with its salt lets anyone holding the artifact test candidate rows
(knowing most fields of a patient, the rest can be enumerated). Here each real row is stored as
HMAC-SHA256(key, row key) and the key never enters the model artifact: it is written, readable by
the owner only, to ``<SYNLLM_GUARD_KEY_DIR or cache>/guard-keys/<key id>.key`` on the machine that registers the model, and
must be supplied where the model is served (``SYNLLM_GUARD_KEY`` = hex key, or
``SYNLLM_GUARD_KEY_FILE`` = path; the key file is also found by its id in the local cache). Without
the key the artifact cannot confirm or refute any candidate row. Without a key the model refuses to
serve, unless ``SYNLLM_ALLOW_UNGUARDED=true`` says to serve without the guard (responses then say so).

Near copies: the artifact also holds keyed digests (truncated to 64 bits) of every real row's
:func:`~synllm_mlops.parsing.masked_keys` — its sorted normalised values with any two left out — so a
served row that agrees with a real row on all but two values, in any order, is rejected too.

Files: a key file and the directories we create are made owner-only (created with mode 0600/0700,
then ``fchmod``-ed); an existing directory keeps its mode (a team's shared key directory stays shared),
and an existing key file readable by group or others is refused, never silently changed.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import secrets
import stat
from pathlib import Path

from synllm_mlops.errors import ConfigError
from synllm_mlops.parsing import masked_keys, max_diff
from synllm_mlops.settings import settings

KEY_ENV, KEY_FILE_ENV, UNGUARDED_ENV = "SYNLLM_GUARD_KEY", "SYNLLM_GUARD_KEY_FILE", "SYNLLM_ALLOW_UNGUARDED"
_KEY_ID_MSG = b"synllm-guard-key-id"


def key_dir() -> Path:
    """Where registration saves guard keys: ``SYNLLM_GUARD_KEY_DIR``, default ``<SYNLLM_CACHE_DIR>/guard-keys``."""
    return settings().guard_key_dir


def key_id(key: bytes) -> str:
    """A public fingerprint of the key (reveals nothing about it or the rows)."""
    return hmac.new(key, _KEY_ID_MSG, hashlib.sha256).hexdigest()[:16]


def row_digest(key: bytes, row: tuple[str, ...]) -> str:
    return hmac.new(key, "\x1f".join(row).encode(), hashlib.sha256).hexdigest()


def near_digests(key: bytes, row: tuple[str, ...]) -> set[str]:
    """Keyed digests (64 bits) of a row's :func:`masked_keys`: two rows share one iff they are near copies."""
    return {hmac.new(key, ("near\x1e" + "\x1f".join(m)).encode(), hashlib.sha256).hexdigest()[:16]
            for m in masked_keys(row)}


_DATA_KEY_MSG, DATA_KEY_FILE = b"synllm-data-digest-key", "data-digest.key"


def data_digest_key() -> bytes:
    """The key of a DP run's data digests (never logged; its :func:`key_id` is).

    Derived from ``SYNLLM_GUARD_KEY`` when set (a team's shared key: every machine computes the same
    digests), else this machine's ``<key dir>/data-digest.key``, created owner-only on first use, where
    the guard keys are kept. ``evaluate --run-id`` finds it there to check that the data given is the run's.
    """
    s = settings()
    if s.guard_key:
        return hmac.new(_parse_key(s.guard_key, KEY_ENV), _DATA_KEY_MSG, hashlib.sha256).digest()
    path = key_dir() / DATA_KEY_FILE
    if not path.is_file():
        try:
            _write_key(path, secrets.token_bytes(32))
        except ConfigError:  # another process wrote it first: use theirs, if it is private (checked below)
            pass
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & 0o077:
        raise ConfigError(f"data digest key file {path} is readable by others than its owner (mode {mode:04o}); "
                          f"restrict it (chmod 600 {path}) or move it away")
    return _parse_key(path.read_text(), str(path))


def _make_dirs(path: Path) -> None:
    """Create the missing directories of ``path`` owner-only; an existing one keeps its mode."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, 0o700)  # the umask can only take bits away
        except FileExistsError:  # made meanwhile by another process: not ours to change
            continue
        os.chmod(d, 0o700)


def _write_key(path: Path, key: bytes) -> None:
    """Write the key file owner-only; an existing one must hold this key and be readable by its owner only."""
    _make_dirs(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if mode & 0o077:
            raise ConfigError(f"guard key file {path} already exists and is readable by others than its owner "
                              f"(mode {mode:04o}): the key unlocks the copy guard of every model registered with it. "
                              f"Restrict it (chmod 600 {path}) or move it away, then register again") from None
        if _parse_key(path.read_text(), str(path)) != key:
            raise ConfigError(f"guard key file {path} holds another key than its name says; move it away and register "
                              "again") from None
        return
    with os.fdopen(fd, "w") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(key.hex() + "\n")


def new_guard(rows: set[tuple[str, ...]], *, pad_to: int | None = None) -> tuple[dict, Path]:
    """The guard artifact for ``rows`` (digests + key id, no key) and where its key was saved.

    The key is ``SYNLLM_GUARD_KEY`` when set (a team sharing one key), else freshly generated. ``pad_to``
    (a DP run's, computed from its noisy patient count) adds random decoy digests until the artifact holds
    ``pad_to`` row digests and ``pad_to`` x (masks per row) near digests, so the lists' lengths are not the
    exact number of real rows; without the key a decoy looks like any other HMAC output, and it matches no
    row (a 256-bit decoy never; a 64-bit near decoy with odds of about 2**-64 per lookup). Rows beyond
    ``pad_to`` are all kept: the guard never drops a real row to hit a size.

    Raises:
        ConfigError: the key file exists and is readable by group or others (see :func:`_write_key`).
    """
    env = settings().guard_key
    key = _parse_key(env, KEY_ENV) if env else secrets.token_bytes(32)
    kid = key_id(key)
    path = key_dir() / f"{kid}.key"
    _write_key(path, key)
    digests = {row_digest(key, r) for r in rows}
    near = set().union(*(near_digests(key, r) for r in rows)) if rows else set()
    if pad_to:
        width = max((len(r) for r in rows), default=0)  # the spec's column count
        per_row = math.comb(width, max_diff(width)) if width else 0  # masks of a row with no repeated value
        while len(digests) < pad_to:
            digests.add(secrets.token_hex(32))
        while len(near) < pad_to * per_row:
            near.add(secrets.token_hex(8))
    return {"scheme": "hmac-sha256", "key_id": kid, "digests": sorted(digests), "near_digests": sorted(near)}, path


def _parse_key(text: str, source: str) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise ConfigError(f"{source} must hold the guard key as hex (64 hex digits), got {len(text.strip())} "
                          "characters that are not hex; copy the .key file written at registration") from None
    if len(key) < 16:
        raise ConfigError(f"{source} holds a {len(key)}-byte key; a guard key has 32 bytes (64 hex digits)")
    return key


def load_key(guard: dict) -> bytes | None:
    """The guard's key from the environment or the local key store; None when serving unguarded is allowed.

    Raises:
        ConfigError: no key (and unguarded serving not allowed), or a key that is not this model's.
    """
    kid = guard.get("key_id")
    if guard.get("scheme") != "hmac-sha256" or not kid:
        raise ConfigError("this model's copy guard uses an old, reversible format (salted hashes shipped with the "
                          "salt); register the model again with this version of synllm-mlops")
    s = settings()  # each variable is read (and checked) only where this order needs it
    if s.guard_key:
        key, source = _parse_key(s.guard_key, KEY_ENV), KEY_ENV
    elif s.guard_key_file:
        p = s.guard_key_file
        if not p.is_file():
            raise ConfigError(f"{KEY_FILE_ENV}={str(p)!r} does not exist; point it at the guard key file "
                              f"({kid}.key) written when the model was registered")
        key, source = _parse_key(p.read_text(), f"{KEY_FILE_ENV} ({p})"), KEY_FILE_ENV
    elif (key_dir() / f"{kid}.key").is_file():
        p = key_dir() / f"{kid}.key"
        key, source = _parse_key(p.read_text(), str(p)), str(p)
    elif s.allow_unguarded:
        return None
    else:
        raise ConfigError(f"this model's copy guard needs its key (key id {kid}) and none was found: set "
                          f"{KEY_ENV}=<hex key> or {KEY_FILE_ENV}=<path to {kid}.key> (written at registration to "
                          f"{key_dir()} on the machine that registered the model). To serve WITHOUT the guard (rows "
                          f"equal to real patients are then not rejected), set {UNGUARDED_ENV}=true")
    if key_id(key) != kid:
        raise ConfigError(f"the key from {source} is not this model's guard key (its id is {key_id(key)}, the model "
                          f"needs {kid}); supply the key file {kid}.key")
    return key


class GuardKeys:
    """The row parser's ``real_keys`` and ``near_copies`` for a served model, from the guard's keyed digests.

    ``get(row key)`` is ``"real"`` when the row's digest is known; ``near(row key)`` whether it agrees with a
    real row on all but two values, in any order (a guard from before near digests checks exact copies only).
    """

    def __init__(self, guard: dict, key: bytes):
        self.key, self.digests = key, set(guard["digests"])
        self.near_digests = set(guard.get("near_digests", ()))

    def near(self, row: tuple[str, ...]) -> bool:
        return bool(self.near_digests) and not self.near_digests.isdisjoint(near_digests(self.key, row))

    def get(self, row: tuple[str, ...], default: str | None = None) -> str | None:
        return "real" if row_digest(self.key, row) in self.digests else default

    def __len__(self) -> int:
        return len(self.digests)
