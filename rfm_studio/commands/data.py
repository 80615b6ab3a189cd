"""``rfm-studio data ...``: build training data (event bank, fixed sets, AudioCaps triplets)."""

from __future__ import annotations

import os
from pathlib import Path

from ..core.errors import OptionError

TSV_NAME = "event-bank-train.tsv"
V2_TSV = Path(__file__).resolve().parents[2] / "resources" / "bank" / "event-bank-v2.tsv"


def register(subparsers) -> None:
    p = subparsers.add_parser("data", help="build training data: event bank, fixed sets, AudioCaps triplets")
    sub = p.add_subparsers(dest="data_command", metavar="{bank,label,stats,fixed-set,audiocaps}")
    sub.required = True

    b = sub.add_parser("bank", help="fetch the Debian sound packages and build the labelled event bank")
    b.add_argument("--out", required=True, help="bank folder (clips/, bank.jsonl, curation.jsonl)")
    b.add_argument("--tsv", help="candidate list (default: resources/bank/event-bank-v2.tsv; 'v1': the shared "
                                 f"{TSV_NAME})")
    b.add_argument("--work", help="download/unpack folder (default: next to --out)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--no-renders", action="store_true", help="skip General MIDI and espeak-ng renders")
    b.add_argument("--asterisk", type=int, default=24, help="number of asterisk speech prompts (0: none)")
    b.add_argument("--no-label-check", action="store_true", help="skip the cross-validated label check")
    b.set_defaults(func=cmd_bank)

    lb = sub.add_parser("label", help="fetch the bank's packages and write the name-labelled candidate list (TSV)")
    lb.add_argument("--work", required=True, help="download/unpack folder")
    lb.add_argument("--out", default=str(V2_TSV), help="TSV to write (default: resources/bank/event-bank-v2.tsv)")
    lb.add_argument("--base", help=f"reviewed list whose rows are kept as they are (default: the shared {TSV_NAME})")
    lb.set_defaults(func=cmd_label)

    st = sub.add_parser("stats", help="print a built bank's figures (clips, classes, packages, licences)")
    st.add_argument("--bank", required=True)
    st.add_argument("--json", action="store_true", help="print JSON instead of text")
    st.set_defaults(func=cmd_stats)

    f = sub.add_parser("fixed-set", help="write a fixed evaluation set of triplets from a bank split")
    f.add_argument("--bank", required=True)
    f.add_argument("--out", required=True)
    f.add_argument("--split", default="val", choices=("train", "val"))
    f.add_argument("--n-per-task", type=int, default=30)
    f.add_argument("--seconds", type=float, default=10.24)
    f.add_argument("--seed", type=int, default=1234)
    f.set_defaults(func=cmd_fixed_set)

    a = sub.add_parser("audiocaps", help="the paper's six-triplet dataset from AudioCaps captions and audio")
    a.add_argument("--csv", required=True, help="AudioCaps CSV (audiocap_id, youtube_id, start_time, caption)")
    a.add_argument("--audio-dir", required=True)
    a.add_argument("--out", required=True)
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--llm-url", help="OpenAI-compatible API base for event counting (key from $OPENAI_API_KEY)")
    a.add_argument("--llm-model", default="deepseek-chat")
    a.add_argument("--clap-checkpoint", help="local CLAP checkpoint folder: keep triplets scoring >= 0.35")
    a.add_argument("--paraphrase-prob", type=float, default=0.0, help="share of paraphrased instructions")
    a.add_argument("--limit", type=int, help="use only the first N clips")
    a.set_defaults(func=cmd_audiocaps)


def find_tsv(explicit: str | None = None) -> Path:
    if explicit:
        p = Path(explicit)
        if not p.is_file():
            raise OptionError(f"Event-bank list not found: {p}")
        return p
    repo = Path(__file__).resolve().parents[2]
    cands = [os.environ.get("RFM_EVENT_BANK_TSV", "")]
    for base in (repo, Path.cwd()):
        cands += [base.parent / "shared" / "data" / TSV_NAME, base / "shared" / "data" / TSV_NAME]
    for c in cands:
        if c and Path(c).is_file():
            return Path(c)
    raise OptionError(f"Cannot find {TSV_NAME}; pass it with --tsv.")


def cmd_bank(args) -> int:
    from ..core.data.bank import build_bank, class_counts, load_manifest

    tsv = find_tsv(None) if args.tsv == "v1" else (find_tsv(args.tsv) if args.tsv else V2_TSV)
    manifest = build_bank(tsv, args.out, work_dir=args.work, seed=args.seed, renders=not args.no_renders,
                          asterisk=args.asterisk, label_check=not args.no_label_check)
    counts = class_counts(load_manifest(manifest.parent))
    for cls, c in counts.items():
        print(f"{cls:24s} train {c['train']:3d}  val {c['val']:3d}")
    return 0


def cmd_label(args) -> int:
    from ..core.data.labelling import write_list

    base = find_tsv(args.base) if args.base else find_tsv(None)
    rows = write_list(Path(args.work), Path(args.out), base=base)
    print(f"{args.out}: {rows} rows")
    return 0


def cmd_stats(args) -> int:
    import json

    from ..core.data.bank_stats import bank_stats, format_stats

    s = bank_stats(args.bank)
    print(json.dumps(s, indent=1) if args.json else format_stats(s))
    return 0


def cmd_fixed_set(args) -> int:
    from ..core.data.triplets import make_fixed_set

    if args.n_per_task < 1 or not 0.5 <= args.seconds <= 600:
        raise OptionError("--n-per-task must be at least 1 and --seconds between 0.5 and 600.")
    print(make_fixed_set(args.bank, args.out, split=args.split, n_per_task=args.n_per_task,
                         seconds=args.seconds, seed=args.seed))
    return 0


def cmd_audiocaps(args) -> int:
    from ..core.data.audiocaps import build_audiocaps, load_clap_scorer

    if not 0.0 <= args.paraphrase_prob <= 1.0:
        raise OptionError("--paraphrase-prob must be between 0 and 1.")
    if args.limit is not None and args.limit < 1:
        raise OptionError(f"--limit must be at least 1, got {args.limit}.")
    clap = load_clap_scorer(args.clap_checkpoint) if args.clap_checkpoint else None
    build_audiocaps(args.csv, args.audio_dir, args.out, seed=args.seed, llm_url=args.llm_url,
                    llm_model=args.llm_model, clap=clap, paraphrase_prob=args.paraphrase_prob, limit=args.limit)
    return 0
