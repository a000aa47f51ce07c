"""tests/molecule_lanes.py: the lanes `make molecule` runs, and what it prints of a failure."""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests"))

import molecule_lanes  # noqa: E402  pylint: disable=wrong-import-position


def makefile_lanes():
    with open(os.path.join(ROOT, "Makefile"), encoding="utf-8") as handle:
        match = re.search(r"^MOLECULE_LANES \?= (.*)$", handle.read(), re.M)
    assert match, "MOLECULE_LANES is not set in the Makefile"
    return match.group(1).split(";")


def test_the_makefile_lanes_hold_every_scenario_once():
    lanes, problems = molecule_lanes.parse_lanes(makefile_lanes(), ROOT, subset=False)
    assert problems == []
    assert sorted(name for lane in lanes for name in lane) == molecule_lanes.known_scenarios(ROOT)
    assert len(lanes) >= 2


def test_loop_device_scenarios_share_a_lane():
    lanes, _problems = molecule_lanes.parse_lanes(makefile_lanes(), ROOT, subset=False)
    with_loop_disks = [name for name in molecule_lanes.known_scenarios(ROOT)
                       if "loop_disks" in open(os.path.join(ROOT, "molecule", name, "molecule.yml"), encoding="utf-8").read()]
    assert with_loop_disks, "no scenario attaches loop disks any more: drop this test"
    holding = {index for index, lane in enumerate(lanes) for name in lane if name in with_loop_disks}
    assert len(holding) == 1, "scenarios with loop disks %s run in different lanes %s" % (with_loop_disks, lanes)


@pytest.mark.parametrize("lanes,subset,expected", [
    (["default", "default"], True, "scenario default is in more than one lane"),
    (["default nosuch"], True, "scenario nosuch has no molecule/nosuch/molecule.yml"),
    (["default"], False, "scenario etcd is in no lane"),
    ([" ", ""], True, "no scenario to run"),
])
def test_bad_lanes_are_refused(lanes, subset, expected):
    _lanes, problems = molecule_lanes.parse_lanes(lanes, ROOT, subset)
    assert expected in problems


def test_a_subset_may_leave_scenarios_out():
    lanes, problems = molecule_lanes.parse_lanes(["etcd ssh"], ROOT, subset=True)
    assert (lanes, problems) == ([["etcd", "ssh"]], [])


def test_the_excerpt_holds_the_failed_task_and_the_tail(tmp_path):
    log = tmp_path / "s.log"
    lines = ["line %d" % n for n in range(200)]
    lines[50] = "TASK [Only w1 changed] ****"
    lines[52] = "\x1b[31mfatal: [localhost]: FAILED! => {\"msg\": \"Assertion failed\"}\x1b[0m"
    lines[120] = "localhost : ok=3 changed=1 unreachable=0 failed=1 skipped=0"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    excerpt = molecule_lanes.failure_excerpt(str(log), tail=5)
    assert "TASK [Only w1 changed] ****" in excerpt
    assert 'fatal: [localhost]: FAILED! => {"msg": "Assertion failed"}' in excerpt
    assert "localhost : ok=3 changed=1 unreachable=0 failed=1 skipped=0" in excerpt
    assert excerpt[-5:] == ["line %d" % n for n in range(195, 200)]
    assert "line 10" not in excerpt


def test_a_failed_scenario_fails_the_run_and_stops_its_lane(tmp_path):
    fake = tmp_path / "molecule"
    fake.write_text("#!/bin/sh\necho \"ran $3\" >> %s/order\n[ \"$3\" = etcd ] && { echo 'fatal: [x]: FAILED!'; exit 2; }\nexit 0\n"
                    % tmp_path, encoding="utf-8")
    fake.chmod(0o755)
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "molecule_lanes.py"), "--subset", "--root", ROOT,
                           "--logdir", str(tmp_path / "logs"), "--molecule", str(fake), "--lanes", "etcd ssh; default"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    ran = sorted((tmp_path / "order").read_text(encoding="utf-8").split("\n"))
    assert ran == ["", "ran default", "ran etcd"]
    assert "lane 1  ssh" in proc.stdout and "not run" in proc.stdout
    assert proc.stdout.rstrip().endswith("=== FAILED: etcd")
    assert "fatal: [x]: FAILED!" in proc.stdout
