"""Run the Molecule scenarios in parallel lanes (`make molecule`).

Each lane runs its scenarios one after another with `molecule test -s NAME`; the
lanes run side by side. Scenarios use their own container names, networks and
ephemeral directories, so lanes do not share state; the two that attach loop
devices (storage, ssh) are kept in one lane. A lane stops at its first failed
scenario; the other lanes go on, so one run shows every failure.

Each scenario's output goes to LOGDIR/NAME.log. This script prints one line per
scenario as it starts and ends, a table of times, and at the very end, for each
failed scenario, the failed tasks and the last lines of its log (CI keeps the
tail of the output).
"""

import argparse
import glob
import os
import re
import subprocess
import sys
import threading
import time

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
FAILURE = re.compile(r"^(fatal:|failed:|FAILED|ERROR|E  |\S+ +: ok=\d+ +changed=\d+ +unreachable=\d+ +failed=[1-9])")


def known_scenarios(root):
    return sorted(os.path.basename(os.path.dirname(p)) for p in glob.glob(os.path.join(root, "molecule", "*", "molecule.yml")))


def parse_lanes(lanes, root, subset):
    """Lanes as lists of scenario names; every scenario once, and all of them unless subset."""
    parsed = [lane.split() for lane in lanes if lane.split()]
    names = [name for lane in parsed for name in lane]
    known = known_scenarios(root)
    problems = []
    for name in sorted(set(names)):
        if names.count(name) > 1:
            problems.append("scenario %s is in more than one lane" % name)
        if name not in known:
            problems.append("scenario %s has no molecule/%s/molecule.yml" % (name, name))
    if not subset:
        problems += ["scenario %s is in no lane" % name for name in known if name not in names]
    if not parsed:
        problems.append("no scenario to run")
    return parsed, problems


def failure_excerpt(path, context=6, limit=120, tail=40):
    """The failed tasks of a scenario log, with a few lines before each, and its last lines."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = [ANSI.sub("", line.rstrip("\n")) for line in handle]
    except OSError as exc:
        return ["(no log: %s)" % exc]
    keep = set()
    for index, line in enumerate(lines):
        if FAILURE.search(line.strip().lstrip("│ ").strip()):
            keep.update(range(max(0, index - context), min(len(lines), index + 4)))
    picked = [lines[i] for i in sorted(keep)][-limit:]
    return picked + ["--- last %d lines of %s" % (tail, path)] + lines[-tail:]


class Lane(threading.Thread):
    def __init__(self, number, scenarios, args, report):
        super().__init__(daemon=True)
        self.number = number
        self.scenarios = scenarios
        self.args = args
        self.report = report
        self.results = []

    def run(self):
        for name in self.scenarios:
            log = os.path.join(self.args.logdir, name + ".log")
            self.report("=== lane %d: molecule test -s %s (log %s)" % (self.number, name, log))
            start = time.monotonic()
            with open(log, "w", encoding="utf-8") as out:
                rc = subprocess.call([self.args.molecule, "test", "-s", name], stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.args.root)
            seconds = time.monotonic() - start
            self.results.append((name, rc, seconds, log))
            self.report("=== lane %d: %s %s in %.0f s" % (self.number, name, "passed" if rc == 0 else "FAILED (rc %d)" % rc, seconds))
            if rc != 0:
                for later in self.scenarios[self.scenarios.index(name) + 1:]:
                    self.results.append((later, None, 0.0, None))
                return


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lanes", required=True, help="lanes separated by ';', each a space-separated list of scenarios in order")
    parser.add_argument("--subset", action="store_true", help="allow lanes that leave scenarios out")
    parser.add_argument("--root", default=os.getcwd())
    parser.add_argument("--logdir", default=None)
    parser.add_argument("--molecule", default="molecule")
    args = parser.parse_args(argv)
    args.logdir = args.logdir or os.path.join(args.root, ".cache", "molecule-logs")
    lanes, problems = parse_lanes(args.lanes.split(";"), args.root, args.subset)
    if problems:
        for problem in problems:
            print("molecule_lanes: " + problem, file=sys.stderr)
        return 2
    os.makedirs(args.logdir, exist_ok=True)
    lock = threading.Lock()

    def report(line):
        with lock:
            print(time.strftime("%H:%M:%S ") + line, flush=True)

    start = time.monotonic()
    threads = [Lane(number, scenarios, args, report) for number, scenarios in enumerate(lanes, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results = [result for thread in threads for result in thread.results]
    failed = [result for result in results if result[1]]
    print("=== molecule scenario times (%d lanes, %.0f s wall)" % (len(lanes), time.monotonic() - start))
    for thread in threads:
        for name, rc, seconds, _log in thread.results:
            state = "not run" if rc is None else ("ok" if rc == 0 else "FAILED")
            print("lane %d  %-16s %6.0fs  %s" % (thread.number, name, seconds, state))
    for name, rc, _seconds, log in failed:
        print("=== molecule scenario %s FAILED (rc %d): failed tasks and the end of its log" % (name, rc))
        for line in failure_excerpt(log):
            print(line)
    if failed:
        print("=== FAILED: " + " ".join(result[0] for result in failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
