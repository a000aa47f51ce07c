"""Each role's ``meta/argument_specs.yml`` agrees with its ``defaults/main.yml``.

``ansible-doc -t role`` and the validation at the start of each entry point read the spec; the play
reads the defaults (a spec default is documentation only: Ansible does not apply it). Where the two
disagree, the documentation says one thing and the role does another.
"""
import pathlib

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
ROLE_DIRS = sorted(p for p in ROOT.glob("roles/*") if p.is_dir())


def _load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f) or {}


def _specs(role):
    """{entry point: {option: spec}} from the role's argument_specs."""
    entries = _load(role / "meta" / "argument_specs.yml")["argument_specs"]
    return {name: entry.get("options") or {} for name, entry in entries.items()}


def _defaults(role):
    path = role / "defaults" / "main.yml"
    return _load(path) if path.exists() else {}


def test_every_role_has_a_main_entry_point():
    assert ROLE_DIRS, "no roles found under roles/"
    missing = [r.name for r in ROLE_DIRS if not (r / "meta" / "argument_specs.yml").exists()]
    assert not missing, f"roles without meta/argument_specs.yml: {missing}"
    no_main = [r.name for r in ROLE_DIRS if "main" not in _specs(r)]
    assert not no_main, f"roles whose argument_specs has no main entry point: {no_main}"


@pytest.mark.parametrize("role", ROLE_DIRS, ids=lambda p: p.name)
def test_main_spec_defaults_match_defaults_main(role):
    defaults = _defaults(role)
    wrong = {
        name: {"spec": opt["default"], "defaults/main.yml": defaults.get(name, "<absent>")}
        for name, opt in _specs(role)["main"].items()
        if "default" in opt and defaults.get(name, object()) != opt["default"]
    }
    assert not wrong, f"{role.name}: main entry point defaults differ from defaults/main.yml: {wrong}"


@pytest.mark.parametrize("role", ROLE_DIRS, ids=lambda p: p.name)
def test_other_entry_point_defaults_match_defaults_main(role):
    defaults = _defaults(role)
    wrong = {
        f"{entry}.{name}": {"spec": opt["default"], "defaults/main.yml": defaults.get(name, "<absent>")}
        for entry, options in _specs(role).items()
        if entry != "main"
        for name, opt in options.items()
        if "default" in opt and defaults.get(name, object()) != opt["default"]
    }
    assert not wrong, f"{role.name}: entry point defaults differ from defaults/main.yml: {wrong}"


@pytest.mark.parametrize("role", ROLE_DIRS, ids=lambda p: p.name)
def test_defaults_main_is_declared(role):
    declared = {name for options in _specs(role).values() for name in options}
    undeclared = sorted(set(_defaults(role)) - declared)
    assert not undeclared, f"{role.name}: defaults/main.yml sets variables no entry point declares: {undeclared}"


@pytest.mark.parametrize("role", ROLE_DIRS, ids=lambda p: p.name)
def test_declared_options_show_their_default(role):
    defaults = _defaults(role)
    hidden = sorted(
        f"{entry}.{name}"
        for entry, options in _specs(role).items()
        for name, opt in options.items()
        if name in defaults and "default" not in opt
    )
    assert not hidden, f"{role.name}: options declared without the default that defaults/main.yml sets: {hidden}"
