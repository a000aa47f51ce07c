"""Check the execution environment definition of the installed collection with ansible-builder.

1. ``ansible-builder introspect`` over the offline install (``make package-check``) must attribute every
   requirement of ``meta/ee-requirements.txt`` and ``bindep.txt`` to ironstone.k8s: this is how any
   execution environment that installs the collection finds its Python and system packages, and it
   fails if ``meta/execution-environment.yml`` names a file the tarball does not ship.
2. ``ansible-builder create`` on a copy of the definition at the collection root must write a build
   context whose requirements are those files and whose Galaxy requirements name ironstone.k8s.
   The image itself is not built: no container registry is reachable here.
"""
import argparse
import pathlib
import shutil
import subprocess
import sys

import yaml

OWN = "ironstone.k8s"


def fail(msg):
    print(f"ee-check: FAILED: {msg}", file=sys.stderr)
    sys.exit(1)


def requirement_lines(path):
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]


def run(cmd):
    res = subprocess.run(cmd, text=True, capture_output=True, check=False)
    if res.returncode != 0:
        fail(f"{' '.join(map(str, cmd))} exited {res.returncode}: {(res.stdout + res.stderr).strip()}")
    return res.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--collections", required=True, type=pathlib.Path,
                    help="collections path that holds the offline install")
    ap.add_argument("--work", required=True, type=pathlib.Path)
    a = ap.parse_args()

    installed = a.collections / "ansible_collections" / "ironstone" / "k8s"
    definition = yaml.safe_load((installed / "meta" / "execution-environment.yml").read_text())
    deps = definition["dependencies"]
    python = requirement_lines(installed / deps["python"])
    system = requirement_lines(installed / deps["system"])

    # 1. Introspection, as in any execution environment that installs the collection.
    found = yaml.safe_load(run(["ansible-builder", "introspect", "--sanitize", str(a.collections)]).split("---", 1)[1])
    for kind, wanted in (("python", python), ("system", system)):
        ours = [line.split("  # from collection ")[0] for line in found.get(kind) or []
                if line.endswith(f"# from collection {OWN}")]
        if ours != wanted:
            fail(f"ansible-builder introspect gives {OWN} the {kind} requirements {ours}, expected {wanted} "
                 f"from {deps[kind]}")
    print(f"ee-check: introspection finds {OWN}'s {len(python)} Python and {len(system)} system requirements")

    # 2. A build context from the definition.
    src, context = a.work / "src", a.work / "context"
    shutil.rmtree(a.work, ignore_errors=True)
    shutil.copytree(installed, src)
    shutil.copy(src / "meta" / "execution-environment.yml", src / "execution-environment.yml")
    run(["ansible-builder", "create", "-f", str(src / "execution-environment.yml"), "-c", str(context),
         "--output-filename", "Containerfile"])
    build = context / "_build"
    if requirement_lines(build / "requirements.txt") != python:
        fail(f"{build / 'requirements.txt'} does not hold the requirements of {deps['python']}")
    if requirement_lines(build / "bindep.txt") != system:
        fail(f"{build / 'bindep.txt'} does not hold the requirements of {deps['system']}")
    galaxy = yaml.safe_load((build / "requirements.yml").read_text())
    if OWN not in [c["name"] for c in galaxy.get("collections", [])]:
        fail(f"{build / 'requirements.yml'} does not name {OWN}: {galaxy}")
    containerfile = (context / "Containerfile").read_text()
    base = definition["images"]["base_image"]["name"]
    if base not in containerfile:
        fail(f"{context / 'Containerfile'} does not start from {base}")
    print(f"ee-check: build context in {context} (from {base}; the image is not built here)")


if __name__ == "__main__":
    main()
