"""The Environment (wxb.cli.env): the process's streams and terminal state read once, and what reads it from there:
notes, colour, width, JSON layout, the default format, stdin and the memory cap. Tests build an Environment
instead of patching sys."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import environment, written
from typer.testing import CliRunner

from wxb.cli.app import app
from wxb.cli.commands.present import output_format
from wxb.cli.env import DEFAULT_WIDTH, Environment, current, note, using
from wxb.cli.model import OutputChoice
from wxb.cli.show import render, views
from wxb.cli.stores.blocks import available_memory
from wxb.cli.write.output import json_document, write_results

runner = CliRunner()


# ---------------------------------------------------------------- read from the process

@pytest.mark.parametrize(
    ("environ", "colors", "dumb"),
    [({}, True, False), ({"NO_COLOR": "1"}, False, False), ({"NO_COLOR": ""}, False, False),
     ({"TERM": "dumb"}, False, True), ({"TERM": "xterm"}, True, False)],
)  # fmt: skip
def test_colour_follows_no_color_and_term(environ: dict[str, str], colors: bool, dumb: bool) -> None:
    env = Environment.from_process(environ)
    assert (env.colors, env.dumb) == (colors, dumb)
    assert env.switched(no_color=True).colors is False  # --no-color, as NO_COLOR=1
    assert env.switched(no_color=False).colors is colors


@pytest.mark.parametrize(("columns", "width"), [("40", 40), ("", DEFAULT_WIDTH), ("wide", DEFAULT_WIDTH),
                                                ("-3", DEFAULT_WIDTH), (None, DEFAULT_WIDTH)])
def test_width_is_columns_else_the_default(columns: str | None, width: int) -> None:
    environ = {} if columns is None else {"COLUMNS": columns}
    assert Environment.from_process(environ).width == width


def test_streams_and_terminals_are_the_processs() -> None:
    env = Environment.from_process({"WXB_MEMORY": "1MB"})
    assert (env.stdin, env.stdout, env.stderr) == (sys.stdin, sys.stdout, sys.stderr)
    assert env.memory_cap == "1MB" and Environment.from_process({}).memory_cap is None
    assert env.stdout_isatty is False  # pytest captures stdout: not a terminal


# ---------------------------------------------------------------- what reads it

def test_note_goes_to_the_environments_stderr_and_quiet_silences_notes_only() -> None:
    with environment() as env:
        note("skipped header row")
        note("overflow", "warning")
    assert written(env.stderr) == "wxb: note: skipped header row\nwxb: warning: overflow\n"
    assert written(env.stdout) == ""
    with environment(quiet=True) as quiet:
        note("skipped header row")
        note("overflow", "warning")
    assert written(quiet.stderr) == "wxb: warning: overflow\n"


def test_a_closed_or_missing_stderr_takes_no_note() -> None:
    with using(Environment(None, None, None)):
        note("nowhere to go")  # no print to stdout instead, no exception


def test_json_is_indented_only_under_pretty() -> None:
    with environment():
        assert json_document({"a": [1, 2]}) == '{"a": [1, 2]}\n'
    with environment(pretty=True):
        assert json_document({"a": [1, 2]}) == '{\n  "a": [\n    1,\n    2\n  ]\n}\n'


def test_results_go_to_the_environments_stdout() -> None:
    with environment() as env:
        write_results({"f": np.array([[1.0, 2.0]])}, "csv")
        write_results({"f": np.array([[1.0, 2.0]])}, "json")
    assert written(env.stdout) == "1.0,2.0\n[[1.0, 2.0]]\n"


@pytest.mark.parametrize(("terminal", "fmt"), [(True, "table"), (False, "csv")])
def test_data_is_a_table_on_a_terminal_and_csv_in_a_pipe(terminal: bool, fmt: str) -> None:
    with environment(stdout_isatty=terminal):
        assert output_format(OutputChoice(None, None, 6)) == fmt


def test_plain_text_is_the_environments_width() -> None:
    def draw(console: object) -> None:
        console.print("word " * 30)  # type: ignore[attr-defined]

    with environment(width=40):
        lines = views.plain_text(draw).splitlines()
    assert max(map(len, lines)) <= 40 and len(lines) == 4


@pytest.mark.parametrize("colors", [True, False])
def test_the_console_draws_on_the_environments_streams_in_its_colours(colors: bool) -> None:
    with environment(colors=colors) as env:
        console = render.make_console()
        console.print("[bold]x[/bold]")
        assert console.file is env.stdout and render.make_console(stderr=True).file is env.stderr
    assert console.no_color is not colors
    assert written(env.stdout) == "x\n"  # not a terminal: no escape codes either way


def test_the_memory_cap_is_the_environments() -> None:
    with environment(memory_cap="3MB"):
        assert available_memory() == (3 << 20, "WXB_MEMORY")
    with environment():
        assert available_memory()[1] != "WXB_MEMORY"


def test_outside_a_command_the_environment_is_the_processs() -> None:
    assert current().stdout is sys.stdout
    built = Environment(None, None, None, width=7)
    with using(built):
        assert current() is built
    assert current() is not built


# ---------------------------------------------------------------- per command, through the CLI

def test_switches_hold_for_one_command_only() -> None:
    """CliRunner runs many commands in one process: --pretty and -q of one do not leak into the next."""
    pretty = runner.invoke(app, ["forward", "-X", "1; 2", "-b", "0; 0", "--format", "json", "--pretty"])
    plain = runner.invoke(app, ["forward", "-X", "1; 2", "-b", "0; 0", "--format", "json"])
    assert pretty.exit_code == plain.exit_code == 0
    assert json.loads(pretty.stdout) == json.loads(plain.stdout) == [[1.0], [2.0]]
    assert pretty.stdout.count("\n") > 1 and plain.stdout.count("\n") == 1


def test_importing_the_environment_imports_nothing_heavy() -> None:
    code = "import sys, wxb.cli.env; print(sorted({'numpy', 'rich', 'typer'} & set(sys.modules)))"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           cwd=Path(__file__).parent)
    assert found.stdout == "[]\n"


def test_no_test_patches_the_process_streams() -> None:
    """Tests build an Environment (conftest.environment) instead of patching sys's streams (issue 19)."""
    import re
    from pathlib import Path

    here = Path(__file__).resolve().parent
    pattern = re.compile(r"setattr\(\s*(?:sys\s*,\s*[\"']|[\"']sys\.)(?:stdin|stdout|stderr)")
    found = [path.name for path in here.glob("*.py") if pattern.search(path.read_text(encoding="utf-8"))]
    assert found == []
