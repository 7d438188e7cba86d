"""Output that other tools read: standard JSON (NaN and ±inf as null) on one line for every command, --pretty to
indent; -q silences notes and keeps warnings; --no-color; the inline literal syntax on stdin too."""

from __future__ import annotations

import json

import pytest
from conftest import wxb

NAN_X = ("-X", "nan 1", "-b", "0")
NAN_W = ("-W", "nan 1; 0 1", "-X", "1; 2", "-b", "0; 0")

JSON_COMMANDS = {
    "forward": ("forward", *NAN_X),
    "backward": ("backward", "-W", "1 0; 0 1", "-X", "nan; 2", "-b", "0; 0", "-G", "1; 1", "--wrt", "W"),
    "backward-record": ("backward", *NAN_W, "-G", "1; 1", "--wrt", "all"),
    "check": ("check", *NAN_X),
    "explain": ("explain", *NAN_X),
    "jacobian-structure": ("jacobian", *NAN_X),
    "jacobian-dense": ("jacobian", *NAN_W, "--wrt", "X", "--dense"),
    "derive": ("derive", *NAN_W, "-G", "1; 1", "--eval"),
}


def strict_json(text: str) -> object:
    """text parsed as RFC 8259 JSON: NaN, Infinity and -Infinity refused."""

    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def nulls(value: object) -> int:
    if isinstance(value, dict):
        return sum(nulls(item) for item in value.values())
    if isinstance(value, list):
        return sum(nulls(item) for item in value)
    return int(value is None)


@pytest.mark.parametrize("name", list(JSON_COMMANDS))
def test_json_of_every_command_is_standard_json_on_one_line(name: str) -> None:
    done = wxb(*JSON_COMMANDS[name], "--format", "json")
    assert done.returncode in (0, 1), done.stderr  # check finds a NaN a mismatch
    assert done.stdout.endswith("\n") and done.stdout.count("\n") == 1, done.stdout
    record = strict_json(done.stdout)
    assert nulls(record) >= (name != "jacobian-structure")  # the NaN is there, as null (the structure has none)
    pretty = wxb(*JSON_COMMANDS[name], "--format", "json", "--pretty")
    assert pretty.stdout.count("\n") > 1 and "\n  " in pretty.stdout
    assert strict_json(pretty.stdout) == record


def test_the_issue_case_parses_strictly_and_infinity_is_null_too() -> None:
    done = wxb("forward", "-X", "nan 1", "-b", "0", "--format", "json")
    assert strict_json(done.stdout) == [[None, 1.0]] and "NaN in X" in done.stderr
    done = wxb("forward", "-X", "inf -inf", "-b", "0", "--format", "json")
    assert strict_json(done.stdout) == [[None, None]] and "infinite" in done.stderr


def test_json_null_reads_back_as_nan() -> None:
    done = wxb("forward", "-X", "-", "-b", "1", stdin="[[null, 1]]\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "nan,2.0\n"


def test_quiet_silences_notes_but_not_warnings() -> None:
    args = ("derive", "-e", "W @ X + b", "--format", "json")  # names only: a note says nothing is summed
    assert "wxb: note:" in wxb(*args).stderr
    quiet = wxb(*args, "-q")
    assert quiet.returncode == 0 and quiet.stderr == "" and quiet.stdout == wxb(*args).stdout
    warned = wxb("forward", *NAN_X, "--quiet")
    assert warned.stderr.startswith("wxb: warning: f has 1 NaN")


def test_no_color_is_accepted_and_colours_nothing() -> None:
    done = wxb("explain", "-X", "1 2; 3 4", "-b", "5; 6", "--no-color", env={"FORCE_COLOR": "1", "TERM": "xterm"})
    assert done.returncode == 0, done.stderr
    assert "\x1b[" not in done.stdout


@pytest.mark.parametrize("text", ["1 2; 3 4", "1 2; 3 4;", "[[1, 2], [3, 4]]", "1, 2; 3, 4"])
def test_the_inline_literal_syntax_reads_on_stdin(text: str) -> None:
    done = wxb("forward", "-X", "-", "-b", "5; 6", stdin=text + "\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "6.0,7.0\n9.0,10.0\n"


def test_a_semicolon_table_on_stdin_stays_a_table() -> None:
    done = wxb("forward", "-X", "-", "-b", "1", stdin="1;2;3\n4;5;6\n")
    assert done.returncode == 0 and done.stdout == "2.0,3.0,4.0\n5.0,6.0,7.0\n"


def test_a_bad_literal_on_stdin_keeps_the_tables_error() -> None:
    done = wxb("forward", "-X", "-", "-b", "5; 6", stdin="1 x; 3 4\n")
    assert done.returncode == 2 and "in -X stdin" in done.stderr
