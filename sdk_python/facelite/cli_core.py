"""The command-line contract, once, for `facelite`, `facelite-build` and `facelite-bench`.

Every command of the three CLIs runs through `CommandLine.main`, which owns the rules
DESIGN.md sets, so they cannot drift apart:

- exit codes: 0 success, 2 a user error (`UserError`: bad path, bad recipe, tampered
  bundle, bad option — argparse usage errors included), 1 anything else, 130 on Ctrl-C;
- `--json`: exactly one JSON document on stdout, whatever happens: the command's result,
  or `{"error": ..., "exit_code": ...}`; it is strict JSON (NaN and infinity become
  null, numpy values plain numbers). While a command runs, anything printed to stdout
  (Keras progress, a library's chatter) goes to stderr: stdout carries only what the
  command reports through `Output`;
- errors read `error: <what>: <problem>; <what to do>` on stderr, without a traceback
  unless `--debug`;
- logs and progress go to stderr; `--verbose` sets `FACELITE_VERBOSE=1` (the Engine then
  lets LiteRT's native INFO lines through, and TensorFlow logs in full); without it they
  stay off the terminal. `--debug` implies `--verbose` and also sets `FACELITE_DEBUG=1`.

The flags are accepted before or after the command (`facelite --json inspect B` or
`facelite inspect B --json`).

Example (a CLI with one command):

    >>> from facelite.cli_core import CommandLine
    >>> def hello(args, out):
    ...     out.result({"greeting": f"hello {args.name}"}, text=f"hello {args.name}")
    >>> cli = CommandLine("demo", "A demo.")
    >>> hello_args = cli.command("hello", hello, "say hello")
    >>> _ = hello_args.add_argument("name")
    >>> cli.main(["hello", "world", "--json"])
    {
      "greeting": "hello world"
    }
    0
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import time
import traceback
from typing import Any, Callable

from .errors import UserError
from .strict_json import dumps

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130

VERBOSE_ENV = "FACELITE_VERBOSE"
DEBUG_ENV = "FACELITE_DEBUG"


class UsageError(UserError):
    """The command line itself is wrong (unknown flag, missing argument)."""


def log(message: str) -> None:
    """One line on stderr (logs, progress, warnings: never on stdout)."""
    print(message, file=sys.stderr, flush=True)


class Output:
    """What a command gives back, and how it reaches stdout.

    `result(doc, text)` records the command's JSON document (printed once, at the end,
    with `--json`) and its human-readable text (printed otherwise); `line(text)` prints
    on stdout at once, only without `--json` (e.g. one line per analysed image). Plain
    `print` inside a command goes to stderr.
    """

    def __init__(self, as_json: bool):
        self.json = as_json
        self.doc: Any = None
        self._text: str | None = None
        self._stdout = sys.stdout

    def result(self, doc: Any, text: str | None = None) -> None:
        self.doc, self._text = doc, text

    def line(self, text: str) -> None:
        if not self.json:
            print(text, file=self._stdout, flush=True)

    def _finish(self) -> None:
        if self.json:
            print(dumps(self.doc, indent=2), file=self._stdout, flush=True)
        elif self._text is not None:
            print(self._text, file=self._stdout, flush=True)


class Progress:
    """Progress on stderr: a redrawn bar on a terminal, sparse lines otherwise.

    Call it with the fraction done (0–1) and an optional stage name.
    """

    def __init__(self, label: str, enabled: bool = True):
        self.label, self.enabled = label, enabled
        self.tty = sys.stderr.isatty()
        self.last_t = 0.0
        self.last_frac = -1.0

    def __call__(self, frac: float, stage: str = "") -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if self.tty:
            if now - self.last_t < 0.1 and frac < 1:
                return
            bar = "#" * int(frac * 30)
            sys.stderr.write(f"\r{self.label} [{bar:<30}] {frac * 100:5.1f}% {stage:<10}")
            if frac >= 1:
                sys.stderr.write("\n")
        else:
            if frac < 1 and now - self.last_t < 2 and frac - self.last_frac < 0.25:
                return
            sys.stderr.write(f"{self.label}: {frac * 100:.0f}% {stage}\n")
            self.last_frac = frac
        self.last_t = now
        sys.stderr.flush()


def whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse `type`: an integer >= `minimum`, else a usage error naming the flag."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be a whole number >= {minimum}, got {value}")
        return value

    parse.__name__ = f"whole number >= {minimum}"
    return parse


Command = Callable[[argparse.Namespace, Output], "int | None"]
"""A command: reads its arguments, calls `out.result(...)`, returns an exit code (None: 0)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse prints and exits 2; we need the JSON document too
        raise UsageError(f"{self.prog}: {message}; see {self.prog} --help")


def _common_flags(parser: argparse.ArgumentParser, top: bool) -> None:
    # on sub-commands the default is SUPPRESS, so a flag given before the command stays set
    default = False if top else argparse.SUPPRESS
    parser.add_argument("--json", action="store_true", default=default,
                        help="print exactly one JSON document on stdout (errors included)")
    parser.add_argument("--verbose", action="store_true", default=default,
                        help="let native (LiteRT, TensorFlow) INFO logs through on stderr")
    parser.add_argument("--debug", action="store_true", default=default,
                        help="show tracebacks (implies --verbose)")


class CommandLine:
    """One CLI: its argument parser, its commands, and `main(argv)` running the contract.

    Args:
        prog: the program name (`facelite`, `facelite-build`, `facelite-bench`).
        description: the first line of `--help`.
        interrupted_hint: what to tell the user after Ctrl-C (e.g. how to resume).
        version: adds `--version` when given.
    """

    def __init__(self, prog: str, description: str, interrupted_hint: str | None = None,
                 version: str | None = None):
        self.prog = prog
        self.interrupted_hint = interrupted_hint
        self.parser = _Parser(prog=prog, description=description)
        if version:
            self.parser.add_argument("--version", action="version", version=f"{prog} {version}")
        _common_flags(self.parser, top=True)
        self._commands = self.parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                                    parser_class=_Parser)

    def command(self, name: str, fn: Command, help: str) -> argparse.ArgumentParser:
        """Add a command; returns its parser for the command's own arguments."""
        sub = self._commands.add_parser(name, help=help, description=help)
        _common_flags(sub, top=False)
        sub.set_defaults(fn=fn)
        return sub

    def subcommands(self, parent: argparse.ArgumentParser,
                    dest: str) -> Callable[[str, Command, str], argparse.ArgumentParser]:
        """Actions under a command (`facelite track add ...`): a `command`-like function that
        adds one to `parent` (a parser `command` returned), with the same contract and flags."""
        actions = parent.add_subparsers(dest=dest, required=True, metavar="ACTION", parser_class=_Parser)

        def action(name: str, fn: Command, help: str) -> argparse.ArgumentParser:
            sub = actions.add_parser(name, help=help, description=help)
            _common_flags(sub, top=False)
            sub.set_defaults(fn=fn)
            return sub

        return action

    def main(self, argv: list[str] | None = None) -> int:
        """Parse `argv`, run the command, print its result; returns the exit code."""
        argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
        out = Output(as_json="--json" in argv)
        args = None
        try:
            args = self.parser.parse_args(argv)
            out.json = args.json
            _configure(args.verbose or args.debug, args.debug)
            with contextlib.redirect_stdout(sys.stderr):  # stray prints never reach stdout
                code = args.fn(args, out)
            code = EXIT_OK if code is None else int(code)
            if out.json and out.doc is None:
                out.doc = {"exit_code": code}
            out._finish()
            return code
        except UserError as exc:
            return self._fail(out, args, f"{exc}", EXIT_USER_ERROR)
        except KeyboardInterrupt:
            hint = f"; {self.interrupted_hint}" if self.interrupted_hint else ""
            return self._fail(out, args, f"interrupted{hint}", EXIT_INTERRUPTED)
        except BrokenPipeError:  # stdout closed early (piped into head): nothing more to say
            with contextlib.suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_FAILURE
        except Exception as exc:  # a bug or an environment failure
            return self._fail(out, args, f"internal: {type(exc).__name__}: {exc}; rerun with --debug "
                                         "for the traceback and report it", EXIT_FAILURE)

    def _fail(self, out: Output, args, message: str, code: int) -> int:
        if args is not None and getattr(args, "debug", False):
            traceback.print_exc()
        log(f"error: {message}")
        if out.json:
            out.doc = {"error": message, "exit_code": code}
            with contextlib.suppress(BrokenPipeError):
                out._finish()
        return code


def _configure(verbose: bool, debug: bool) -> None:
    """Environment for the native logs, and Python logging on stderr (before any heavy import).

    A `FACELITE_VERBOSE=1` already in the environment is respected without `--verbose`.
    """
    if verbose:
        os.environ[VERBOSE_ENV] = "1"
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
    else:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if debug:
        os.environ[DEBUG_ENV] = "1"
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
