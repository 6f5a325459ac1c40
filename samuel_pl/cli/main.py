"""``samuel <command>``: dispatch to the subcommand modules; one-line errors unless --debug."""

from __future__ import annotations

import argparse
import codecs
import contextlib
import importlib
import io
import os
import sys
from collections.abc import Sequence

from samuel_pl.errors import SamuelError

# name -> (module under samuel_pl.cli, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "data": ("data", "render the demo set / check stem sources"),
    "encode": ("encode", "encode a stem source into the latent cache"),
    "fit": ("fit", "train SAMUeL (default: experiments/demo.yaml)"),
    "summary": ("summary", "print the network's parameter table"),
    "generate": ("generate", "generate an accompaniment for a vocal file or folder"),
    "live": ("live", "play a vocal through the live engine in real time (play along)"),
    "evaluate": ("evaluate", "score generators on an evaluation suite"),
    "sweep": ("sweep", "run a sweep of fit + evaluate trials (MLflow parent/child runs)"),
    "report": ("report", "Markdown + HTML report of an MLflow experiment"),
    "serve": ("serve", "browser demo: upload a vocal, hear the accompaniment"),
}


def _available() -> dict[str, tuple[str, str]]:
    out = {}
    for name, (mod, helptext) in COMMANDS.items():
        if importlib.util.find_spec(f"samuel_pl.cli.{mod}") is not None:
            out[name] = (mod, helptext)
    return out


def _show_bytes(err: UnicodeError) -> tuple[str, int]:
    """Codec error handler: an undecodable file-name byte (a surrogate) prints as ``\\xNN``."""
    if not isinstance(err, UnicodeEncodeError):
        raise err
    shown = "".join(
        f"\\x{ord(c) - 0xDC00:02x}" if 0xDC80 <= ord(c) <= 0xDCFF else f"\\u{ord(c):04x}"
        for c in err.object[err.start : err.end]
    )
    return shown, err.end


_SHOW_BYTES = "samuel_pl.show_bytes"
codecs.register_error(_SHOW_BYTES, _show_bytes)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="samuel", description="SAMUeL vocal-conditioned accompaniment generation"
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (mod, helptext) in _available().items():
        module = importlib.import_module(f"samuel_pl.cli.{mod}")
        p = sub.add_parser(name, help=helptext, description=module.__doc__)
        p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``samuel`` console script and every ``python -m samuel_pl.<cmd>``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    for stream in (sys.stdout, sys.stderr):  # file names that are not UTF-8 print as \xNN
        with contextlib.suppress(AttributeError, ValueError, io.UnsupportedOperation):
            stream.reconfigure(errors=_SHOW_BYTES)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    debug = bool(args.debug) or os.environ.get("SAMUEL_DEBUG") == "1"
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
    except SamuelError as exc:
        if debug:
            raise
        sys.stderr.write(f"error: {str(exc).splitlines()[0]}\n")
        return 2
    except Exception as exc:  # noqa: BLE001 - the CLI's last line of defence
        if debug:
            raise
        sys.stderr.write(
            f"error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            " (run with --debug for the traceback)\n"
        )
        return 1


def run_module(name: str) -> None:
    """``python -m samuel_pl.<name>`` shim."""
    sys.exit(main([name, *sys.argv[1:]]))


if __name__ == "__main__":
    import sys

    sys.exit(main())
