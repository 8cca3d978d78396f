"""The `nbmlops` console script. A plain, valid `nbmlops run|compile|show ...` is read from the option tables
click uses too, and runs without importing click (~70 ms here, a third of a 10-step run); anything else —
another command, --help, --version, anything the table rejects, forms the two parsers could read
differently — goes to the click group, which gives the documented help and error messages. So a user never
sees the two parsers disagree: the fast path only takes what click takes, with the same values.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from nbmlops.cli import commands as cli_commands
from nbmlops.cli.commands import Option
from nbmlops.errors import NbmlopsError

COMMANDS = {
    "run": (cli_commands.RUN_OPTIONS, cli_commands.run_command),
    "compile": (cli_commands.COMPILE_OPTIONS, cli_commands.compile_command),
    "show": (cli_commands.SHOW_OPTIONS, cli_commands.show_command),
}


def entry() -> None:
    """The `nbmlops` console script."""
    cli_commands.claim_process()
    command = COMMANDS.get(sys.argv[1]) if len(sys.argv) > 1 else None
    arguments = parse_simply(command[0], sys.argv[2:]) if command else None
    if arguments is None:
        from nbmlops.cli.main import main

        main()
        return
    try:
        command[1](**arguments)
    except NbmlopsError as error:
        sys.exit(cli_commands.exit_code_of(error))
    except KeyboardInterrupt:
        print("\nAborted!", file=sys.stderr)  # as click says it
        sys.exit(1)
    except BrokenPipeError:  # `nbmlops compile NB | head`: quiet, exit 1, as click does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the flush at exit must not raise again
        sys.exit(1)


def parse_simply(options: tuple[Option, ...], argv: list[str]) -> dict[str, Any] | None:
    """The keyword arguments click would pass for `argv`, or None where click should parse it.

    Only the plain forms: positionals, options spelled out in full (`-p A=1`, `--seed 3`, `--seed=3`, `-v`) and
    their values. Everything else goes to click: help, every error, abbreviations, `--`, attached short values
    (`-pA=1`), a flag given a value, an option value click would refuse. Not getopt or argparse: both import
    gettext (a regex compiled at import, ~3 ms here) and accept forms click refuses (abbreviations), so they
    would need this walk anyway. tests/test_cli_fast.py checks these words give what click gives."""
    by_flag = {flag: option for option in options for flag in option.flags}
    parsed: dict[str, Any] = {option.dest: () if option.kind == "multiple" else option.default for option in options}
    positionals = []
    words = iter(argv)
    for word in words:
        if not word.startswith("-") or word == "-":
            positionals.append(word)
            continue
        flag, equals, value = word.partition("=")
        option = by_flag.get(flag if equals and flag.startswith("--") else word)
        if option is None or (equals and option.kind == "flag"):
            return None
        if option.kind == "flag":
            parsed[option.dest] = True
            continue
        if not equals:
            value = next(words, None)
            if value is None:
                return None  # click's "requires an argument"
        if option.kind == "multiple":
            parsed[option.dest] += (value,)
        elif option.kind == "int":
            try:
                parsed[option.dest] = int(value)  # as click converts it
            except ValueError:
                return None  # click's "is not a valid integer"
        elif option.kind == "choice" and value not in option.choices:
            return None
        else:
            parsed[option.dest] = value
    files = [option.dest for option in options if option.kind == "file"]
    if len(positionals) != len(files) or any(os.path.isdir(path) for path in positionals):
        return None  # click's "missing argument", "got an unexpected extra argument", "is a directory"
    parsed.update(zip(files, positionals, strict=True))
    return parsed
