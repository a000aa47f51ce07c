"""`make bench`: wall time of stage playbooks on fresh lab nodes (a report, not a test).

For each size (3 and 9 nodes) it starts fresh node containers on their own
network, runs each stage playbook once, timing it, and for 3 nodes runs them
again (the no-op re-run). Prints a table of medians when --repeat > 1.
Per-task timing of every run is kept in .cache/bench/<run>.log.

etcd is installed from a release archive, as an offline mirror would serve
it: the archive is repacked from Debian's etcd-server and etcd-client
binaries (a stand-in for the upstream tarball) and served over HTTP from this
host on the bench network's gateway address.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from etcd_archive import build as etcd_archive_build  # noqa: E402  pylint: disable=wrong-import-position

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BENCH = os.path.join(ROOT, ".cache", "bench")
BIN = os.path.join(ROOT, ".venv", "bin")


GATEWAY = "172.30.50.1"
MIRROR_PORT = 8098


def etcd_archive():
    """Repack Debian's etcd binaries in the upstream archive layout; return (name, sha256)."""
    result = etcd_archive_build(BENCH)
    return result["name"], result["sha256"]


def bench_pki(size):
    # Outside the repository (preflight refuses a PKI directory in a git work tree), named after the bench cluster.
    return os.path.join(os.path.expanduser("~"), ".ironstone", "pki", "ironstone-bench-%d" % size)


def inventory(size, stages):
    hosts = {}
    for i in range(1, size + 1):
        name = "b%d" % i
        hosts[name] = {"ansible_host": "ironstone-bench-" + name, "lab_address": "172.30.50.%d" % (10 + i)}
    members = {name: None for name in hosts}
    data = {"all": {
        "hosts": hosts,
        "vars": {
            "ironstone_profile": "lab",
            "ansible_connection": "community.docker.docker",
            "ansible_python_interpreter": "/usr/bin/python3",
            "lab_network_name": "ironstone-bench",
            "lab_subnet": "172.30.50.0/24",
            "lab_container_prefix": "ironstone-bench-",
            "lab_known_groups": ["etcd", "kube_control_plane", "kube_node", "edge"],
            "etcd_address": "{{ lab_address }}",
            # Each bench cluster is a new cluster with a CA of its own, never the lab's (one PKI directory per cluster).
            "etcd_cluster_name": "ironstone-bench-%d" % size,
            "etcd_pki_dir": bench_pki(size),
        },
        "children": {"kube_node": {"hosts": dict(members)}, "etcd": {"hosts": dict(members)}},
    }}
    if "etcd" in stages:
        name, sha256 = etcd_archive()
        data["all"]["vars"].update({
            "etcd_install_source": "archive",
            "etcd_archive_url": "http://%s:%d/%s" % (GATEWAY, MIRROR_PORT, name),
            "etcd_archive_sha256": sha256,
        })
    path = os.path.join(BENCH, "inventory-%d.json" % size)
    with open(path, "w") as handle:
        json.dump(data, handle, indent=1)
    return path


def run(args, log):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_HOME=os.path.join(ROOT, ".ansible"),
               ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks,ironstone.k8s.stage_summary",
               PROFILE_TASKS_TASK_OUTPUT_LIMIT="8")
    start = time.monotonic()
    with open(log, "w") as handle:
        proc = subprocess.run(args, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, check=False)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit("bench: %s failed (rc=%d); see %s" % (" ".join(args[:3]), proc.returncode, log))
    return elapsed


def recap_changed(log):
    changed = 0
    with open(log) as handle:
        for line in handle:
            if " changed=" in line and ": ok=" in line:
                changed += int(line.split(" changed=")[1].split()[0])
    return changed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="3,9")
    existing = [s for s in ("runtime", "etcd") if os.path.exists(os.path.join(ROOT, "playbooks", s + ".yml"))]
    parser.add_argument("--stages", default=",".join(existing))
    parser.add_argument("--repeat", type=int, default=1)
    opts = parser.parse_args()
    os.makedirs(BENCH, exist_ok=True)
    with open(os.path.join(ROOT, ".cache", "lab", "image")) as handle:
        image = handle.read().strip()
    stages = [s for s in opts.stages.split(",") if s]
    rows = {}
    for rep in range(opts.repeat):
        for size in [int(s) for s in opts.sizes.split(",")]:
            inv = inventory(size, stages)
            down = [os.path.join(BIN, "ansible-playbook"), "-i", inv, "lab/down.yml"]
            run(down, os.path.join(BENCH, "down.log"))
            # Fresh nodes make a new cluster: its PKI starts empty too.
            shutil.rmtree(bench_pki(size), ignore_errors=True)
            run([os.path.join(BIN, "ansible-playbook"), "-i", inv, "lab/up.yml", "-e", "lab_image=" + image],
                os.path.join(BENCH, "up-%d.log" % size))
            server = None
            if "etcd" in stages:
                server = subprocess.Popen([sys.executable, "-m", "http.server", str(MIRROR_PORT), "--bind", GATEWAY,
                                           "--directory", os.path.join(BENCH, "mirror")],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for stage in stages:
                log = os.path.join(BENCH, "%s-%d-fresh-%d.log" % (stage, size, rep))
                took = run([os.path.join(BIN, "ansible-playbook"), "-i", inv, "playbooks/%s.yml" % stage], log)
                rows.setdefault((stage, size, "fresh"), []).append((took, recap_changed(log)))
            if size == 3:
                for stage in stages:
                    log = os.path.join(BENCH, "%s-%d-noop-%d.log" % (stage, size, rep))
                    took = run([os.path.join(BIN, "ansible-playbook"), "-i", inv, "playbooks/%s.yml" % stage], log)
                    rows.setdefault((stage, size, "no-op"), []).append((took, recap_changed(log)))
            if server is not None:
                server.terminate()
                server.wait()
            run(down, os.path.join(BENCH, "down.log"))
            # Fresh nodes make a new cluster: its PKI starts empty too.
            shutil.rmtree(bench_pki(size), ignore_errors=True)
    print("\n%-10s %6s %-7s %10s %9s %6s" % ("stage", "nodes", "run", "median s", "changed", "runs"))
    for (stage, size, kind), values in sorted(rows.items()):
        median = statistics.median(v[0] for v in values)
        print("%-10s %6d %-7s %10.1f %9d %6d" % (stage, size, kind, median, values[-1][1], len(values)))
    for stage in stages:
        three, nine = rows.get((stage, 3, "fresh")), rows.get((stage, 9, "fresh"))
        if three and nine:
            ratio = statistics.median(v[0] for v in nine) / statistics.median(v[0] for v in three)
            print("%s: 9 nodes take %.2fx the 3-node time (target <= 1.3x)" % (stage, ratio))
        noop = rows.get((stage, 3, "no-op"))
        if noop:
            print("%s: no-op re-run %.1f s on 3 nodes (target <= 15 s)" % (stage, statistics.median(v[0] for v in noop)))
    print("Per-task timing: %s/*.log" % BENCH)


if __name__ == "__main__":
    main()
