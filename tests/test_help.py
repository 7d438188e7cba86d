"""Help that teaches and completion that works: shell completion driven through its protocol in a subprocess,
-h and `wxb help` on every command, `wxb help functions` from the table of primitives, option texts that are true."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from conftest import ROOT, shell, wxb

from wxb.cli.show import topics
from wxb.core.expr import BINARY
from wxb.core.primitives import PRIMITIVES

COMMANDS = ["forward", "backward", "jvp", "jacobian", "hessian", "check", "explain", "derive", "convert", "demo"]
FORMATS = {  # what Tab offers for --format, per command
    "forward": ["table", "csv", "tsv", "json", "npy", "npz"],
    "backward": ["table", "csv", "tsv", "json", "npy", "npz"],
    "jvp": ["table", "csv", "tsv", "json", "npy", "npz"],
    "jacobian": ["table", "text", "json", "csv", "tsv", "npy", "npz"],
    "hessian": ["table", "text", "csv", "tsv", "json", "npy", "npz"],
    "check": ["table", "text", "csv", "tsv", "json"],
    "explain": ["table", "text", "json", "markdown", "latex"],
    "derive": ["text", "json", "markdown", "latex", "numpy"],
    "demo": ["table", "text"],
}
SEED = ["-X", "1 2; 3 4", "-b", "5; 6"]
RUNS = {  # a run of each command that every --format it offers can write
    "forward": SEED, "backward": SEED, "jvp": [*SEED, "--tangent", "b=1; 0"], "jacobian": SEED, "check": SEED,
    "hessian": ["-e", "x.T @ A @ x", "x=1; 2", "A=2 1; 1 3", "--wrt", "x"],
    "explain": SEED,
    "derive": ["-e", "sum(W @ X)", "W=2x2", "X=2x2"], "demo": [],
}


def complete(shell_name: str, line: str) -> tuple[int, str, str]:
    """What wxb answers when `shell_name` asks it to complete `line` (Tab at its end), as the installed script asks."""
    if shell_name == "bash":
        words = shlex.split(line) + ([""] if line.endswith(" ") else [])
        env = {"_WXB_COMPLETE": "complete_bash", "COMP_WORDS": " ".join(shlex.quote(w) for w in words),
               "COMP_CWORD": str(len(words) - 1)}
    elif shell_name == "zsh":
        env = {"_WXB_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": line}
    else:
        env = {"_WXB_COMPLETE": "complete_fish", "_TYPER_COMPLETE_ARGS": line,
               "_TYPER_COMPLETE_FISH_ACTION": "get-args"}
    done = wxb(env=env)
    return done.returncode, done.stdout, done.stderr


def offered(shell_name: str, line: str) -> list[str]:
    """The values offered for `line`, without the shell's own wrapping (zsh's _arguments, fish's help column)."""
    status, out, err = complete(shell_name, line)
    assert status == 0, err
    assert "usage" not in (out + err).lower()
    if shell_name == "zsh":
        items = out.strip().removeprefix("_arguments '*: :((").removesuffix("))'")
        return re.findall(r'"((?:[^"]|"")*)"(?::"[^"]*")?', items)
    return [item.split("\t")[0] for item in out.splitlines() if item]


# ---- completion ----

@pytest.mark.parametrize("shell_name", ["bash", "zsh", "fish"])
def test_command_names_complete_in_every_shell(shell_name: str) -> None:
    assert offered(shell_name, "wxb ba") == ["backward"]


@pytest.mark.parametrize("shell_name", ["bash", "zsh", "fish"])
def test_options_complete(shell_name: str) -> None:
    assert offered(shell_name, "wxb forward --fo") == ["--format"]


@pytest.mark.parametrize("command", sorted(FORMATS))
def test_format_values_complete_and_each_is_accepted_and_named_in_the_help(command: str, tmp_path: Path) -> None:
    assert offered("bash", f"wxb {command} --format ") == FORMATS[command]
    help_text = " ".join(wxb(command, "--help").stdout.split())
    for fmt in FORMATS[command]:
        assert fmt in help_text
        dense = ["--dense"] if command == "jacobian" and fmt not in ("table", "text", "json") else []
        done = wxb(command, *RUNS[command], *dense, "--format", fmt, cwd=tmp_path, text=False)
        assert done.returncode == 0, (fmt, done.stderr)


def test_loss_values_complete() -> None:
    assert offered("bash", "wxb backward --loss ") == ["sum", "mean", "mse"]
    assert offered("fish", "wxb derive --loss ") == ["sum", "mean"]


@pytest.mark.parametrize("option", ["-W", "-X", "-b", "-G", "-T", "--output"])
def test_operand_values_fall_back_to_file_names_in_every_shell(option: str) -> None:
    line = f"wxb backward {option} "
    status, out, _ = complete("bash", line)
    assert (status, out.strip()) == (0, "")  # nothing of wxb's own: the script's `complete -o default` offers files
    assert complete("zsh", line)[1].strip() == "_files"
    is_args = wxb(env={"_WXB_COMPLETE": "complete_fish", "_TYPER_COMPLETE_ARGS": line,
                       "_TYPER_COMPLETE_FISH_ACTION": "is-args"})
    assert is_args.returncode == 1  # fish: no values of wxb's own, so it completes file names


def test_a_binding_falls_back_to_file_names() -> None:
    assert complete("zsh", "wxb forward -e 'A @ x' A=")[1].strip() == "_files"


@pytest.mark.parametrize(("shell_name", "start"), [("bash", "_wxb_completion()"), ("zsh", "#compdef wxb"),
                                                   ("fish", "complete --command wxb")])
def test_show_completion_prints_the_named_shells_script(shell_name: str, start: str) -> None:
    done = wxb("--show-completion", shell_name)
    assert done.returncode == 0
    assert done.stdout.lstrip().startswith(start)


def test_the_installed_bash_script_completes_a_command_name(tmp_path: Path) -> None:
    script = ('eval "$(wxb --show-completion bash)"; COMP_WORDS=(wxb ba); COMP_CWORD=1; _wxb_completion wxb; '
              'printf "%s\\n" "${COMPREPLY[@]}"')
    done = shell(script, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["backward"]


def test_no_private_typer_or_click_module_is_imported() -> None:
    sources = "\n".join(p.read_text() for p in (ROOT / "cli").rglob("*.py"))
    assert "typer._" not in sources
    assert "click._" not in sources


# ---- -h and wxb help ----

@pytest.mark.parametrize("command", COMMANDS)
def test_h_is_help_on_every_command_and_help_command_is_its_alias(command: str) -> None:
    full = wxb(command, "--help")
    assert full.returncode == 0
    assert f"Usage: wxb {command}" in full.stdout
    assert wxb(command, "-h").stdout == full.stdout
    assert wxb("help", command).stdout == full.stdout


def test_help_alone_is_the_top_help_and_it_ends_with_where_the_manual_is() -> None:
    top = wxb("--help")
    assert wxb("help").stdout == top.stdout == wxb("-h").stdout
    tail = " ".join(top.stdout.split()[-40:])
    assert "docs/index.md" in tail
    assert "wxb help functions" in " ".join(top.stdout.split())


def test_help_functions_lists_every_function_and_operator_with_its_rule() -> None:
    done = wxb("help", "functions")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    for name, row in PRIMITIVES.items():
        if row.called:
            line = next(i for i, text in enumerate(lines) if text.strip().startswith(f"{name}("))
            assert "dL/dx" in lines[line] + lines[line + 1]
    for op in ("+", "-", "*", "/", "@", "**"):
        assert any(re.match(rf"\s+x {re.escape(op)} [yp]\s", text) for text in lines), op
    assert any(text.strip().startswith("x.T ") for text in lines)
    assert len(BINARY) == 6  # the operators above are the parser's whole table


def test_help_function_shows_value_rule_gradient_and_an_example() -> None:
    done = wxb("help", "logdet")
    assert done.returncode == 0
    assert "dL/dx = expand(G) * inv(x).T" in done.stdout
    assert "d log|det x| = tr(x⁻¹·dx)" in done.stdout
    assert "example:  wxb derive -e 'logdet(X)' X=2x2" in done.stdout
    assert wxb("help", "@").stdout.startswith("x @ y")


@pytest.mark.parametrize("name", list(PRIMITIVES))
def test_every_functions_example_runs_anywhere(name: str, tmp_path: Path) -> None:
    example = topics.example(PRIMITIVES[name])
    done = shell(example, cwd=tmp_path)
    assert done.returncode == 0, (example, done.stderr)
    assert "Traceback" not in done.stderr


def test_help_on_nothing_known_is_one_line_exit_two_with_the_closest_name() -> None:
    done = wxb("help", "logdte")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("wxb: error: no help on 'logdte'")
    assert "logdet" in done.stderr
    assert "forward" in wxb("help", "qqqq").stderr


# ---- option texts true for the command they are shown on ----

@pytest.mark.parametrize("command", ["check", "explain", "derive", "demo"])
def test_o_promises_zarr_only_where_zarr_is_written(command: str, tmp_path: Path) -> None:
    assert "zarr" not in wxb(command, "--help").stdout.lower().replace("dask", "")
    refused = wxb(command, *RUNS[command], "-o", "out.zarr", cwd=tmp_path)
    assert refused.returncode == 2


def test_the_dask_panel_names_the_dask_extra_that_pyproject_defines() -> None:
    text = " ".join(wxb("forward", "--help").stdout.split())
    assert "pip install '.[dask]'" in text
    assert "wxb[dask]" not in text
    assert "\ndask = [" in (ROOT / "pyproject.toml").read_text()


def test_derives_T_does_not_say_it_has_no_loss() -> None:
    text = " ".join(wxb("derive", "--help").stdout.split())
    assert "this command has no loss" not in text
    assert "--loss mse" in text
    assert "mse" not in " ".join(offered("bash", "wxb derive --loss "))


def test_converts_panels_name_only_what_it_takes() -> None:
    text = wxb("convert", "--help").stdout
    assert "FILE.npz:KEY" not in text
    assert "Source text" in text
