"""Install the built collection tarball the way a user does, with no Galaxy server.

1. For every collection in ``galaxy.yml`` ``dependencies``, make an artifact tarball from the copy that
   the pinned ``ansible`` package installed (an installed collection keeps ``MANIFEST.json`` and
   ``FILES.json``, which is what an artifact holds). A file whose sha256 differs from ``FILES.json``
   stops the check, so the tarball is the published artifact, not whatever the venv now holds.
2. Without those tarballs, ``ansible-galaxy collection install --offline`` of our tarball into an empty
   path must fail and name a missing dependency: the declared dependencies are really resolved.
3. With a ``requirements.yml`` of local ``type: file`` entries it must install our collection and every
   dependency, at the versions of those tarballs (the resolver checks them against the ranges).
4. ``ansible-doc -t role -l`` on the installed copy lists every role of the repository.
5. The installed copy is self-contained: it holds nothing of the development harness (the lab, the
   Molecule scenarios, the tests), and no shipped playbook, role, plugin, meta or inventory file names a
   path under them.
6. Every collection that shipped code names is declared in ``galaxy.yml``.
7. The stage summary works from the installed copy, outside the repository: with the two lines of the
   shipped ``inventories/sample/ansible.cfg`` a preflight run ends with the summary; without them it
   does not.

The Galaxy server is pointed at a closed local port, so a step that tried the network would fail.
"""
import argparse
import hashlib
import io
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tarfile
import time

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLOSED_SERVER = "http://127.0.0.1:9/api/"
HARNESS = ("lab", "molecule", "tests", "inventories/lab")
HARNESS_REF = re.compile(r"(?<![\w./-])(?:%s)/" % "|".join(re.escape(h) for h in HARNESS))
SHIPPED_CODE = ("playbooks", "roles", "plugins", "meta", "inventories")


def fail(msg):
    print(f"package-check: FAILED: {msg}", file=sys.stderr)
    sys.exit(1)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def artifact_from_installed(src, out_dir):
    """Write ``namespace-name-version.tar.gz`` from an installed collection; reuse a current one.

    The ``ansible`` package leaves out some files of each artifact (``tests/``, ``docs/``, dot-files), so
    ``FILES.json`` is cut down to the files that are there, each checked against the upstream checksum,
    and ``MANIFEST.json`` gets the checksum of that ``FILES.json``.
    """
    manifest = json.loads((src / "MANIFEST.json").read_text())
    info = manifest["collection_info"]
    out = out_dir / f"{info['namespace']}-{info['name']}-{info['version']}.tar.gz"
    if out.exists() and out.stat().st_mtime >= (src / "FILES.json").stat().st_mtime:
        return out, info
    files_json = json.loads((src / "FILES.json").read_text())
    kept = []
    for entry in files_json["files"]:
        path = src / entry["name"]
        if entry["ftype"] == "dir" and path.is_dir():
            kept.append(entry)
        elif entry["ftype"] == "file" and path.is_file():
            if sha256(path) != entry["chksum_sha256"]:
                fail(f"{path} differs from the checksum in its FILES.json; reinstall the ansible package (make setup).")
            kept.append(entry)
    files_bytes = json.dumps(dict(files_json, files=kept), indent=4).encode()
    manifest["file_manifest_file"]["chksum_sha256"] = hashlib.sha256(files_bytes).hexdigest()
    manifest_bytes = json.dumps(manifest, indent=4).encode()
    tmp = out.with_suffix(".partial")
    with tarfile.open(tmp, "w:gz", compresslevel=1) as tar:
        for name, data in (("MANIFEST.json", manifest_bytes), ("FILES.json", files_bytes)):
            member = tarfile.TarInfo(name)
            member.size, member.mode, member.mtime = len(data), 0o644, int(time.time())
            tar.addfile(member, io.BytesIO(data))
        for entry in kept:
            if entry["name"] != ".":
                tar.add(src / entry["name"], arcname=entry["name"], recursive=False)
    tmp.rename(out)
    return out, info


def galaxy(args, env):
    return subprocess.run(["ansible-galaxy", "collection", "install", "--offline", "--force", *args],
                          env=env, text=True, capture_output=True, check=False)


def installed(path):
    """{fqcn: version} of the collections under ``path``."""
    found = {}
    for manifest in sorted(path.glob("ansible_collections/*/*/MANIFEST.json")):
        info = json.loads(manifest.read_text())["collection_info"]
        found[f"{info['namespace']}.{info['name']}"] = info["version"]
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tarball", required=True, type=pathlib.Path)
    ap.add_argument("--site", required=True, type=pathlib.Path,
                    help="the ansible_collections folder of the pinned ansible package")
    ap.add_argument("--work", required=True, type=pathlib.Path)
    a = ap.parse_args()
    start = time.monotonic()

    galaxy_yml = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    deps = galaxy_yml.get("dependencies") or {}
    if not deps:
        fail("galaxy.yml declares no dependencies; declare the collections that roles and playbooks use.")
    own = f"{galaxy_yml['namespace']}.{galaxy_yml['name']}"

    deps_dir = a.work / "deps"
    deps_dir.mkdir(parents=True, exist_ok=True)
    artifacts = {}
    for fqcn, spec in sorted(deps.items()):
        src = a.site / fqcn.replace(".", "/")
        if not (src / "MANIFEST.json").exists():
            fail(f"galaxy.yml depends on {fqcn} ({spec}), which the pinned ansible package does not ship at {src}.")
        artifacts[fqcn] = artifact_from_installed(src, deps_dir)
        print(f"package-check: {fqcn} {artifacts[fqcn][1]['version']} (galaxy.yml: {spec}) -> {artifacts[fqcn][0].name}")

    env = dict(os.environ, ANSIBLE_GALAXY_SERVER=CLOSED_SERVER, ANSIBLE_GALAXY_CACHE_DIR=str(a.work / "galaxy-cache"),
               ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false")

    # 2. Without the dependency tarballs the install must fail on a missing dependency.
    bare = a.work / "install-bare"
    shutil.rmtree(bare, ignore_errors=True)
    env["ANSIBLE_COLLECTIONS_PATH"] = str(bare)
    res = galaxy([str(a.tarball), "-p", str(bare)], env)
    out = res.stdout + res.stderr
    if res.returncode == 0:
        fail(f"installing {a.tarball.name} alone succeeded; its dependencies were not resolved: {out.strip()}")
    if "Failed to resolve the requested dependencies" not in out or not any(fqcn in out for fqcn in deps):
        fail(f"installing {a.tarball.name} alone failed for another reason than a missing dependency: {out.strip()}")
    unmet = [line.strip() for line in out.splitlines() if "(dependency of" in line]
    print(f"package-check: {a.tarball.name} alone is refused offline, as it should be: {'; '.join(unmet)}")

    # 3. With local file requirements it installs whole.
    target = a.work / "collections"
    shutil.rmtree(target, ignore_errors=True)
    requirements = a.work / "requirements.yml"
    entries = [{"name": str(a.tarball.resolve()), "type": "file"}]
    entries += [{"name": str(path.resolve()), "type": "file"} for path, _info in artifacts.values()]
    requirements.write_text(yaml.safe_dump({"collections": entries}, sort_keys=False))
    env["ANSIBLE_COLLECTIONS_PATH"] = str(target)
    res = galaxy(["-r", str(requirements), "-p", str(target)], env)
    if res.returncode != 0:
        fail(f"offline install from {requirements} failed: {(res.stdout + res.stderr).strip()}")
    want = {own: galaxy_yml["version"], **{fqcn: info["version"] for fqcn, (_path, info) in artifacts.items()}}
    got = installed(target)
    if got != want:
        fail(f"installed {got} into {target}, expected exactly {want}")
    print(f"package-check: installed offline into {target}: {', '.join(f'{k} {v}' for k, v in got.items())}")

    # 4. Every role of the repository is there, with its entry points.
    res = subprocess.run(["ansible-doc", "-t", "role", "-l", own, "--json"], env=env, text=True, capture_output=True, check=False)
    if res.returncode != 0:
        fail(f"ansible-doc -t role -l {own} failed on the installed copy: {res.stderr.strip()}")
    listed = json.loads(res.stdout)
    roles = sorted(p.name for p in (ROOT / "roles").iterdir() if p.is_dir())
    missing = [r for r in roles if f"{own}.{r}" not in listed]
    if missing:
        fail(f"ansible-doc does not list these roles of the installed copy: {missing}")
    print(f"package-check: ansible-doc lists {len(listed)} roles of the installed copy")

    # 5. Self-contained.
    copy = target / "ansible_collections" / galaxy_yml["namespace"] / galaxy_yml["name"]
    shipped = [h for h in HARNESS if (copy / h).exists()]
    if shipped:
        fail(f"the tarball ships {shipped}, which need files it leaves out; add them to build_ignore in galaxy.yml.")
    refs = [f"{path.relative_to(copy)}:{n}: {line.strip()}"
            for top in SHIPPED_CODE for path in sorted((copy / top).rglob("*")) if path.is_file()
            for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1) if HARNESS_REF.search(line)]
    if refs:
        fail("shipped files name paths that the tarball leaves out: " + "; ".join(refs))
    print(f"package-check: the installed copy holds no {', '.join(HARNESS)} and names no path under them")

    # 6. Every collection that shipped code names is declared.
    known = {f"{p.parent.name}.{p.name}" for p in a.site.glob("*/*") if (p / "MANIFEST.json").exists()} - {own}
    fqcn = re.compile(r"\b(?:ansible_collections\.)?([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)\.[a-z_]")
    used = {}
    for top in SHIPPED_CODE:
        for path in sorted((copy / top).rglob("*")):
            if path.is_file():
                for m in fqcn.finditer(path.read_text(errors="replace")):
                    name = f"{m.group(1)}.{m.group(2)}"
                    if name in known:
                        used.setdefault(name, str(path.relative_to(copy)))
    undeclared = {name: where for name, where in sorted(used.items()) if name not in deps}
    if undeclared:
        fail(f"shipped files use collections that galaxy.yml does not declare: {undeclared}; add them to dependencies.")
    print(f"package-check: the collections shipped files name are declared: {', '.join(sorted(used)) or 'none'}")

    # 7. The stage summary, from the installed copy and its sample ansible.cfg, run outside the repository.
    sample = copy / "inventories" / "sample"
    runs = {}
    for label, cfg in (("with", sample / "ansible.cfg"), ("without", None)):
        cwd = a.work / f"run-{label}-cfg"
        shutil.rmtree(cwd, ignore_errors=True)
        cwd.mkdir(parents=True)
        run_env = {k: v for k, v in env.items() if not k.startswith("ANSIBLE_CONFIG")}
        run_env.update(ANSIBLE_HOME=str(cwd / ".ansible"), ANSIBLE_LOCAL_TEMP=str(cwd / "tmp"), ANSIBLE_NOCOLOR="1")
        if cfg is not None:
            run_env["ANSIBLE_CONFIG"] = str(cfg)
        # The sample's hosts do not exist: preflight checks their inputs for real, and reaches them locally.
        res = subprocess.run(["ansible-playbook", "-i", str(sample / "hosts.yml"), f"{own}.preflight", "-e", "ironstone_profile=lab",
                              "-e", "ansible_connection=local"],
                             env=run_env, cwd=cwd, text=True, capture_output=True, check=False)
        if res.returncode != 0:
            fail(f"preflight from the installed copy ({label} the sample ansible.cfg) failed: {(res.stdout + res.stderr)[-2000:]}")
        runs[label] = res.stdout
    if "STAGE SUMMARY" not in runs["with"] or not re.search(r"^preflight\s+ran", runs["with"], re.M):
        fail("with inventories/sample/ansible.cfg, a preflight run of the installed copy printed no stage summary")
    if "STAGE SUMMARY" in runs["without"]:
        fail("without an ansible.cfg the stage summary still printed, so the check above proves nothing")
    print("package-check: the installed copy prints the stage summary with the sample ansible.cfg, and not without it")
    print(f"package-check: passed in {time.monotonic() - start:.1f}s")


if __name__ == "__main__":
    main()
