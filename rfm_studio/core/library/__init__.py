"""The sound library: index folders of sound files, search them by text, and place a
library sound into a clip ("Add X", "Replace A with B").

Headless: no GUI imports. See index.py (SQLite index), meta.py (tag readers), describe.py
(descriptions, UCS names), embed.py (MiniLM text embeddings), place.py (rendering the added
sound into the scene) and prompted.py (the add / replace edits).
"""

from .index import Hit, Library, ScanReport, default_db_path

__all__ = ["Hit", "Library", "ScanReport", "default_db_path"]
