"""`fera -h` and every subcommand's -h, found by walking the parser (no hand-kept list): they exit 0, show an
example, lead with the assistant, and every "(default X)" is the value the code really uses."""
import argparse
import dataclasses
import math
import re

import pytest

from fera.cli import build_parser, main


def _commands(parser, words=()):
    """(words, parser) for every subcommand at any depth, e.g. (("data", "get"), its parser)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*words, name), sub
                yield from _commands(sub, (*words, name))


COMMANDS = dict(_commands(build_parser()))


def _help(capsys, argv):
    with pytest.raises(SystemExit) as e:
        main([*argv, "-h"])
    assert e.value.code == 0
    return capsys.readouterr().out


def _expected(action):
    """The default an option's "(default X)" must show: its settings field's, else argparse's own."""
    setting = getattr(action, "setting", None)
    if setting:
        cls, name = setting
        f = next(f for f in dataclasses.fields(cls) if f.name == name)
        return f.default_factory() if f.default is dataclasses.MISSING else f.default
    return action.default


def _same(shown, expected, action):
    value = (action.type or str)(shown)
    if isinstance(expected, float):
        return math.isclose(value, expected)
    return value == expected


def test_the_discovered_commands_include_the_nested_ones():
    assert {("assist",), ("data",), ("data", "get"), ("data", "verify"), ("train",), ("serve",)} <= set(COMMANDS)


def test_top_level_help_leads_with_the_assistant(capsys):
    out = _help(capsys, [])
    description = out.split("\n\n")[1]
    assert "fera assist" in description and "blind" in description
    listed = re.findall(r"^    (\w+)", out, flags=re.M)
    assert listed[0] == "assist" and set(listed) == {w[0] for w in COMMANDS}
    assert "examples:\n  fera assist" in out


@pytest.mark.parametrize("words", sorted(COMMANDS), ids=" ".join)
def test_help_exits_0_with_an_example_and_true_defaults(words, capsys):
    out = _help(capsys, list(words))
    assert f"usage: fera {' '.join(words)}" in out
    assert re.search(rf"^examples:\n  (\S+ \| )?fera {' '.join(words)}\b", out, flags=re.M), out
    for action in COMMANDS[words]._actions:
        for shown in re.findall(r"\(default([^);]*)", action.help or ""):
            if shown.startswith(":"):  # "(default: the run's)": a description of what happens without it
                assert _expected(action) is None, f"{action.option_strings}: a described default but a value"
                continue
            expected = _expected(action)
            assert expected is not None, f"{words} {action.option_strings}: hand-written default {shown!r}"
            shown = shown.strip().split(": ")[0]  # "(default 127.0.0.1: this computer only)"
            assert _same(shown, expected, action), f"{words} {action.option_strings}: {shown} != {expected}"


def test_assist_help_lists_the_keys_it_understands(capsys):
    from fera.runtime.keys import KEYS

    out = _help(capsys, ["assist"])
    keys = out.split("keys while")[1].split("examples:")[0]
    for key, what in KEYS.items():
        assert re.search(rf"^  {'space' if key == ' ' else key} +{what}$", keys, flags=re.M), (key, keys)


def test_evaluate_help_shows_the_batch_size_the_code_uses(capsys):
    action = next(a for a in COMMANDS[("evaluate",)]._actions if a.dest == "batch_size")
    assert "(default 256)" in _help(capsys, ["evaluate"]) and action.default == 256


@pytest.mark.parametrize("command", ["evaluate", "calibrate", "export"])
@pytest.mark.parametrize("option", ["--img_size", "--seed", "--val_split", "--cache_dir", "--no_cache"])
def test_options_a_command_ignores_are_not_offered(command, option, capsys):
    assert option not in _help(capsys, [command])
    with pytest.raises(SystemExit) as e:
        main([command, option, "1"] if option != "--no_cache" else [command, option])
    assert e.value.code == 2 and f"unrecognized arguments: {option}" in capsys.readouterr().err


@pytest.mark.parametrize("command, option", [("train", "--img_size"), ("train", "--seed"), ("data", "--no_cache"),
                                             ("evaluate", "--batch_size"), ("calibrate", "--data_root"),
                                             ("export", "--data_root")])
def test_options_a_command_uses_are_kept(command, option, capsys):
    assert option in _help(capsys, [command])
