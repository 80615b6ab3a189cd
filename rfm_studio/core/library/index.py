"""The sound library index: an SQLite database in the user data folder.

Tables: ``folders`` (indexed roots), ``files`` (one row per sound: path, size, mtime, length,
format, description), ``texts`` (each distinct search text once, with its MiniLM embedding as a
float32 blob, filled lazily on the first search) and ``fts`` (an FTS5 keyword index, the
fallback when the encoder cannot load). WAL journal; a scan commits every ``BATCH`` files, so a
killed scan leaves a consistent index that the next scan completes; the starter library is
indexed in one transaction with its folder (no one sees it half made).
Re-scans read only files whose (path, size, mtime) changed.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import OptionError
from ..instructions import NO_SOUND_WORDS
from .describe import describe
from .meta import AUDIO_EXTS, read_meta

BATCH = 500
# A search embeds at most this many new descriptions itself; a larger backlog (a big folder just
# added) is searched by keywords until `embed_pending` has run (library add/refresh run it).
SEARCH_EMBED_MAX = 512
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS folders(id INTEGER PRIMARY KEY, path TEXT UNIQUE NOT NULL, starter INTEGER NOT NULL DEFAULT 0,
                                   added REAL);
CREATE TABLE IF NOT EXISTS texts(id INTEGER PRIMARY KEY, text TEXT UNIQUE NOT NULL, emb BLOB);
CREATE TABLE IF NOT EXISTS files(id INTEGER PRIMARY KEY, folder INTEGER NOT NULL, path TEXT UNIQUE NOT NULL,
                                 size INTEGER, mtime_ns INTEGER, duration REAL, sample_rate INTEGER, channels INTEGER,
                                 description TEXT, text_id INTEGER);
CREATE INDEX IF NOT EXISTS files_folder ON files(folder);
CREATE INDEX IF NOT EXISTS files_text ON files(text_id);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(search, tokenize='unicode61 remove_diacritics 2');
"""
# a keyword search's stop words: the words that name no sound (instructions.NO_SOUND_WORDS: "sounds like
# this", "that one") but those a sound library's names use ("8-bit", "one-shot", "drum part"), and the
# library's own (the verbs of an "Add X" and the words around its sound)
LIBRARY_WORDS = frozenset({"bit", "bits", "one", "ones", "part", "parts"})
LIBRARY_STOP = frozenset({"add", "insert", "put", "with", "and", "in", "on", "to", "into", "at", "for", "by", "from",
                          "please", "noise", "background"})
STOP = (NO_SOUND_WORDS - LIBRARY_WORDS) | LIBRARY_STOP


@dataclass(frozen=True)
class Hit:
    path: str
    description: str
    duration: float
    score: float
    folder: str = ""


@dataclass(frozen=True)
class ScanReport:
    folder: str
    added: int
    updated: int
    removed: int
    unchanged: int
    failed: int
    seconds: float


def default_db_path() -> Path:
    from ..paths import user_data_dir

    return user_data_dir() / "library.sqlite"


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"\w+", text.lower()) if w not in STOP and not w.isdigit()]


def _stem(w: str) -> str:
    for suf in ("ing", "ers", "er", "es", "ed", "s"):
        if len(w) - len(suf) >= 3 and w.endswith(suf):
            return w[: -len(suf)]
    return w


class Library:
    """One open index. Safe to use from one thread at a time per object; several processes
    may share the database file (WAL)."""

    def __init__(self, db_path: Path | str | None = None, starter: bool = True):
        self.path = Path(db_path) if db_path is not None else default_db_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self._cache = None  # (generation, text ids, matrix)
        self._lock = threading.RLock()
        self.mode = "embeddings"
        if starter:
            self.ensure_starter()

    @contextlib.contextmanager
    def _tx(self):
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------- folders
    def _get(self, key, default=None):
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def _set(self, key, value) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", (key, str(value)))

    def _bump(self) -> None:
        self._set("generation", int(self._get("generation", 0)) + 1)

    def ensure_starter(self):
        """Index the shipped starter library once (again if the app moved), unless the user removed
        it. The folder and all its files are committed in one transaction (``starter_done`` set
        with them), so another connection never sees the starter folder without its files: an
        "Add X" in the app's edit job, opening its own connection while the panel's indexes the
        starter on first use, waits for it and then finds the sound."""
        from .starter import starter_dir

        d = starter_dir()
        if d is None or self._get("starter_removed") == "1":
            return None
        path = str(d.resolve())
        if self._starter_done(path):
            return None
        with self._lock, self._tx():  # one indexer at a time; the others wait here, then see it done
            if self._get("starter_removed") == "1" or self._starter_done(path):
                return None
            row = self.db.execute("SELECT id, path FROM folders WHERE starter=1").fetchone()
            if row and row[1] != path:  # the app moved: forget the old copy
                self._forget_folder(row[0])
            rep = None  # inside a folder the user indexed: its files are indexed with that folder
            if self._enclosing(path) is None:
                self._claim_folder(path, True)
                rep = self._scan_tx(path, None, None, batch=None)
            self._set("starter_removed", "0")
            self._set("starter_done", path)
            self._bump()
        return rep

    def _starter_done(self, path: str) -> bool:
        """Whether the starter at ``path`` was indexed whole, as the starter folder or inside a
        folder the user indexed (and that folder is still there)."""
        if self._get("starter_done") != path:
            return False
        row = self.db.execute("SELECT path FROM folders WHERE starter=1").fetchone()
        return (bool(row) and row[0] == path) or self._enclosing(path) is not None

    def folders(self) -> list[tuple[str, int, bool]]:
        """[(folder, files, is the starter library)]."""
        rows = self.db.execute("SELECT f.path, f.starter, (SELECT count(*) FROM files WHERE folder=f.id) "
                               "FROM folders f ORDER BY f.starter DESC, f.path").fetchall()
        return [(p, int(n), bool(s)) for p, s, n in rows]

    def count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM files").fetchone()[0])

    def add_folder(self, folder, cancel=None, progress=None) -> ScanReport:
        """Index (or re-index) every audio file under ``folder``."""
        d = Path(folder).expanduser()
        if not d.is_dir():
            raise OptionError(f"{folder} is not a folder." if d.exists() else f"Folder not found: {folder}")
        root = str(d.resolve())
        with self._lock:
            outer = self._enclosing(root)
            if outer is not None:
                return self.scan(outer, cancel=cancel, progress=progress)  # already inside an indexed folder
            with self._tx():
                self._claim_folder(root, False)
            return self.scan(root, cancel=cancel, progress=progress)

    def _enclosing(self, root: str) -> str | None:
        """The indexed folder that ``root`` lies inside (not ``root`` itself), if any."""
        for (p,) in self.db.execute("SELECT path FROM folders").fetchall():
            if root != p and root.startswith(p.rstrip(os.sep) + os.sep):
                return p
        return None

    def _claim_folder(self, root: str, starter: bool) -> int:
        """Inside a transaction: the folder row of ``root`` (made, or marked the starter), with the
        indexed folders inside it merged into it; its id."""
        self.db.execute("INSERT OR IGNORE INTO folders(path, starter, added) VALUES(?, ?, ?)",
                        (root, int(starter), time.time()))
        if starter:
            self.db.execute("UPDATE folders SET starter=1 WHERE path=?", (root,))
        fid = self.db.execute("SELECT id FROM folders WHERE path=?", (root,)).fetchone()[0]
        for sid, sp in self.db.execute("SELECT id, path FROM folders WHERE path LIKE ? AND id != ?",
                                       (root.rstrip(os.sep) + os.sep + "%", fid)).fetchall():
            self.db.execute("UPDATE files SET folder=? WHERE folder=?", (fid, sid))
            self.db.execute("DELETE FROM folders WHERE id=?", (sid,))
        return fid

    def remove_folder(self, folder, forget_starter: bool = True) -> int:
        """Forget a folder and its files (the files themselves are not touched); returns how many."""
        p = str(folder)
        rows = self.db.execute("SELECT id, path, starter FROM folders").fetchall()
        hit = [r for r in rows if r[1] == p] or [r for r in rows if r[1] == str(Path(p).expanduser().resolve())]
        if not hit and p.lower() == "starter":
            hit = [r for r in rows if r[2]]
        if not hit:
            raise OptionError(f"{folder} is not in the library (see 'rfm-studio library list').")
        fid, _, starter = hit[0]
        with self._lock, self._tx():
            n = self._forget_folder(fid)
            if starter and forget_starter:
                self._set("starter_removed", "1")
            self._bump()
        return int(n)

    def _forget_folder(self, fid: int) -> int:
        """Inside a transaction: drop a folder's row, its files and texts no file uses; how many files."""
        n = self.db.execute("SELECT count(*) FROM files WHERE folder=?", (fid,)).fetchone()[0]
        self.db.execute("DELETE FROM fts WHERE rowid IN (SELECT id FROM files WHERE folder=?)", (fid,))
        self.db.execute("DELETE FROM files WHERE folder=?", (fid,))
        self.db.execute("DELETE FROM folders WHERE id=?", (fid,))
        self.db.execute("DELETE FROM texts WHERE id NOT IN (SELECT DISTINCT text_id FROM files "
                        "WHERE text_id IS NOT NULL)")
        return int(n)

    def refresh(self, cancel=None) -> list[ScanReport]:
        return [self.scan(p, cancel=cancel) for p, _, _ in self.folders()]

    # ------------------------------------------------------------- scanning
    def _walk(self, root: str):
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith(".") or not name.lower().endswith(AUDIO_EXTS):
                    continue
                yield os.path.join(dirpath, name)

    def _text_id(self, text: str) -> int:
        self.db.execute("INSERT OR IGNORE INTO texts(text) VALUES(?)", (text,))
        return self.db.execute("SELECT id FROM texts WHERE text=?", (text,)).fetchone()[0]

    def scan(self, root: str, cancel=None, progress=None) -> ScanReport:
        """Index the files under the indexed folder ``root`` (committed every BATCH files)."""
        with self._lock, self._tx():
            rep = self._scan_tx(root, cancel, progress, batch=BATCH)
            self._bump()
        return rep

    def _scan_tx(self, root: str, cancel, progress, batch: int | None) -> ScanReport:
        """Inside a write transaction: index ``root``'s files; with ``batch``, commit (and begin
        again) every that many files, else all in the caller's transaction."""
        t0 = time.perf_counter()
        fid = self.db.execute("SELECT id FROM folders WHERE path=?", (root,)).fetchone()[0]
        known = {p: (i, s, m) for i, p, s, m in
                 self.db.execute("SELECT id, path, size, mtime_ns FROM files WHERE folder=?", (fid,))}
        added = updated = unchanged = failed = 0
        seen = set()
        pending = 0
        for i, path in enumerate(self._walk(root)):
            if cancel is not None and cancel.cancelled:
                break
            if progress is not None and i % 200 == 0:
                progress(i)
            try:
                path.encode("utf-8")
                st = os.stat(path)
            except (UnicodeEncodeError, OSError):
                failed += 1
                continue
            seen.add(path)
            old = known.get(path)
            if old is not None and old[1] == st.st_size and old[2] == st.st_mtime_ns:
                unchanged += 1
                continue
            try:
                meta = read_meta(path)
            except Exception:
                failed += 1
                seen.discard(path)
                continue
            desc, search = describe(Path(path), meta, Path(root))
            tid = self._text_id(search)
            row = (fid, path, st.st_size, st.st_mtime_ns, meta.duration, meta.sample_rate, meta.channels,
                   desc, tid)
            if old is None:
                cur = self.db.execute("INSERT INTO files(folder, path, size, mtime_ns, duration, sample_rate, "
                                      "channels, description, text_id) VALUES(?,?,?,?,?,?,?,?,?)", row)
                self.db.execute("INSERT INTO fts(rowid, search) VALUES(?, ?)", (cur.lastrowid, search))
                added += 1
            else:
                self.db.execute("UPDATE files SET folder=?, path=?, size=?, mtime_ns=?, duration=?, "
                                "sample_rate=?, channels=?, description=?, text_id=? WHERE id=?", row + (old[0],))
                self.db.execute("DELETE FROM fts WHERE rowid=?", (old[0],))
                self.db.execute("INSERT INTO fts(rowid, search) VALUES(?, ?)", (old[0], search))
                updated += 1
            pending += 1
            if batch is not None and pending >= batch:
                self._bump()
                self.db.execute("COMMIT")
                self.db.execute("BEGIN IMMEDIATE")
                pending = 0
        gone = [] if (cancel is not None and cancel.cancelled) else [v[0] for p, v in known.items()
                                                                        if p not in seen]
        for j in range(0, len(gone), 900):
            ids = gone[j:j + 900]
            q = ",".join("?" * len(ids))
            self.db.execute(f"DELETE FROM fts WHERE rowid IN ({q})", ids)
            self.db.execute(f"DELETE FROM files WHERE id IN ({q})", ids)
        if gone or updated:
            self.db.execute("DELETE FROM texts WHERE id NOT IN (SELECT DISTINCT text_id FROM files "
                            "WHERE text_id IS NOT NULL)")
        return ScanReport(root, added, updated, len(gone), unchanged, failed, time.perf_counter() - t0)

    # ------------------------------------------------------------- search
    def embed_pending(self, cancel=None, limit: int | None = None) -> int:
        """Embed the search texts that have no embedding yet (batched; each batch committed);
        with ``limit``, stop once that many are done (the rest wait for the next call)."""
        from .embed import embed

        done = 0
        with self._lock:
            while True:
                rows = self.db.execute("SELECT id, text FROM texts WHERE emb IS NULL LIMIT 512").fetchall()
                if not rows or (cancel is not None and cancel.cancelled) or (limit is not None and done >= limit):
                    return done
                vecs = embed([t for _, t in rows])
                with self._tx():
                    self.db.executemany("UPDATE texts SET emb=? WHERE id=?",
                                        [(v.astype(np.float32).tobytes(), i) for (i, _), v in zip(rows, vecs)])
                    self._bump()
                done += len(rows)

    def unembedded(self) -> int:
        """How many search texts have no embedding yet (``embed_pending`` makes them)."""
        return int(self.db.execute("SELECT COUNT(*) FROM texts WHERE emb IS NULL").fetchone()[0])

    def _matrix(self):
        gen = self._get("generation", 0)
        if self._cache is None or self._cache[0] != gen:
            rows = self.db.execute("SELECT id, emb FROM texts WHERE emb IS NOT NULL").fetchall()
            ids = np.array([r[0] for r in rows], dtype=np.int64)
            m = (np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
                 if rows else np.zeros((0, 384), np.float32))
            self._cache = (gen, ids, m)
        return self._cache[1], self._cache[2]

    def search(self, query: str, limit: int = 10, load_encoder: bool = True, vector=None) -> list[Hit]:
        """The files best matching ``query``: embeddings when the encoder loads, else keywords.
        ``vector``: the query's embedding made elsewhere (``embed([query])[0]``; the app makes it
        in its model's worker, where torch runs). ``load_encoder=False`` (a search that must
        answer at once, on a thread that never runs the encoder): never loads the encoder, never
        embeds the query nor descriptions: keywords unless ``vector`` is given and
        ``unembedded()`` is 0 (``embed_pending`` is for a thread that may wait)."""
        query = (query or "").strip()
        if not query:
            return []
        with self._lock:
            pending = self.unembedded()
            if pending > SEARCH_EMBED_MAX or not (load_encoder or (vector is not None and not pending)):
                self.mode = "keywords"
                return self.keyword_search(query, limit)
            try:
                from .embed import embed

                if pending:
                    self.embed_pending()
                q = embed([query])[0] if vector is None else np.asarray(vector, np.float32)
                self.mode = "embeddings"
            except Exception as exc:
                from .embed import EncoderUnavailable

                if not isinstance(exc, EncoderUnavailable):
                    raise
                self.mode = "keywords"
                return self.keyword_search(query, limit)
            ids, m = self._matrix()
            if len(ids) == 0:
                return []
            scores = m @ q
            k = min(len(ids), max(limit * 4, 40))
            top = np.argpartition(-scores, k - 1)[:k]
            text_score = {int(ids[i]): float(scores[i]) for i in top}
            qw = {_stem(w) for w in _words(query)}
            hits = []
            qs = ",".join("?" * len(text_score))
            for path, desc, dur, tid, text, folder in self.db.execute(
                    f"SELECT f.path, f.description, f.duration, f.text_id, t.text, d.path FROM files f "
                    f"JOIN texts t ON t.id=f.text_id JOIN folders d ON d.id=f.folder WHERE f.text_id IN ({qs})",
                    list(text_score)):
                words = {_stem(w) for w in _words(text)}
                bonus = 0.15 * (len(qw & words) / len(qw)) if qw else 0.0
                hits.append(Hit(path, desc, float(dur or 0.0), text_score[tid] + bonus, folder))
            hits.sort(key=lambda h: (-h.score, h.path))
            return hits[:limit]

    def keyword_search(self, query: str, limit: int = 10) -> list[Hit]:
        # only stop words ("background noise"): those that may name a sound, else none ("sounds like this")
        words = [_stem(w) for w in _words(query)] or [w for w in re.findall(r"\w+", query.lower())
                                                      if w not in NO_SOUND_WORDS]
        if not words:
            return []
        expr = " OR ".join(f'"{w}"*' for w in dict.fromkeys(words))
        rows = self.db.execute(
            "SELECT f.path, f.description, f.duration, bm25(fts), d.path FROM fts JOIN files f ON f.id=fts.rowid "
            "JOIN folders d ON d.id=f.folder WHERE fts MATCH ? ORDER BY bm25(fts) LIMIT ?", (expr, limit)).fetchall()
        return [Hit(p, desc, float(dur or 0.0), -float(s), folder) for p, desc, dur, s, folder in rows]

    def describe_file(self, path) -> Hit | None:
        row = self.db.execute("SELECT f.path, f.description, f.duration, d.path FROM files f JOIN folders d "
                              "ON d.id=f.folder WHERE f.path=?", (str(path),)).fetchone()
        return Hit(row[0], row[1], float(row[2] or 0), 1.0, row[3]) if row else None
