"""Sound library speed: index a synthetic folder of 10,000 small audio files with varied names
and tags, search it, and re-index after 10 files change.

    python benchmarks/library_speed.py [--files 10000] [--folder /work/data/libbench]

Targets (issue 17): indexing 10,000 files <= 60 s, search <= 50 ms, re-index after 10 changed
files <= 2 s. The folder is generated once (WAV with BWF bext / iXML / INFO chunks, FLAC and
Ogg with Vorbis comments, MP3 with ID3v2, AIFF; UCS and plain names, unicode) and reused. The
index is a fresh database each run. Embeddings are computed lazily: a search with more than
SEARCH_EMBED_MAX descriptions waiting answers from keywords, so the descriptions are embedded
once first (``embed_pending``, timed on its own line; the app does it in its model worker) and the
searches after it use the embeddings (each line says which it used).
"""

from __future__ import annotations

import argparse
import os
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SR = 16000
NOUNS = ["dog bark", "cat meow", "door slam", "glass break", "footsteps gravel", "rain on roof", "thunder clap",
         "car horn", "bird chirp", "wind gust", "fire crackle", "water drip", "engine idle", "crowd cheer",
         "bell toll", "phone ring", "typing keyboard", "helicopter pass", "train horn", "siren wail", "cow moo",
         "horse gallop", "sheep bleat", "owl hoot", "frog croak", "wolf howl", "crow caw", "seagull cry",
         "chainsaw cut", "hammer hit", "drill whine", "whoosh", "laser zap", "explosion boom", "gunshot",
         "punch impact", "paper rustle", "zipper", "coin drop", "ice clink", "kettle whistle", "clock tick",
         "baby cry", "cough", "sneeze", "laughter", "applause", "heartbeat", "ocean waves", "stream babble"]
ADJ = ["close", "distant", "soft", "hard", "wet", "dry", "metallic", "wooden", "heavy", "light", "fast", "slow",
       "indoor", "outdoor", "small", "large", "short", "long", "muffled", "bright", "ÉTÉ", "große", "ñandú"]
UCS = ["ANMLDog", "ANMLCat", "DOORWood", "GLASBrk", "FEETHmn", "RAINMetl", "WTHRThun", "VEHHorn", "BIRDSong",
       "WINDGust", "FIREBurn", "WATRDrip", "MOTREngn", "CROWDCheer", "BELLLrg", "TELRing", "COMPKey", "AEROHeli"]


def chunk(cid: bytes, data: bytes) -> bytes:
    return cid + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) & 1 else b"")


def bwf_bytes(x: np.ndarray, desc: str, keywords: str) -> bytes:
    pcm = (x * 32767).astype("<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, SR, SR * 2, 2, 16)
    bext = desc.encode("utf-8")[:256].ljust(602, b"\x00")
    ixml = f"<BWFXML><NOTE>{desc}</NOTE><USER>KEYWORDS={keywords}</USER></BWFXML>".encode("utf-8")
    info = b"INFO" + chunk(b"INAM", desc.encode("utf-8") + b"\x00")
    body = b"WAVE" + chunk(b"fmt ", fmt) + chunk(b"bext", bext) + chunk(b"iXML", ixml) + chunk(b"LIST", info) \
        + chunk(b"data", pcm)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def id3(title: str, comment: str) -> bytes:
    def frame(fid, payload):
        return fid.encode() + struct.pack(">I", len(payload)) + b"\x00\x00" + payload

    out = frame("TIT2", b"\x03" + title.encode()) + frame("COMM", b"\x03eng\x00" + comment.encode())
    n = len(out)
    return b"ID3\x03\x00\x00" + bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F]) + out


def make_folder(folder: Path, n: int, seed: int = 0) -> None:
    import soundfile as sf

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    x = (0.1 * rng.standard_normal(int(0.1 * SR))).astype(np.float32)
    mp3 = None
    for i in range(n):
        noun = NOUNS[rng.integers(len(NOUNS))]
        adj = ADJ[rng.integers(len(ADJ))]
        desc = f"{noun}, {adj}, take {i}"
        sub = folder / f"pack {i % 40:02d}" / ("ambience" if i % 3 == 0 else "fx")
        sub.mkdir(parents=True, exist_ok=True)
        kind = i % 20
        if kind < 13:  # WAV with bext / iXML / INFO; half with UCS names
            name = (f"{UCS[rng.integers(len(UCS))]}_{noun.title().replace(' ', '')} {adj}_{i:05d}_BENCH.wav"
                    if i % 2 else f"{noun.replace(' ', '_')}-{adj}-{i:05d}.wav")
            (sub / name).write_bytes(bwf_bytes(x, desc, f"{noun}, {adj}"))
        elif kind < 16:
            with sf.SoundFile(str(sub / f"{noun} {adj} {i:05d}.flac"), "w", SR, 1, format="FLAC") as f:
                f.title, f.comment = desc, f"{adj} {noun}"
                f.write(x)
        elif kind < 18:
            with sf.SoundFile(str(sub / f"{noun} ({adj}) {i:05d}.ogg"), "w", SR, 1, format="OGG") as f:
                f.title = desc
                f.write(x)
        elif kind < 19:
            if mp3 is None:
                tmp = Path(tempfile.mkdtemp()) / "x.mp3"
                sf.write(tmp, x, SR, format="MP3")
                mp3 = tmp.read_bytes()
            (sub / f"{noun.replace(' ', '')}_{i:05d}.mp3").write_bytes(id3(desc, adj) + mp3)
        else:
            sf.write(sub / f"{noun} {adj} {i:05d}.aiff", x, SR, format="AIFF", subtype="PCM_16")


def main(argv=None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from rfm_studio.core.library import Library

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--folder", type=Path, default=Path("/work/data/libbench"))
    args = ap.parse_args(argv)
    folder = args.folder / f"synthetic-{args.files}"
    if not (folder / ".complete").exists():
        t = time.perf_counter()
        make_folder(folder, args.files)
        (folder / ".complete").write_text("ok")
        print(f"generated {args.files} files in {time.perf_counter() - t:.1f} s -> {folder}")
    db = Path(tempfile.mkdtemp()) / "library.sqlite"
    lib = Library(db, starter=False)
    t = time.perf_counter()
    rep = lib.add_folder(folder)
    t_index = time.perf_counter() - t
    n_texts = lib.db.execute("SELECT count(*) FROM texts").fetchone()[0]
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall times grow with it)")
    print(f"index {rep.added} files ({rep.failed} unreadable, {n_texts} distinct descriptions): "
          f"{t_index:.2f} s  (target <= 60 s)")
    from rfm_studio.core.library.embed import EncoderUnavailable
    from rfm_studio.core.library.index import SEARCH_EMBED_MAX

    waiting = lib.unembedded()
    t, c = time.perf_counter(), time.process_time()
    lib.search("warm-up")  # over SEARCH_EMBED_MAX descriptions waiting: keywords; else it embeds them all
    print(f"first search, {waiting} descriptions not embedded yet: {time.perf_counter() - t:.2f} s "
          f"({time.process_time() - c:.2f} s CPU, {lib.mode}"
          + (", loading the encoder and embedding them" if waiting <= SEARCH_EMBED_MAX else "") + ")")
    t, c = time.perf_counter(), time.process_time()
    try:
        done = lib.embed_pending()  # the app does this in its model worker, 512 at a time
    except EncoderUnavailable as exc:
        print(f"the text encoder could not load ({exc}): keyword search only")
        done = 0
    if done:
        print(f"embed {done} descriptions (once, loads the encoder): {time.perf_counter() - t:.1f} s "
              f"({time.process_time() - c:.1f} s CPU)")
    queries = ["a dog barking", "birds chirping", "rain on a tin roof", "thunder", "car horn", "footsteps on gravel",
               "glass breaking", "a helicopter passing", "distant siren", "someone coughing"] * 3
    times, cpu, modes = [], [], set()
    for q in queries:
        t, c = time.perf_counter(), time.process_time()
        lib.search(q, 10)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        modes.add(lib.mode)
    print(f"search ({len(queries)} queries, {'/'.join(sorted(modes))}): median {1000 * statistics.median(times):.1f} ms, "
          f"max {1000 * max(times):.1f} ms wall; median {1000 * statistics.median(cpu):.1f} ms CPU "
          f"(target <= 50 ms); 'a dog barking' -> {Path(lib.search('a dog barking', 1)[0].path).name}")
    kt = []
    for q in queries:
        t = time.perf_counter()
        lib.keyword_search(q, 10)
        kt.append(time.perf_counter() - t)
    print(f"keyword search: median {1000 * statistics.median(kt):.1f} ms, max {1000 * max(kt):.1f} ms")
    # ten files change: new tags, new content
    changed = sorted(folder.rglob("*.wav"))[:10]
    rng = np.random.default_rng(1)
    backup = [(p, p.read_bytes(), p.stat()) for p in changed]
    try:
        for p in changed:
            p.write_bytes(bwf_bytes((0.1 * rng.standard_normal(SR // 10)).astype(np.float32),
                                    "a creaking wooden ship mast", "ship, creak"))
            os.utime(p, ns=(time.time_ns(), time.time_ns() + 2 * 10**9))
        t = time.perf_counter()
        rep = lib.add_folder(folder)
        t_re = time.perf_counter() - t
        t = time.perf_counter()
        top = lib.search("creaking ship mast", 10)
        t_s = time.perf_counter() - t
        print(f"re-index after 10 changed files: {t_re:.2f} s ({rep.updated} updated, {rep.unchanged} unchanged; "
              f"target <= 2 s); next search embeds the new text: {1000 * t_s:.0f} ms ({lib.mode}); "
              f"{sum(Path(h.path) in set(changed) for h in top)}/10 changed files in its top 10")
    finally:
        for p, data, st in backup:
            p.write_bytes(data)
            os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    lib.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
