"""Headless entry point: ``rfm-studio <command> ...``; with no command the app opens.

Every user error is one sentence on stderr and exit code 2, with nothing written.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from . import __version__

COMMANDS = ["edit", "train", "finetune", "data", "eval", "models", "library", "finder", "remover"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one sentence, exit code 2
        sys.stderr.write(f"rfm-studio: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="rfm-studio", description="Text-guided audio editing with RFM-Editing.")
    p.add_argument("--version", action="version", version=f"rfm-studio {__version__}")
    p.add_argument("--diagnose", action="store_true", help="print versions, devices and model folders")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f"rfm_studio.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"rfm_studio.commands.{name}":
                continue
            raise
        mod.register(sub)
    return p


def main(argv=None) -> int:
    if "HF_HUB_OFFLINE" not in os.environ and "TRANSFORMERS_OFFLINE" not in os.environ:
        os.environ["RFM_STUDIO_OFFLINE_DEFAULT"] = "1"  # offline by our default, not the user's: see models download
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from .core.errors import RFMError, file_error

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.diagnose:
        from .diagnose import diagnose

        print(diagnose())
        return 0
    if not args.command:
        from .app import main as app_main

        return app_main([])
    import logging

    from .core.cleanup import Terminated, command_folders, startup_sweep, terminate_like_interrupt
    from .core.faults import advice_for
    from .logs import setup_logging

    setup_logging()
    log = logging.getLogger("rfm_studio.cli")
    log.info("command: %s", " ".join(sys.argv[1:] if argv is None else argv))
    restore_sigterm = terminate_like_interrupt()  # SIGTERM cleans up as Ctrl-C does
    try:
        startup_sweep(command_folders(args))  # what killed runs left in the folders this command writes
        return int(args.func(args) or 0)
    except RFMError as exc:
        log.info("user error: %s", exc)
        sys.stderr.write(f"rfm-studio: {exc}\n")
        return 2
    except OSError as exc:  # the file system refused: one sentence, not a traceback
        log.info("file error: %s", exc)
        sys.stderr.write(f"rfm-studio: {file_error(exc)}\n")
        return 2
    except (RuntimeError, MemoryError) as exc:
        advice = advice_for(exc)
        if advice is None:
            log.exception("failure")
            raise
        log.warning("out of memory: %s", exc)
        sys.stderr.write(f"rfm-studio: {advice}\n")
        return 2
    except Terminated:
        sys.stderr.write("rfm-studio: terminated; partial files were removed.\n")
        return 143
    except KeyboardInterrupt:
        sys.stderr.write("rfm-studio: interrupted.\n")
        return 130
    finally:
        restore_sigterm()


if __name__ == "__main__":
    sys.exit(main())
