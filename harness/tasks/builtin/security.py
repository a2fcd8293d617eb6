"""Builtin tasks, category ``security``: fix or write code that must withstand attack input.

The hidden tests feed the answers hostile input (SQL injection, path traversal, forged
tokens, code in config values, script in HTML) besides the normal cases.
"""

from __future__ import annotations

from harness.tasks.builtin._common import make_task
from harness.tasks.types import Task

__all__ = ["TASKS"]

_CAT = "security"

# --- SQL injection ---------------------------------------------------------------------------

_SQL_VULN = r"""
import sqlite3


def create_schema(conn):
    conn.execute(
        "CREATE TABLE IF NOT EXISTS users ("
        "id INTEGER PRIMARY KEY, username TEXT UNIQUE NOT NULL, email TEXT NOT NULL)"
    )


def add_user(conn, username, email):
    cur = conn.execute(f"INSERT INTO users (username, email) VALUES ('{username}', '{email}')")
    return cur.lastrowid


def find_user(conn, username):
    sql = f"SELECT id, username, email FROM users WHERE username = '{username}'"
    return conn.execute(sql).fetchone()


def search_users(conn, fragment, limit=10):
    sql = (
        "SELECT username FROM users WHERE username LIKE '%"
        + fragment
        + "%' ORDER BY username LIMIT "
        + str(limit)
    )
    return [row[0] for row in conn.execute(sql)]


def rename_user(conn, user_id, new_name):
    conn.execute(f"UPDATE users SET username = '{new_name}' WHERE id = {user_id}")
"""

_SQL_PROMPT = """
The data-access module below builds SQL by string formatting and is open to SQL injection.
Rewrite it so that no user-supplied value is ever spliced into SQL text:

- keep `create_schema(conn)`, `add_user(conn, username, email) -> int` (the new row id),
  `find_user(conn, username)` (the `(id, username, email)` row or `None`) and
  `rename_user(conn, user_id, new_name) -> None`, all using parameterized queries (`?`
  placeholders of `sqlite3`);
- `search_users(conn, fragment, limit=10) -> list[str]` returns usernames containing
  `fragment`, sorted by username, at most `limit` of them. Keep SQL `LIKE` semantics (ASCII
  case-insensitive), but `%`, `_` and `\\` inside `fragment` must match literally (escape them
  and use an `ESCAPE` clause). `limit` must be an `int` (not a `bool`) from 1 to 100,
  otherwise raise `ValueError`.

Values containing quotes must be stored and found verbatim.
"""

_SQL_REF = r"""
from __future__ import annotations

import sqlite3

_MAX_LIMIT = 100


def create_schema(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS users ("
        "id INTEGER PRIMARY KEY, username TEXT UNIQUE NOT NULL, email TEXT NOT NULL)"
    )


def add_user(conn: sqlite3.Connection, username: str, email: str) -> int:
    cur = conn.execute("INSERT INTO users (username, email) VALUES (?, ?)", (username, email))
    return int(cur.lastrowid)


def find_user(conn: sqlite3.Connection, username: str) -> tuple | None:
    return conn.execute(
        "SELECT id, username, email FROM users WHERE username = ?", (username,)
    ).fetchone()


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_users(conn: sqlite3.Connection, fragment: str, limit: int = 10) -> list[str]:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= _MAX_LIMIT:
        raise ValueError(f"limit must be an int from 1 to {_MAX_LIMIT}")
    pattern = "%" + _escape_like(fragment) + "%"
    rows = conn.execute(
        "SELECT username FROM users WHERE username LIKE ? ESCAPE '\\' "
        "ORDER BY username LIMIT ?",
        (pattern, limit),
    )
    return [row[0] for row in rows]


def rename_user(conn: sqlite3.Connection, user_id: int, new_name: str) -> None:
    conn.execute("UPDATE users SET username = ? WHERE id = ?", (new_name, user_id))
"""

_SQL_TESTS = r"""
import sqlite3


def _t_db():
    conn = sqlite3.connect(":memory:")
    create_schema(conn)
    for name, email in [
        ("alice", "a@x.example"),
        ("bob", "b@x.example"),
        ("carol_1", "c@x.example"),
        ("dave%", "d@x.example"),
        ("eve", "e@x.example"),
    ]:
        add_user(conn, name, email)
    return conn


def _t_count(conn):
    return conn.execute("SELECT COUNT(*) FROM users").fetchone()[0]


def test_find_user():
    conn = _t_db()
    assert find_user(conn, "alice") == (1, "alice", "a@x.example")
    assert find_user(conn, "nobody") is None


def test_find_user_injection():
    conn = _t_db()
    for attack in [
        "' OR '1'='1",
        "' OR 1=1 --",
        "alice' --",
        "x' UNION SELECT 1, sqlite_version(), 'x",
        "alice'; DROP TABLE users; --",
    ]:
        assert find_user(conn, attack) is None, attack
    assert _t_count(conn) == 5


def test_quotes_stored_verbatim():
    conn = _t_db()
    evil = "x', 'y'); DROP TABLE users; --"
    new_id = add_user(conn, "o'brien", "o'b@x.example")
    assert isinstance(new_id, int)
    assert find_user(conn, "o'brien") == (new_id, "o'brien", "o'b@x.example")
    add_user(conn, evil, "e@e.example")
    assert find_user(conn, evil)[1] == evil
    assert _t_count(conn) == 7


def test_search_basic_sorted_and_case_insensitive():
    conn = _t_db()
    assert search_users(conn, "a") == ["alice", "carol_1", "dave%"]
    assert search_users(conn, "E") == ["alice", "dave%", "eve"]
    assert search_users(conn, "") == ["alice", "bob", "carol_1", "dave%", "eve"]


def test_search_wildcards_are_literal():
    conn = _t_db()
    add_user(conn, "back\\slash", "s@x.example")
    assert search_users(conn, "_") == ["carol_1"]
    assert search_users(conn, "%") == ["dave%"]
    assert search_users(conn, "\\") == ["back\\slash"]
    assert search_users(conn, "a_c") == []
    assert search_users(conn, "l_1") == ["carol_1"]


def test_search_injection():
    conn = _t_db()
    assert search_users(conn, "' OR 1=1 --") == []
    assert search_users(conn, "%' UNION SELECT email FROM users --") == []
    assert _t_count(conn) == 5


def test_search_limit():
    conn = _t_db()
    assert search_users(conn, "", 2) == ["alice", "bob"]
    assert search_users(conn, "", 1) == ["alice"]
    assert len(search_users(conn, "", 100)) == 5
    for bad in (0, -1, 101, "5", "1; DROP TABLE users", 2.5, True, None):
        try:
            search_users(conn, "", bad)
        except ValueError:
            continue
        raise AssertionError(f"limit {bad!r} accepted")
    assert _t_count(conn) == 5


def test_rename_user():
    conn = _t_db()
    rename_user(conn, 2, "bob'); DROP TABLE users; --")
    assert find_user(conn, "bob'); DROP TABLE users; --")[0] == 2
    rename_user(conn, "1 OR 1=1", "hacked")
    assert find_user(conn, "hacked") is None
    assert find_user(conn, "alice") is not None
    assert _t_count(conn) == 5
"""

# --- path traversal --------------------------------------------------------------------------

_PATH_VULN = r'''
import os


def safe_join(base_dir, user_path):
    """Resolve a user-supplied relative path inside base_dir."""
    if ".." in user_path.split("/"):
        raise ValueError("path traversal attempt")
    full = os.path.abspath(os.path.join(base_dir, user_path))
    if not full.startswith(os.path.abspath(base_dir)):
        raise ValueError("path escapes base directory")
    return full


def read_user_file(base_dir, user_path):
    with open(safe_join(base_dir, user_path), "rb") as fh:
        return fh.read()
'''

_PATH_PROMPT = """
A file-download endpoint serves files from an upload folder with the helpers below. The
check can be bypassed (for instance through symbolic links inside the folder, or an
absolute path in a sibling folder whose name starts with the same characters). Rewrite
them:

- `safe_join(base_dir: str, user_path: str) -> str` returns the canonical absolute path
  (symbolic links resolved, as `os.path.realpath` does) that `user_path` names relative to
  `base_dir`. Raise `ValueError` if `user_path` is absolute, contains a NUL character, or
  resolves (after following symlinks of both the base and the target) to anything other
  than the base directory itself or a path inside it. `..` components that stay inside the
  base are allowed (`"a/../b.txt"`), and the target does not need to exist.
- `read_user_file(base_dir: str, user_path: str) -> bytes` returns the file's content, going
  through `safe_join` first (so it raises `ValueError` before opening anything outside).
"""

_PATH_REF = r'''
from __future__ import annotations

import os


def safe_join(base_dir: str, user_path: str) -> str:
    """Canonical path of ``user_path`` under ``base_dir``; ValueError if it escapes."""
    if "\x00" in user_path:
        raise ValueError("NUL byte in path")
    if os.path.isabs(user_path):
        raise ValueError("absolute paths are not allowed")
    base = os.path.realpath(base_dir)
    target = os.path.realpath(os.path.join(base, user_path))
    if os.path.commonpath([base, target]) != base:
        raise ValueError("path escapes the base directory")
    return target


def read_user_file(base_dir: str, user_path: str) -> bytes:
    """Content of a file inside ``base_dir``."""
    with open(safe_join(base_dir, user_path), "rb") as fh:
        return fh.read()
'''

_PATH_TESTS = r"""
import os
import shutil
import tempfile


def _t_layout():
    root = os.path.realpath(tempfile.mkdtemp(prefix="sj", dir=os.getcwd()))
    base = os.path.join(root, "data")
    os.makedirs(os.path.join(base, "docs"))
    os.makedirs(os.path.join(root, "data2"))
    os.makedirs(os.path.join(root, "secret"))
    with open(os.path.join(base, "docs", "readme.txt"), "w") as fh:
        fh.write("hello")
    with open(os.path.join(root, "data2", "secret.txt"), "w") as fh:
        fh.write("sibling secret")
    with open(os.path.join(root, "secret", "key.txt"), "w") as fh:
        fh.write("top secret")
    os.symlink(os.path.join(root, "secret"), os.path.join(base, "link_out"))
    os.symlink(os.path.join(base, "docs"), os.path.join(base, "link_in"))
    os.symlink(base, os.path.join(root, "base_link"))
    return root, base


def _t_rejects(base, user_path):
    try:
        safe_join(base, user_path)
    except ValueError:
        return True
    return False


def test_normal_paths():
    root, base = _t_layout()
    try:
        readme = os.path.join(base, "docs", "readme.txt")
        assert safe_join(base, "docs/readme.txt") == readme
        assert safe_join(base, "a/../docs/readme.txt") == readme
        assert safe_join(base, "docs/new/file.txt") == os.path.join(base, "docs", "new", "file.txt")
        assert safe_join(base, ".") == base
        assert safe_join(base, "") == base
    finally:
        shutil.rmtree(root)


def test_dotdot_escapes():
    root, base = _t_layout()
    try:
        attacks = ["..", "../secret/key.txt", "docs/../../secret", "docs/../..", "a/b/../../../x"]
        for attack in attacks:
            assert _t_rejects(base, attack), attack
    finally:
        shutil.rmtree(root)


def test_absolute_and_sibling_prefix():
    root, base = _t_layout()
    try:
        assert _t_rejects(base, os.path.join(root, "data2", "secret.txt"))
        assert _t_rejects(base, "/etc/passwd")
        assert _t_rejects(base, os.path.join(base, "docs", "readme.txt"))
        assert _t_rejects(base, "../data2/secret.txt")
    finally:
        shutil.rmtree(root)


def test_symlinks():
    root, base = _t_layout()
    try:
        assert _t_rejects(base, "link_out/key.txt")
        assert _t_rejects(base, "link_out")
        inside = safe_join(base, "link_in/readme.txt")
        assert inside == os.path.join(base, "docs", "readme.txt")
        via_link = os.path.join(root, "base_link")
        assert safe_join(via_link, "docs/readme.txt") == os.path.join(base, "docs", "readme.txt")
        assert _t_rejects(via_link, "link_out/key.txt")
    finally:
        shutil.rmtree(root)


def test_nul_byte():
    root, base = _t_layout()
    try:
        assert _t_rejects(base, "docs/readme.txt\x00.png")
    finally:
        shutil.rmtree(root)


def test_read_user_file():
    root, base = _t_layout()
    try:
        assert read_user_file(base, "docs/readme.txt") == b"hello"
        assert read_user_file(base, "link_in/readme.txt") == b"hello"
        sibling = os.path.join(root, "data2", "secret.txt")
        for attack in ["../secret/key.txt", "link_out/key.txt", sibling]:
            try:
                read_user_file(base, attack)
            except ValueError:
                continue
            raise AssertionError(f"read outside base: {attack}")
    finally:
        shutil.rmtree(root)
"""

# --- HMAC signing ----------------------------------------------------------------------------

_HMAC_VULN = r"""
import hashlib


def sign(message, key):
    return hashlib.md5(key + message).hexdigest()


def verify(message, signature, key):
    return sign(message, key) == signature


def make_token(payload, key, expires_at):
    body = f"{payload}.{expires_at}"
    return body + "." + sign(body.encode(), key)


def check_token(token, key, now):
    payload, expires_at, signature = token.split(".")
    if not verify(f"{payload}.{expires_at}".encode(), signature, key):
        return None
    if now > int(expires_at):
        return None
    return payload
"""

_HMAC_PROMPT = """
Our session tokens are signed with the module below. It uses `md5(key + message)` (open to
length extension), compares signatures with `==` (timing leak), accepts a token at its
expiry second, and crashes on malformed tokens. Rewrite it:

- `sign(message: bytes, key: bytes) -> str`: the lowercase hex HMAC-SHA256 of `message`
  under `key` (use the `hmac` module);
- `verify(message: bytes, signature: str, key: bytes) -> bool`: compare with
  `hmac.compare_digest`; return `False` (never raise) for a signature that is not a string,
  has the wrong length or contains non-ASCII characters;
- `make_token(payload: str, key: bytes, expires_at: int) -> str`: returns
  `f"{body}.{sign(body.encode('utf-8'), key)}"` with `body = f"{payload}.{expires_at}"`;
  raise `ValueError` if `payload` contains `"."`;
- `check_token(token: str, key: bytes, now: int) -> str | None`: the payload if the token has
  exactly three dot-separated parts, the expiry is a string of ASCII digits, the signature
  verifies and `now < expires_at`; otherwise `None` — never an exception.
"""

_HMAC_REF = r'''
from __future__ import annotations

import hashlib
import hmac
import re

_DIGITS = re.compile(r"[0-9]+")


def sign(message: bytes, key: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of ``message`` under ``key``."""
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def verify(message: bytes, signature: str, key: bytes) -> bool:
    """Constant-time check of ``signature``; False for anything malformed."""
    if not isinstance(signature, str):
        return False
    try:
        given = signature.encode("ascii")
    except UnicodeEncodeError:
        return False
    expected = sign(message, key).encode("ascii")
    return hmac.compare_digest(expected, given)


def make_token(payload: str, key: bytes, expires_at: int) -> str:
    if "." in payload:
        raise ValueError("payload must not contain '.'")
    body = f"{payload}.{expires_at}"
    return f"{body}.{sign(body.encode('utf-8'), key)}"


def check_token(token: str, key: bytes, now: int) -> str | None:
    """The token's payload if it is authentic and unexpired, else None."""
    if not isinstance(token, str):
        return None
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload, expires_at, signature = parts
    if not _DIGITS.fullmatch(expires_at):
        return None
    if not verify(f"{payload}.{expires_at}".encode("utf-8"), signature, key):
        return None
    if not now < int(expires_at):
        return None
    return payload
'''

_HMAC_TESTS = r"""
import hashlib as _t_hashlib
import hmac as _t_hmac

_T_KEY = b"server-secret-key"


def test_sign_is_hmac_sha256():
    for msg in (b"", b"hello", b"x" * 1000):
        assert sign(msg, _T_KEY) == _t_hmac.new(_T_KEY, msg, _t_hashlib.sha256).hexdigest()
    assert sign(b"m", b"k1") != sign(b"m", b"k2")


def test_verify():
    sig = sign(b"data", _T_KEY)
    assert verify(b"data", sig, _T_KEY) is True
    assert verify(b"datA", sig, _T_KEY) is False
    assert verify(b"data", sig, b"other") is False
    assert verify(b"data", sig[:-1], _T_KEY) is False
    assert verify(b"data", sig + "0", _T_KEY) is False
    assert verify(b"data", _t_hashlib.md5(_T_KEY + b"data").hexdigest(), _T_KEY) is False


def test_verify_never_raises():
    for bad in (None, 123, b"bytes", "", "é" * 64, "\x00" * 64):
        assert verify(b"data", bad, _T_KEY) is False


def test_verify_uses_compare_digest():
    calls = []
    original = _t_hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return original(a, b)

    # The answer's own namespace and the hmac/secrets modules it uses: in the sandbox the
    # tests run in another process, where these are references to the answer's objects.
    g = getattr(verify, "__globals__", globals())
    mods = [m for m in list(g.values()) if getattr(m, "__name__", None) in ("hmac", "secrets")]
    saved_mods = [(m, m.compare_digest) for m in mods if hasattr(m, "compare_digest")]
    saved = g.get("compare_digest")
    for m, _ in saved_mods:
        m.compare_digest = spy
    _t_hmac.compare_digest = spy
    if saved is not None:
        g["compare_digest"] = spy
    try:
        assert verify(b"m", sign(b"m", _T_KEY), _T_KEY)
    finally:
        for m, f in saved_mods:
            m.compare_digest = f
        _t_hmac.compare_digest = original
        if saved is not None:
            g["compare_digest"] = saved
    assert calls, "verify must compare with hmac.compare_digest"


def test_token_roundtrip_and_expiry():
    token = make_token("user42", _T_KEY, 1000)
    assert token.startswith("user42.1000.")
    assert token == "user42.1000." + sign(b"user42.1000", _T_KEY)
    assert check_token(token, _T_KEY, 999) == "user42"
    assert check_token(token, _T_KEY, 1000) is None
    assert check_token(token, _T_KEY, 5000) is None


def test_tampered_tokens():
    token = make_token("user42", _T_KEY, 1000)
    payload, exp, sig = token.split(".")
    assert check_token(f"admin.{exp}.{sig}", _T_KEY, 1) is None
    assert check_token(f"{payload}.9999.{sig}", _T_KEY, 1) is None
    assert check_token(token, b"wrong-key", 1) is None
    forged = "admin.9999." + _t_hashlib.md5(_T_KEY + b"admin.9999").hexdigest()
    assert check_token(forged, _T_KEY, 1) is None


def test_malformed_tokens_return_none():
    sig = sign(b"u.x", _T_KEY)
    for bad in ["", "a", "a.b", "a.b.c.d", "u.x." + sig, "u.-5." + sig, "u. 10." + sig,
                "u.10.zz", "u.10.é", ".."]:
        assert check_token(bad, _T_KEY, 1) is None, bad


def test_make_token_rejects_dots():
    try:
        make_token("a.b", _T_KEY, 10)
    except ValueError:
        return
    raise AssertionError("payload with '.' accepted")
"""

# --- password hashing ------------------------------------------------------------------------

_PW_VULN = r"""
import hashlib


def hash_password(password):
    return hashlib.sha1(password.encode()).hexdigest()


def verify_password(password, stored):
    return hash_password(password) == stored
"""

_PW_PROMPT = """
The password storage below uses unsalted SHA-1 and `==`. Replace it with salted PBKDF2:

- module constants `ALGORITHM = "pbkdf2_sha256"`, `DEFAULT_ITERATIONS = 210_000`,
  `MAX_ITERATIONS = 2_000_000`, `SALT_BYTES = 16`;
- `hash_password(password: str, *, iterations: int = DEFAULT_ITERATIONS) -> str` returns
  `"pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>"` where the salt is `SALT_BYTES` fresh
  random bytes from a cryptographically secure source and the hash is
  `hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)`; raise
  `ValueError` if `iterations` is below 1 or above `MAX_ITERATIONS`;
- `verify_password(password: str, stored: str) -> bool` compares digests with
  `hmac.compare_digest` and returns `False` — never raises — for a malformed `stored` value:
  not four `$`-separated fields, another algorithm, an iteration field that is not ASCII
  digits or is outside 1..`MAX_ITERATIONS` (checked before any hashing, so a forged huge
  count cannot stall the server), or a salt or hash that is empty or not valid hex;
- `needs_rehash(stored: str) -> bool` is `True` when `stored` is malformed (as above) or was
  made with fewer than `DEFAULT_ITERATIONS` iterations.
"""

_PW_REF = r'''
from __future__ import annotations

import hashlib
import hmac
import re
import secrets

ALGORITHM = "pbkdf2_sha256"
DEFAULT_ITERATIONS = 210_000
MAX_ITERATIONS = 2_000_000
SALT_BYTES = 16

_DIGITS = re.compile(r"[0-9]+")


def _derive(password: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)


def hash_password(password: str, *, iterations: int = DEFAULT_ITERATIONS) -> str:
    """Salted PBKDF2-SHA256 hash in ``algorithm$iterations$salt$hash`` form."""
    if not 1 <= iterations <= MAX_ITERATIONS:
        raise ValueError(f"iterations must be within 1..{MAX_ITERATIONS}")
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _derive(password, salt, iterations)
    return f"{ALGORITHM}${iterations}${salt.hex()}${digest.hex()}"


def _parse(stored: str) -> tuple[int, bytes, bytes] | None:
    if not isinstance(stored, str):
        return None
    parts = stored.split("$")
    if len(parts) != 4:
        return None
    algorithm, iterations_text, salt_hex, hash_hex = parts
    if algorithm != ALGORITHM or not _DIGITS.fullmatch(iterations_text):
        return None
    iterations = int(iterations_text)
    if not 1 <= iterations <= MAX_ITERATIONS:
        return None
    try:
        salt = bytes.fromhex(salt_hex)
        expected = bytes.fromhex(hash_hex)
    except ValueError:
        return None
    if not salt or not expected:
        return None
    return iterations, salt, expected


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored``; False for malformed ``stored``."""
    parsed = _parse(stored)
    if parsed is None:
        return False
    iterations, salt, expected = parsed
    return hmac.compare_digest(_derive(password, salt, iterations), expected)


def needs_rehash(stored: str) -> bool:
    """True for malformed hashes and ones weaker than the current default."""
    parsed = _parse(stored)
    return parsed is None or parsed[0] < DEFAULT_ITERATIONS
'''

_PW_TESTS = r"""
import hashlib as _t_hashlib
import time as _t_time


def _t_fields(stored):
    algorithm, iterations, salt, digest = stored.split("$")
    return algorithm, int(iterations), bytes.fromhex(salt), bytes.fromhex(digest)


def test_constants():
    assert ALGORITHM == "pbkdf2_sha256"
    assert DEFAULT_ITERATIONS == 210_000
    assert MAX_ITERATIONS == 2_000_000
    assert SALT_BYTES == 16


def test_default_format_and_value():
    stored = hash_password("correct horse")
    algorithm, iterations, salt, digest = _t_fields(stored)
    assert (algorithm, iterations, len(salt), len(digest)) == ("pbkdf2_sha256", 210_000, 16, 32)
    assert not needs_rehash(stored)


def test_salted():
    a = hash_password("same", iterations=1000)
    b = hash_password("same", iterations=1000)
    assert a != b
    assert _t_fields(a)[2] != _t_fields(b)[2]
    assert verify_password("same", a) and verify_password("same", b)


def test_verify_rejects_wrong_passwords():
    stored = hash_password("pässwörd", iterations=1000)
    algorithm, iterations, salt, digest = _t_fields(stored)
    assert digest == _t_hashlib.pbkdf2_hmac("sha256", "pässwörd".encode(), salt, 1000)
    assert verify_password("pässwörd", stored)
    for wrong in ("passwort", "Pässwörd", "pässwörd ", ""):
        assert not verify_password(wrong, stored)


def test_malformed_stored_values():
    good = hash_password("pw", iterations=1000)
    _, _, salt, digest = good.split("$")
    for bad in [
        "",
        "abc",
        _t_hashlib.sha1(b"pw").hexdigest(),
        f"pbkdf2_sha1$1000${salt}${digest}",
        f"pbkdf2_sha256$-5${salt}${digest}",
        f"pbkdf2_sha256$+1000${salt}${digest}",
        f"pbkdf2_sha256$1_000${salt}${digest}",
        f"pbkdf2_sha256$ 1000${salt}${digest}",
        f"pbkdf2_sha256$0${salt}${digest}",
        f"pbkdf2_sha256$abc${salt}${digest}",
        f"pbkdf2_sha256$1000$${digest}",
        f"pbkdf2_sha256$1000$zz${digest}",
        f"pbkdf2_sha256$1000${salt}$",
        f"pbkdf2_sha256$1000${salt}${digest}$extra",
    ]:
        assert verify_password("pw", bad) is False, bad
        assert needs_rehash(bad) is True, bad


def test_huge_iteration_count_rejected_fast():
    good = hash_password("pw", iterations=1000)
    _, _, salt, digest = good.split("$")
    started = _t_time.perf_counter()
    assert verify_password("pw", f"pbkdf2_sha256$2000001${salt}${digest}") is False
    assert verify_password("pw", f"pbkdf2_sha256$99999999999${salt}${digest}") is False
    assert _t_time.perf_counter() - started < 0.2


def test_uses_compare_digest():
    import hmac as _t_hmac

    calls = []
    original = _t_hmac.compare_digest

    def spy(a, b):
        calls.append(1)
        return original(a, b)

    # The answer's own namespace and the hmac/secrets modules it uses: in the sandbox the
    # tests run in another process, where these are references to the answer's objects.
    g = getattr(verify_password, "__globals__", globals())
    mods = [m for m in list(g.values()) if getattr(m, "__name__", None) in ("hmac", "secrets")]
    saved_mods = [(m, m.compare_digest) for m in mods if hasattr(m, "compare_digest")]
    saved = g.get("compare_digest")
    for m, _ in saved_mods:
        m.compare_digest = spy
    _t_hmac.compare_digest = spy
    if saved is not None:
        g["compare_digest"] = spy
    try:
        assert verify_password("pw", hash_password("pw", iterations=1000))
    finally:
        for m, f in saved_mods:
            m.compare_digest = f
        _t_hmac.compare_digest = original
        if saved is not None:
            g["compare_digest"] = saved
    assert calls, "verify_password must compare with hmac.compare_digest"


def test_iteration_bounds_and_rehash():
    for bad in (0, -1, 2_000_001):
        try:
            hash_password("pw", iterations=bad)
        except ValueError:
            continue
        raise AssertionError(f"iterations={bad} accepted")
    weak = hash_password("pw", iterations=1)
    assert verify_password("pw", weak)
    assert needs_rehash(weak)
    assert needs_rehash(hash_password("pw", iterations=9999))
"""

# --- config without eval ---------------------------------------------------------------------

_CONF_VULN = r"""
def parse_settings(text):
    settings = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, value = line.split("=", 1)
        settings[key.strip()] = eval(value)
    return settings
"""

_CONF_PROMPT = """
`parse_settings` below reads our `key = value` settings files with `eval`, so a settings
file can run arbitrary code. Rewrite `parse_settings(text: str) -> dict` without `eval`,
`exec` or `compile` of the value (use `ast.literal_eval`), with these rules:

- lines are stripped; blank lines and lines starting with `#` are skipped;
- every other line must contain `=`; the key is the stripped text before the first `=` and
  must match `[A-Za-z_][A-Za-z0-9_.]*`; a key may appear only once;
- the value (the stripped text after the first `=`) must be a Python literal of type `int`,
  `float`, `str`, `bool` or `None`, or a `list` whose items all are such scalars. Anything
  else — expressions, names, calls, dicts, sets, tuples, bytes, complex numbers, nested
  lists — is rejected;
- every problem raises `ValueError` whose message starts with `line <n>:` (1-based line
  number in `text`).
"""

_CONF_REF = r'''
from __future__ import annotations

import ast
import re

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_SCALARS = (bool, int, float, str, type(None))


def _checked(value: object, lineno: int) -> object:
    if isinstance(value, list):
        if all(isinstance(item, _SCALARS) for item in value):
            return value
        raise ValueError(f"line {lineno}: lists may only hold scalars")
    if isinstance(value, _SCALARS):
        return value
    raise ValueError(f"line {lineno}: unsupported value type {type(value).__name__}")


def parse_settings(text: str) -> dict[str, object]:
    """Parse ``key = literal`` lines safely (no code execution)."""
    settings: dict[str, object] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value_text = line.partition("=")
        if not sep:
            raise ValueError(f"line {lineno}: expected 'key = value'")
        key = key.strip()
        if not _KEY.fullmatch(key):
            raise ValueError(f"line {lineno}: invalid key {key!r}")
        if key in settings:
            raise ValueError(f"line {lineno}: duplicate key {key!r}")
        try:
            value = ast.literal_eval(value_text.strip())
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as exc:
            raise ValueError(f"line {lineno}: invalid value") from exc
        settings[key] = _checked(value, lineno)
    return settings
'''

_CONF_TESTS = r'''
import os


def _t_error_line(text):
    try:
        parse_settings(text)
    except ValueError as exc:
        return str(exc)
    return None


def test_valid_file():
    text = """
# service settings
name = 'api'
port = 8080
ratio=0.25
debug = True
owner = None
hosts = ["a", "b", 'c']
mixed = [1, 2.5, "x", False, None]
empty = []
db.url = "sqlite:///x=y"
neg = -3
"""
    assert parse_settings(text) == {
        "name": "api",
        "port": 8080,
        "ratio": 0.25,
        "debug": True,
        "owner": None,
        "hosts": ["a", "b", "c"],
        "mixed": [1, 2.5, "x", False, None],
        "empty": [],
        "db.url": "sqlite:///x=y",
        "neg": -3,
    }


def test_types_preserved():
    out = parse_settings("a = 1\nb = 1.0\nc = '1'\nd = False")
    assert [type(out[k]) for k in "abcd"] == [int, float, str, bool]


def test_code_is_never_executed():
    marker = "pwned_marker_file"
    attacks = [
        f"x = __import__('os').system('touch {marker}')",
        f"x = open('{marker}', 'w').write('1')",
        "x = (lambda: 1)()",
        "x = [c for c in 'abc']",
        "x = 10 ** 100",
        "x = 1 + 2",
        "x = os",
        "x = print",
    ]
    for attack in attacks:
        message = _t_error_line("ok = 1\n" + attack)
        assert message is not None and message.startswith("line 2:"), (attack, message)
    assert not os.path.exists(marker)


def test_disallowed_literals():
    for value in ["{'a': 1}", "{1, 2}", "(1, 2)", "b'raw'", "1+2j", "[1, [2]]", "[(1, 2)]",
                  "[{'a': 1}]"]:
        message = _t_error_line(f"# c\n\nkey = {value}")
        assert message is not None and message.startswith("line 3:"), (value, message)


def test_structure_errors():
    assert _t_error_line("a = 1\nno equals here").startswith("line 2:")
    assert _t_error_line("a = 1\n\na = 2").startswith("line 3:")
    assert _t_error_line("9lives = 1").startswith("line 1:")
    assert _t_error_line("bad-key = 1").startswith("line 1:")
    assert _t_error_line(" = 1").startswith("line 1:")
    assert _t_error_line("a =").startswith("line 1:")
    assert _t_error_line("a = 'unterminated").startswith("line 1:")


def test_blank_and_comments_only():
    assert parse_settings("") == {}
    assert parse_settings("\n   \n# only = comments\n  # indented comment") == {}
'''

# --- HTML escaping ---------------------------------------------------------------------------

_HTML_VULN = r"""
def render_comment(author, body, website=None):
    if website:
        who = f'<a href="{website}" rel="nofollow">{author}</a>'
    else:
        who = f"<span>{author}</span>"
    text = body.replace("\n", "<br>")
    return f'<div class="comment">{who}<p>{text}</p></div>'
"""

_HTML_PROMPT = """
Comments on our blog are rendered by `render_comment` below, which lets visitors inject
HTML and script (through the author name, the body, or a `javascript:` website link).
Rewrite it, keeping the output layout, and add a helper:

- `safe_href(url: str | None) -> str`: strip surrounding whitespace; if the result is an
  absolute URL whose scheme is `http` or `https` (case-insensitive, as parsed by
  `urllib.parse.urlsplit`) and which has a host, return it escaped with
  `html.escape(url, quote=True)`; otherwise (other schemes such as `javascript:`, `data:`,
  `vbscript:`, relative or scheme-relative URLs, empty or `None`) return `"#"`;
- `render_comment(author: str, body: str, website: str | None = None) -> str`: escape
  `author` and `body` with `html.escape(..., quote=True)`, then turn each newline of the
  escaped body into `<br>`; if `website` is `None` or empty the author is shown as
  `<span>author</span>`, otherwise as `<a href="HREF" rel="nofollow">author</a>` with
  `HREF = safe_href(website)`. The result is
  `<div class="comment">AUTHOR_PART<p>BODY</p></div>`.
"""

_HTML_REF = r'''
from __future__ import annotations

import html
from urllib.parse import urlsplit

_SAFE_SCHEMES = frozenset({"http", "https"})


def safe_href(url: str | None) -> str:
    """``url`` escaped for an href if it is an absolute http(s) URL, else ``"#"``."""
    if not url:
        return "#"
    candidate = url.strip()
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return "#"
    if parts.scheme.lower() not in _SAFE_SCHEMES or not parts.netloc:
        return "#"
    return html.escape(candidate, quote=True)


def render_comment(author: str, body: str, website: str | None = None) -> str:
    """One comment as HTML with every user-supplied value escaped."""
    name = html.escape(author, quote=True)
    text = html.escape(body, quote=True).replace("\n", "<br>")
    if website:
        who = f'<a href="{safe_href(website)}" rel="nofollow">{name}</a>'
    else:
        who = f"<span>{name}</span>"
    return f'<div class="comment">{who}<p>{text}</p></div>'
'''

_HTML_TESTS = r"""
def test_plain():
    assert render_comment("Ann", "Hi") == '<div class="comment"><span>Ann</span><p>Hi</p></div>'
    assert render_comment("Ann", "Hi", "") == render_comment("Ann", "Hi", None)


def test_script_in_body_and_author():
    out = render_comment('Tom & "Jerry"', "<script>alert('x')</script>")
    assert out == (
        '<div class="comment"><span>Tom &amp; &quot;Jerry&quot;</span>'
        "<p>&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;</p></div>"
    )
    assert "<script>" not in render_comment("<script>x</script>", "b", "https://a.example")


def test_newlines_after_escaping():
    out = render_comment("A", "line1\nline2<br>\n")
    assert out == '<div class="comment"><span>A</span><p>line1<br>line2&lt;br&gt;<br></p></div>'


def test_safe_link():
    out = render_comment("Bo", "x", "https://example.com/?a=1&b=2")
    assert out == (
        '<div class="comment"><a href="https://example.com/?a=1&amp;b=2" rel="nofollow">Bo</a>'
        "<p>x</p></div>"
    )
    assert safe_href("  http://e.example/path  ") == "http://e.example/path"
    assert safe_href("HTTP://EXAMPLE.COM") == "HTTP://EXAMPLE.COM"


def test_attribute_breakout_escaped():
    href = safe_href('https://x.example/" onmouseover="alert(1)')
    assert href == "https://x.example/&quot; onmouseover=&quot;alert(1)"
    out = render_comment("E", "b", "https://x.example/'><script>")
    assert "<script>" not in out and "'>" not in out


def test_dangerous_schemes_neutralised():
    for url in [
        "javascript:alert(1)",
        " JaVaScRiPt:alert(1)",
        "java\tscript:alert(1)",
        "\x01javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "//evil.example/x",
        "/relative/path",
        "https:no-host",
        "ftp://files.example/x",
        "   ",
        None,
        "",
    ]:
        assert safe_href(url) == "#", url
    out = render_comment("M", "b", "javascript:alert(1)")
    assert out == '<div class="comment"><a href="#" rel="nofollow">M</a><p>b</p></div>'
"""

TASKS: list[Task] = [
    make_task(
        category=_CAT,
        name="sql_injection",
        difficulty=0.0,
        entry_point="search_users",
        instructions=_SQL_PROMPT,
        code=_SQL_VULN,
        reference=_SQL_REF,
        tests=_SQL_TESTS,
        tags=["sql-injection", "sqlite3", "like-escaping", "cwe-89"],
    ),
    make_task(
        category=_CAT,
        name="path_traversal",
        difficulty=0.9,
        entry_point="safe_join",
        instructions=_PATH_PROMPT,
        code=_PATH_VULN,
        reference=_PATH_REF,
        tests=_PATH_TESTS,
        tags=["path-traversal", "symlinks", "cwe-22"],
    ),
    make_task(
        category=_CAT,
        name="hmac_tokens",
        difficulty=0.6,
        entry_point="check_token",
        instructions=_HMAC_PROMPT,
        code=_HMAC_VULN,
        reference=_HMAC_REF,
        tests=_HMAC_TESTS,
        tags=["hmac", "constant-time", "tokens", "cwe-208"],
    ),
    make_task(
        category=_CAT,
        name="password_hashing",
        difficulty=0.6,
        entry_point="verify_password",
        instructions=_PW_PROMPT,
        code=_PW_VULN,
        reference=_PW_REF,
        tests=_PW_TESTS,
        tags=["pbkdf2", "salt", "constant-time", "cwe-916"],
    ),
    make_task(
        category=_CAT,
        name="config_without_eval",
        difficulty=0.3,
        entry_point="parse_settings",
        instructions=_CONF_PROMPT,
        code=_CONF_VULN,
        reference=_CONF_REF,
        tests=_CONF_TESTS,
        tags=["eval", "literal_eval", "code-injection", "cwe-95"],
    ),
    make_task(
        category=_CAT,
        name="html_escaping",
        difficulty=-0.2,
        entry_point="render_comment",
        instructions=_HTML_PROMPT,
        code=_HTML_VULN,
        reference=_HTML_REF,
        tests=_HTML_TESTS,
        tags=["xss", "html-escaping", "url-schemes", "cwe-79"],
    ),
]
