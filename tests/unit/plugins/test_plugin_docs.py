"""Every plugin's DOCUMENTATION, EXAMPLES and RETURN parse as YAML (Ansible loads a callback's
documentation when the callback is enabled: a broken one stops every run)."""
import ast
import glob
import os

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
PLUGINS = sorted(glob.glob(os.path.join(ROOT, "plugins", "*", "*.py")))


def _doc_strings(path):
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name in ("DOCUMENTATION", "EXAMPLES", "RETURN") and isinstance(node.value, ast.Constant):
                yield name, node.value.value


@pytest.mark.parametrize("path", PLUGINS, ids=[os.path.relpath(p, ROOT) for p in PLUGINS])
def test_docs_parse(path):
    for name, text in _doc_strings(path):
        try:
            yaml.safe_load(text)
        except yaml.YAMLError as exc:
            pytest.fail("%s %s: %s" % (os.path.relpath(path, ROOT), name, exc))


def test_the_callback_is_covered():
    assert any(p.endswith(os.path.join("callback", "stage_summary.py")) for p in PLUGINS)
