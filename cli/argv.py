"""The command line before Typer parses it: `wxb help …` aliases, completion's named shell, options given twice,
the short usage of a bare `wxb`, and usage errors as one line. Typer and Click public API only."""

import os
import sys
from collections.abc import Sequence
from typing import Any

import typer

from .errors import ExitStatus

COMPLETE_VAR = "_WXB_COMPLETE"
SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")


def help_alias(argv: list[str], commands: list[str]) -> list[str]:
    """`wxb help` is `wxb --help`, and `wxb help COMMAND` is `wxb COMMAND --help`; `wxb help functions` and
    `wxb help FUNCTION` show the expression language and exit; other argv is unchanged."""
    if argv[:1] != ["help"]:
        return argv
    if len(argv) == 1 or argv[1] in commands:
        return [*argv[1:2], "--help"]
    from .show import topics

    text = topics.topic(argv[1]) if len(argv) == 2 else None
    if text is None:
        typer.echo(topics.unknown(" ".join(argv[1:]), commands), err=True)
        sys.exit(ExitStatus.ERROR)
    show_topic(text)
    sys.exit(ExitStatus.OK)


def show_topic(text: str) -> None:
    """A help topic: on a terminal through Rich (its headings bold), elsewhere the same text without colour."""
    from .env import current

    env = current()
    if not env.stdout_isatty:
        print(text, end="", file=env.stdout)
        return
    from rich.text import Text

    from .show.render import make_console

    styled = Text()
    for line in text.splitlines(keepends=True):
        styled.append(line, style="bold" if line.endswith(":\n") or line.startswith(("example:", "Operators"))
                      else "")
    make_console().print(styled, end="")


def named_shell(argv: Sequence[str]) -> None:
    """`--show-completion fish` and `--install-completion zsh` take the shell named, not the one detected."""
    if len(argv) > 1 and argv[0] in ("--show-completion", "--install-completion") and argv[1] in SHELLS:
        os.environ["_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION"] = "1"  # Typer then reads the shell from argv


def repeated_option(command: Any, argv: Sequence[str]) -> str | None:
    """The first single-valued option given twice in argv for a subcommand (`-X a.csv -X b.csv`, or `-X` and
    `--input`), as Click's own parser reads argv, else None (Click, which keeps the last, would not say)."""
    if not argv or argv[0].startswith("-"):
        return None
    sub = getattr(command, "commands", {}).get(argv[0])
    if sub is None:
        return None
    context = typer.Context(sub, info_name=argv[0], resilient_parsing=True, **sub.context_settings)
    try:
        _, _, order = sub.make_parser(context).parse_args(list(argv[1:]))
    except typer.TyperException:  # Click's exceptions derive from it: public API only
        return None  # a usage error, which the real parse reports
    seen: set[str | None] = set()
    for param in order:
        if getattr(param, "param_type_name", "") != "option" or getattr(param, "multiple", False):
            continue
        if param.name in seen:
            return "/".join((*param.opts, *param.secondary_opts))
        seen.add(param.name)
    return None


def short_usage(command: Any) -> str:
    """A few lines for a bare `wxb`: how to call it, each command with its summary, and where the help is."""
    commands = getattr(command, "commands", {})
    width = max(map(len, commands), default=0)
    lines = ["usage: wxb <command> [options] [NAME=SOURCE]...", "", "commands:"]
    lines += [f"  {name:<{width}}  {sub.get_short_help_str(limit=70)}" for name, sub in commands.items()]
    lines += ["", "See 'wxb --help' for the options, and 'wxb <command> --help' for one command."]
    return "\n".join(lines)


def usage_error(exc: typer.TyperException) -> ExitStatus:
    """Print a usage error the wxb way (errors.failure), one line on stderr, and return its exit status."""
    from .errors import failure

    status, message = failure(exc)
    if message:
        typer.echo(message, err=True)
    return status
