"""Every bad input of issue 19's hostile-input items (2, 3, 7, 8, 10), run against each command.

    python benchmarks/bad_inputs.py            # in-process (cli.main), about a minute
    python benchmarks/bad_inputs.py --subprocess   # each case as `python -m rfm_studio ...`

Prints a table: command, bad inputs tried, clean. A case is clean when the command exits 2 with
exactly one sentence on stderr and no traceback, and nothing under the work folder changed (the
user cache and log folders aside). For `models verify`, exit 1 with FAIL lines is also clean
(it reports, it does not refuse). ``rows()`` returns the table for benchmarks/reliability.py.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # this checkout's rfm_studio, not another install's

from rfm_studio.core.envvars import temporary_env  # noqa: E402


class _Boom:  # a pickle that would leave a mark if it were ever loaded
    def __init__(self, mark):
        self.mark = mark

    def __reduce__(self):
        return (os.system, (f"touch {self.mark}",))


def _tiny_bundle(dst: Path) -> Path:
    from rfm_studio.core.model.factory import build_tiny, minilm_encoder

    build_tiny(text=minilm_encoder()).save_pretrained(dst)
    return dst


def _remanifest(b):
    from rfm_studio.core.model.manifest import write_manifest

    write_manifest(b)


def _json_edit(path: Path, **changes):
    d = json.loads(path.read_text(encoding="utf-8"))
    d.update(changes)
    path.write_text(json.dumps(d))


def _flip(path: Path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))


def _bad_bundles(good: Path, root: Path, mark: Path) -> dict[str, Path]:
    """name -> a broken copy of ``good``."""
    fixes = {
        "links '..' inside (grows forever when followed)": lambda b: (os.symlink("..", b / "unet" / "up"),
                                                                     os.symlink("../..", b / "vae" / "up2")),
        "link to /etc/passwd": lambda b: os.symlink("/etc/passwd", b / "unet" / "notes.txt"),
        "link to /etc/passwd, listed in the manifest": lambda b: (os.symlink("/etc/passwd", b / "unet" / "notes.txt"),
                                                                  _remanifest(b)),
        "link loop": lambda b: (os.symlink("l2", b / "unet" / "l1"), os.symlink("l1", b / "unet" / "l2")),
        "fifo": lambda b: os.mkfifo(b / "unet" / "pipe"),
        "unlisted pickle .bin": lambda b: (b / "unet" / "pytorch_model.bin").write_bytes(pickle.dumps(_Boom(mark))),
        "text encoder base /etc": lambda b: (_json_edit(b / "text_encoder" / "rfm_text_encoder.json", base="/etc"),
                                             _remanifest(b)),
        "text encoder base ../..": lambda b: (_json_edit(b / "text_encoder" / "rfm_text_encoder.json", base="../.."),
                                              _remanifest(b)),
        "path field outside (vae stats_file)": lambda b: (_json_edit(b / "vae" / "config.json",
                                                                     stats_file="/etc/passwd"), _remanifest(b)),
        "flipped byte in safetensors": lambda b: _flip(b / "unet" / "model.safetensors"),
        "unknown key in vocoder/config.json": lambda b: (_json_edit(b / "vocoder" / "config.json", nope=1),
                                                         _remanifest(b)),
        "model_index.json holds a list": lambda b: (b / "model_index.json").write_text("[1, 2]"),
        "NUL byte in manifest": lambda b: (b / "manifest.json").write_bytes(b'{"files": {"a\x00b": 1}}'),
        "escaped NUL in a manifest path": lambda b: (b / "manifest.json").write_text(
            json.dumps({"files": {"a\u0000b": {"sha256": "0" * 64, "size": 1}}})),
        "invalid UTF-8 in manifest": lambda b: (b / "manifest.json").write_bytes(b'{"files": {"\xff\xfe": 1}}'),
        "manifest nested 100000 deep": lambda b: (b / "manifest.json").write_text("[" * 100000 + "]" * 100000),
        "no manifest": lambda b: (b / "manifest.json").unlink(),
    }
    out = {}
    for i, (name, fix) in enumerate(fixes.items()):
        b = shutil.copytree(good, root / f"bundle{i}")
        fix(b)
        out[name] = b
    return out


def _snapshot(root: Path, skip: tuple[Path, ...]) -> dict:
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        d = Path(dirpath)
        if any(d == s or s in d.parents for s in skip):
            dirnames[:] = []
            continue
        for n in dirnames + filenames:
            p = d / n
            if p in skip:
                continue
            try:
                st = os.lstat(p)
            except OSError:
                continue
            # a folder's own mtime moves when a temporary entry comes and goes: only what it holds counts
            snap[str(p)] = (st.st_mode, 0, 0) if os.path.isdir(p) and not os.path.islink(p) else \
                (st.st_mode, st.st_size, st.st_mtime_ns)
    return snap


def _run(argv, env, subprocess_mode: bool) -> tuple[int, str, str]:
    if subprocess_mode:
        env = dict(env, PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""))
        r = subprocess.run([sys.executable, "-m", "rfm_studio", *argv], capture_output=True, text=True, env=env,
                           timeout=300, cwd=str(ROOT))
        return r.returncode, r.stdout, r.stderr
    from rfm_studio.cli import main

    out, err = io.StringIO(), io.StringIO()
    old = dict(os.environ)
    os.environ.update(env)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                err.write(traceback.format_exc())
                code = 1
    finally:
        os.environ.clear()
        os.environ.update(old)
    return code, out.getvalue(), err.getvalue()


def _clean(command: str, code: int, out: str, err: str) -> bool:
    if "Traceback" in err:
        return False
    if command == "models verify" and code == 1:
        return "FAIL" in out and "OK" not in out
    return code == 2 and err.startswith("rfm-studio: ") and err.count("\n") == 1


def cases(root: Path) -> list[tuple[str, str, list[str]]]:
    """(command, what is bad, argv) for every bad input, built under ``root``."""
    import soundfile as sf

    mark = root / "pwned"
    good = _tiny_bundle(root / "good")
    bundles = _bad_bundles(good, root, mark)
    t = np.arange(16000) / 16000
    clip = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    sf.write(root / "in.wav", clip, 16000)
    nan = clip.copy()
    nan[8000] = np.nan
    sf.write(root / "nan.wav", nan, 16000, subtype="FLOAT")
    os.symlink(root / "loopb.wav", root / "loopa.wav")
    os.symlink(root / "loopa.wav", root / "loopb.wav")
    os.link(root / "in.wav", root / "hard.wav")
    ro = root / "ro"
    ro.mkdir()
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(ro)], capture_output=True)
    else:
        ro.chmod(0o555)
    adapters = root / "data" / "adapters"
    adapters.mkdir(parents=True)
    (root / "data" / "models").mkdir()  # the user's models folder exists (an import may create it)
    evil = root / "evil"
    evil.mkdir()
    (evil / "adapter_card.json").write_text("{}")
    os.symlink(evil, adapters / "linked")
    (root / "empty.wav").write_bytes(b"")
    os.mkfifo(root / "pipe.wav")
    os.mkfifo(root / "pipe.jsonl")

    def man(name, rows):
        p = root / name
        p.write_text("".join(json.dumps(r) + "\n" for r in rows))
        return str(p)

    inp, out = str(root / "in.wav"), str(root / "out.wav")
    edit = ["edit", inp, "Add rain", "-o", out, "--steps", "2", "--device", "cpu"]
    out_list: list[tuple[str, str, list[str]]] = []
    for name, b in bundles.items():
        out_list.append(("edit", f"--model: {name}", [*edit, "--model", str(b)]))
        # a bundle whose files are intact and listed, but holds a setting its loader refuses, is
        # refused when it loads: import and verify check the files, not the settings
        if name not in ("unknown key in vocoder/config.json", "no manifest"):  # (import writes a missing manifest)
            out_list.append(("models import", name, ["models", "import", str(b), "--name", "x"]))
        if name not in ("unknown key in vocoder/config.json", "no manifest"):
            out_list.append(("models verify", name, ["models", "verify", str(b)]))
    g = str(good)
    for a in ("../evil", "../../evil", str(evil), "linked", "missing", "a/b"):
        out_list.append(("edit", f"--adapter {a}", [*edit, "--model", g, "--adapter", a]))
    out_list += [
        ("edit", "input is a link loop", ["edit", str(root / "loopa.wav"), "x", "-o", out, "--model", g]),
        ("edit", "output is a link loop", ["edit", inp, "x", "-o", str(root / "loopa.wav"), "--model", g]),
        ("edit", "output is a hard link of the input", ["edit", inp, "x", "-o", str(root / "hard.wav"), "--model", g]),
        ("edit", "read-only output folder", ["edit", inp, "x", "-o", str(ro / "o.wav"), "--model", g]),
        ("edit", "--region beyond the clip", [*edit, "--model", g, "--region", "5:9"]),
        ("edit", "empty input file", ["edit", str(root / "empty.wav"), "x", "-o", out, "--model", g]),
        ("edit", "NaN samples in the input", ["edit", str(root / "nan.wav"), "x", "-o", out, "--model", g]),
        ("edit", "input is a fifo", ["edit", str(root / "pipe.wav"), "x", "-o", out, "--model", g]),
        ("edit", "output is a fifo", ["edit", inp, "x", "-o", str(root / "pipe.wav"), "--model", g]),
    ]
    batch = ["edit-batch", "--model", g, "--device", "cpu", "--steps", "2"]
    ok_row = {"id": "r1", "input": "in.wav", "instruction": "Add rain"}
    out_list += [
        ("edit-batch", "a row's samples are NaN",
         [*batch, man("m1.jsonl", [ok_row, {"id": "r2", "input": "nan.wav", "instruction": "x"}]),
          "--out-dir", str(root / "bo")]),
        ("edit-batch", "a row's input is a link loop",
         [*batch, man("m2.jsonl", [ok_row, {"id": "r2", "input": "loopa.wav", "instruction": "x"}]),
          "--out-dir", str(root / "bo")]),
        ("edit-batch", "read-only output folder", [*batch, man("m3.jsonl", [ok_row]), "--out-dir", str(ro)]),
        ("edit-batch", "output folder inside a read-only folder",
         [*batch, man("m4.jsonl", [ok_row]), "--out-dir", str(ro / "new")]),
        ("edit-batch", "a row's region beyond the clip",
         [*batch, man("m5.jsonl", [{**ok_row, "region": [5, 9]}]), "--out-dir", str(root / "bo")]),
        ("edit-batch", "the manifest is a fifo", [*batch, str(root / "pipe.jsonl"), "--out-dir", str(root / "bo")]),
        ("edit-batch", "--model: flipped byte in safetensors",
         ["edit-batch", man("m6.jsonl", [ok_row]), "--out-dir", str(root / "bo"), "--model",
          str(bundles["flipped byte in safetensors"])]),
    ]
    (root / "list.json").write_text("[1]")
    train = ["train", "--data", str(root / "none.jsonl"), "--out", str(root / "run"), "--init", "tiny"]
    for a in (["--lora-layers", "abc"], ["--lora-layers", "1,,2"], ["--config", '{"unet":5}'],
              ["--config", '{"flow":{"nope":1}}'], ["--config", '{"unet":{"nope":1}}'],
              ["--config", '{"flow":{"source":"x"}}'], ["--config", '{"unet":{"channels":5}}'],
              ["--config", str(root / "list.json")], ["--config", '{"lora_layers":"abc"}'],
              ["--config", '{"init":5}'], ["--config", '{"seed":"x"}'], ["--config", '{"nope":1}']):
        out_list.append(("train", " ".join(a), [*train, *a]))
    return out_list


def rows(subprocess_mode: bool = False, verbose: bool = False) -> list[dict]:
    """[{command, tried, clean, failures: [(what, exit code, stderr tail)]}] in table order."""
    root = Path(tempfile.mkdtemp(prefix="rfm-bad-inputs-"))
    env = {"RFM_STUDIO_DATA_DIR": str(root / "data"), "RFM_STUDIO_CACHE_DIR": str(root / "cache"),
           "RFM_STUDIO_LOG_DIR": str(root / "logs"), "RFM_STUDIO_CONFIG_DIR": str(root / "config"),
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    table: dict[str, dict] = {}
    try:
        with temporary_env(env):
            all_cases = cases(root)
        skip = (root / "cache", root / "logs", root / "config")
        full_env = dict(os.environ, **env)
        for command, what, argv in all_cases:
            before = _snapshot(root, skip)
            code, out, err = _run(argv, full_env if subprocess_mode else env, subprocess_mode)
            changed = sorted(set(_snapshot(root, skip).items()) ^ set(before.items()))
            ok = _clean(command, code, out, err) and not changed and not (root / "pwned").exists()
            row = table.setdefault(command, {"command": command, "tried": 0, "clean": 0, "failures": []})
            row["tried"] += 1
            row["clean"] += ok
            if not ok:
                why = err.strip().splitlines()[-1][:160] if err.strip() else ""
                row["failures"].append((what, code, why, [c[0] for c in changed][:3]))
            if verbose:
                print(f"{'ok ' if ok else 'BAD'} {command:14s} {what:50s} exit {code}: {err.strip()[:110]}",
                      flush=True)
    finally:
        ro = root / "ro"
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(ro)], capture_output=True)
        else:
            with contextlib.suppress(OSError):
                ro.chmod(0o755)
        shutil.rmtree(root, ignore_errors=True)
    return list(table.values())


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--subprocess", action="store_true", help="run each case as `python -m rfm_studio ...`")
    p.add_argument("-v", "--verbose", action="store_true", help="one line per case")
    a = p.parse_args(argv)
    table = rows(subprocess_mode=a.subprocess, verbose=a.verbose)
    print(f"{'command':16s} {'bad inputs tried':>16s} {'clean':>6s}")
    for r in table:
        print(f"{r['command']:16s} {r['tried']:16d} {r['clean']:6d}")
        for what, code, why, changed in r["failures"]:
            print(f"    NOT CLEAN: {what} (exit {code}) {why} {'changed: ' + ', '.join(changed) if changed else ''}")
    total, clean = sum(r["tried"] for r in table), sum(r["clean"] for r in table)
    print(f"{'all':16s} {total:16d} {clean:6d}")
    return 0 if total == clean else 1


if __name__ == "__main__":
    sys.exit(main())
