"""The `nbmlops` console script. A plain, valid `nbmlops run|compile|show ...` is parsed by getopt from the option
tables click uses too, and runs without importing click (~70 ms here, a third of a 10-step run); anything else —
another command, --help, --version, anything getopt or the table rejects, forms the two parsers could read
differently — goes to the click group, which gives the documented help and error messages. So a user never
sees the two parsers disagree: the fast path only takes what click takes, with the same values.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from nbmlops import cli_commands
from nbmlops.cli_commands import Option
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
        from nbmlops.cli import main

        main()
        return
    try:
        command[1](**arguments)
    except NbmlopsError as error:
        sys.exit(cli_commands.exit_code_of(error))
    except KeyboardInterrupt:
        print("\nAborted!", file=sys.stderr)  # as click says it
        sys.exit(1)


def parse_simply(options: tuple[Option, ...], argv: list[str]) -> dict[str, Any] | None:
    """The keyword arguments click would pass for `argv`, or None where click should parse it: help, every
    error, and forms the two could read differently. getopt, not argparse: argparse's import and its help
    formatter (made for every add_argument) cost as much as the parsing saves."""
    import getopt

    if not only_plain_forms(options, argv):
        return None
    by_flag = {flag: option for option in options for flag in option.flags}
    short = "".join(flag[1] + ("" if by_flag[flag].kind == "flag" else ":") for flag in by_flag if flag[1] != "-")
    long = [flag[2:] + ("" if by_flag[flag].kind == "flag" else "=") for flag in by_flag if flag[1] == "-"]
    try:
        pairs, positionals = getopt.gnu_getopt(argv, short, long)
    except getopt.GetoptError:
        return None
    files = [option for option in options if option.kind == "file"]
    if len(positionals) != len(files) or any(os.path.isdir(path) for path in positionals):
        return None  # click's "missing argument", "got an unexpected extra argument", "is a directory"
    parsed: dict[str, Any] = {option.dest: () if option.kind == "multiple" else option.default for option in options}
    parsed.update(zip((option.dest for option in files), positionals, strict=True))
    for flag, value in pairs:
        option = by_flag[flag]
        if option.kind == "flag":
            parsed[option.dest] = True
        elif option.kind == "multiple":
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
    return parsed


def only_plain_forms(options: tuple[Option, ...], argv: list[str]) -> bool:
    """Whether every word is a positional, an option spelled out (`--seed 3`, `--seed=3`, `-p A=1`) or an
    option's value. Left to click: abbreviations (getopt completes `--no-c`, click refuses it), a flag given a
    value, `--`, attached short values (`-pA=1`) and unknown options."""
    takes_value = {flag for option in options if option.kind not in ("flag", "file") for flag in option.flags}
    flags = {flag for option in options for flag in option.flags}
    words = iter(argv)
    for word in words:
        if not word.startswith("-") or word == "-":
            continue
        name, equals, _ = word.partition("=")
        if word in takes_value:
            next(words, None)  # its value, whatever it looks like (argparse may refuse it: then click parses)
        elif word not in flags and not (equals and name.startswith("--") and name in takes_value):
            return False
    return True
