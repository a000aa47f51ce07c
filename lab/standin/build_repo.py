"""STAND-IN package repository builder for the ironstone.k8s lab.

Builds, from whatever is in ``lab/standin/`` at build time, a signed
Kubernetes *stand-in* package repository laid out like the real download
sites, so the collection's real install paths run against it unchanged:

* ``core:/stable:/v1.<minor>/deb/`` -- a flat apt repository like
  pkgs.k8s.io's (``Packages``, ``Packages.gz``, ``Release``, ``InRelease``,
  ``Release.gpg``, ``Release.key`` and ``amd64/*.deb``) holding the stand-in
  ``kubeadm``, ``kubelet``, ``cri-tools`` and ``ironstone-standin-lib``
  packages and Debian's *real* ``kubectl`` binary repackaged;
* ``release/v<version>/bin/linux/amd64/`` -- like dl.k8s.io: ``kubeadm`` and
  ``kubelet`` as Python zipapps, the real ``kubectl``, each with a
  ``.sha256`` holding just the hex digest, and ``release/stable-1.<minor>.txt``;
* ``cri-tools/releases/download/v<crictl>/crictl-v<crictl>-linux-amd64.tar.gz``
  (+ ``.sha256``/``.sha512``, hex digest and newline, as cri-tools' release
  script writes them) -- like the GitHub release of cri-tools;
* ``calico/v<calico>/manifests/`` -- like Calico's ``manifests/`` directory on
  GitHub: ``operator-crds.yaml`` (the tigera operator's *real* Installation and
  APIServer CRDs from ``$IRONSTONE_CRDS_DIR``, default ``<repo>/../shared/crds``,
  and only those two) and ``tigera-operator.yaml`` (a STAND-IN manifest with the
  real one's core objects; the operator itself is simulated by the
  kube-apiserver stand-in).

The signing key is generated on first use in ``<state>/gnupg`` and reused;
the private key never goes under ``<out>``.  The .debs, zipapps and tarballs
are deterministic (identical input, identical sha256); ``Release`` carries
the build time and fresh signatures.  A build is skipped, returning the
previous summary, while the hash of its inputs matches ``<out>/.build-hash``.

Usage::

    python3 lab/standin/build_repo.py [--out DIR] [--state DIR] [--version 1.36.4]
    python3 lab/standin/build_repo.py --print-url-layout
"""
# pylint: disable=too-many-lines
import argparse
import contextlib
import datetime
import email.utils
import fcntl
import gzip
import hashlib
import importlib.util
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
import zipapp
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
DEFAULT_OUT = os.path.join(REPO_ROOT, ".cache", "lab", "standin-repo")
DEFAULT_STATE = os.path.join(REPO_ROOT, ".cache", "lab", "standin-state")

# Bump when the layout or the packaging changes in a way the input hash of
# this file's content would not already capture (it does capture edits).
FORMAT = 1
ARCH = "amd64"
MAINTAINER = "ironstone.k8s lab (STAND-IN)"
HOMEPAGE = "https://kubernetes.io"
KEY_UID = "ironstone lab stand-in repository <lab@ironstone.invalid>"
# Kubernetes v1.36.4's release day (2026-08-20, 00:00 UTC); the mtime of every packaged file.
# (v1.32.3's, the previous default, was 1741651200: 2025-03-11.)
DEFAULT_EPOCH = 1787184000
KEYRING_ON_NODE = "/etc/apt/keyrings/kubernetes-apt-keyring.gpg"

LIB_DIR = "/usr/lib/ironstone-standin"
VENDOR_DIR = LIB_DIR + "/vendor"
PY_DEPENDS = "python3 (>= 3.11), python3-yaml, python3-cryptography"
# Files of lab/standin/ that are tooling, not stand-in code.
NOT_PACKAGED = {"build_repo.py", "serve_repo.py", "conftest.py"}

# The real kubectl: Debian's package of the same release.
KUBECTL_DEBS = {
    "1.32.3": {
        "url": "http://deb.debian.org/debian/pool/main/k/kubernetes/kubectl_1.32.3+ds-2_amd64.deb",
        "filename": "kubectl_1.32.3+ds-2_amd64.deb",
        "debian_version": "1.32.3+ds-2",
        "sha256": "9825aaf4c14913027aae04af8688e580459f781c829bd5de00cc4dc2cc5a867f",
        "depends": "libc6 (>= 2.34)",
    },
    # Debian unstable (sid); needs GLIBC_2.34 at most, so it runs on bookworm (2.36) too.
    "1.36.4": {
        "url": "http://deb.debian.org/debian/pool/main/k/kubernetes/kubectl_1.36.4+ds-1_amd64.deb",
        "filename": "kubectl_1.36.4+ds-1_amd64.deb",
        "debian_version": "1.36.4+ds-1",
        "sha256": "407dad9ec755a64ef8c96dd2f5c0c093f9d334193c91cc0ce8424928cd5734d3",
        "depends": "libc6 (>= 2.34)",
    },
}

# The apiserver stand-in's vendored validator (pip install --target of these
# exact wheels; PyYAML is left out: the node has python3-yaml).
VENDOR_WHEELS = [
    ("kubernetes-validate", "1.37.0", "kubernetes_validate-1.37.0-py3-none-any.whl",
     "85136d018a27b50ec7fc049d902bfa5193f5976807e6c0f408e3ab6fe078cad9"),
    ("jsonschema", "4.26.0", "jsonschema-4.26.0-py3-none-any.whl",
     "d489f15263b8d200f8387e64b4c3a75f06629559fb73deb8fdfb525f2dab50ce"),
    ("jsonschema-specifications", "2025.9.1", "jsonschema_specifications-2025.9.1-py3-none-any.whl",
     "98802fee3a11ee76ecaca44429fda8a41bff98b00a0f2838151b113f210cc6fe"),
    ("referencing", "0.37.0", "referencing-0.37.0-py3-none-any.whl",
     "381329a9f99628c9069361716891d34ad94af76e461dcb0335825aecc7692231"),
    ("rpds-py", "2026.9.1", "rpds_py-2026.9.1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
     "136a1c3fe4402b7008bc81cb62ee538481795b61a7e83df88dff3b3f02b726ff"),
    ("attrs", "26.1.0", "attrs-26.1.0-py3-none-any.whl",
     "c647aa4a12dfbad9333ca4e71fe62ddc36f4e63b2d260a37a8b83d2f043ac309"),
    ("typing-extensions", "4.16.0", "typing_extensions-4.16.0-py3-none-any.whl",
     "481caa481374e813c1b176ada14e97f1f67a4539ce9cfeb3f350d78d6370c2e8"),
    ("importlib-resources", "7.1.0", "importlib_resources-7.1.0-py3-none-any.whl",
     "1bd7b48b4088eddb2cd16382150bb515af0bd2c70128194392725f82ad2c96a1"),
    ("packaging", "26.4", "packaging-26.4-py3-none-any.whl",
     "81383611a09c1bc0b08b76e0fd5829d7c6824c65b27a6aee339da133f4233ea2"),
]
# Calico, installed by the tigera operator: the release the lab's manifests stand for.
CALICO_VERSION = "3.32.1"
TIGERA_OPERATOR_VERSION = "1.42.4"
CRDS_ENV = "IRONSTONE_CRDS_DIR"
DEFAULT_CRDS_DIR = os.path.abspath(os.path.join(REPO_ROOT, "..", "shared", "crds"))
CALICO_CRD_FILES = ("operator.tigera.io_installations.yaml", "operator.tigera.io_apiservers.yaml")

WHEEL_PLATFORM = ["--only-binary=:all:", "--platform", "manylinux2014_x86_64", "--python-version", "3.11",
                  "--implementation", "cp", "--abi", "cp311"]


class BuildError(Exception):
    """The repository could not be built."""


class DownloadError(BuildError):
    """Something the build needs could not be downloaded (offline?)."""


# --------------------------------------------------------------------------
# small helpers

def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _hashes(data):
    return {name: hashlib.new(name, data).hexdigest() for name in ("md5", "sha1", "sha256", "sha512")}


def _run(cmd, **kwargs):
    """Run a command, raising BuildError with its output when it fails."""
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    proc = subprocess.run(cmd, check=False, **kwargs)
    if proc.returncode != 0:
        out = proc.stdout.decode(errors="replace") if isinstance(proc.stdout, bytes) else (proc.stdout or "")
        err = proc.stderr.decode(errors="replace") if isinstance(proc.stderr, bytes) else (proc.stderr or "")
        raise BuildError("%s failed (rc %d): %s%s" % (" ".join(cmd[:3]), proc.returncode, out[-2000:], err[-2000:]))
    return proc


def _write(path, data, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(path, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)


def _clamp_tree(root, epoch):
    """Set every mtime under root (root included) to epoch."""
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames + dirnames:
            os.utime(os.path.join(dirpath, name), (epoch, epoch), follow_symlinks=False)
    os.utime(root, (epoch, epoch))


@contextlib.contextmanager
def _locked(path):
    with open(path, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def layout(version, package_revision="1.1"):
    """The paths (relative to the repository's base URL) of everything the role downloads."""
    minor = int(version.split(".")[1])
    crictl = "1.%d.0" % minor
    apt = "core:/stable:/v1.%d/deb/" % minor
    release = "release/v%s/bin/linux/%s/" % (version, ARCH)
    tarball = "crictl-v%s-linux-%s.tar.gz" % (crictl, ARCH)
    return {
        "version": version,
        "minor": "1.%d" % minor,
        "package_version": "%s-%s" % (version, package_revision),
        "cri_tools_version": crictl,
        "cri_tools_package_version": "%s-%s" % (crictl, package_revision),
        "apt_path": apt,
        "apt_key_path": apt + "Release.key",
        "apt_sources_line": "deb [signed-by=%s] {base}/%s /" % (KEYRING_ON_NODE, apt),
        "release_path": release,
        "stable_txt_path": "release/stable-1.%d.txt" % minor,
        "crictl_path": "cri-tools/releases/download/v%s/%s" % (crictl, tarball),
    }


# --------------------------------------------------------------------------
# inputs

def _load_version_module(source):
    path = os.path.join(source, "version.py")
    if not os.path.isfile(path):
        raise BuildError("%s has no version.py" % source)
    spec = importlib.util.spec_from_file_location("_standin_version_for_build", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def source_files(source):
    """Relative paths of the stand-in's *.py files (subpackages too; no tests, no tooling)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(source):
        dirnames[:] = sorted(d for d in dirnames if d not in ("tests", "__pycache__") and not d.startswith("."))
        for name in sorted(filenames):
            rel = os.path.relpath(os.path.join(dirpath, name), source)
            if not name.endswith(".py") or name.startswith("test_") or name.startswith("."):
                continue
            if rel in NOT_PACKAGED:
                continue
            found.append(rel)
    return sorted(found)


# The modules the launchers and zipapps run: (candidates, what); each defines or imports main.
_MAIN = re.compile(rb"(?m)^(def main\(|from \S+ import (.*[ ,(])?main\b|main = )")
ENTRY_MODULES = [(("kubeadm.py",), "kubeadm"), (("kubelet.py",), "kubelet"), (("crictl.py",), "crictl"),
                 (("apiserver/__init__.py", "apiserver.py"), "apiserver")]


def packaged_sources(source, version):
    """{relpath: bytes} of the standin package as shipped; version.py reports ``version``."""
    files = {}
    for rel in source_files(source):
        with open(os.path.join(source, rel), "rb") as handle:
            files[rel] = handle.read()
    for candidates, what in ENTRY_MODULES:
        if not any(_MAIN.search(files.get(rel, b"")) for rel in candidates):
            raise BuildError("%s has no %s with a main(): the %s launcher would not run" % (source, " or ".join(candidates), what))
    text = files["version.py"].decode()
    new, count = re.subn(r'(?m)^KUBERNETES_VERSION = "[^"]*"$', 'KUBERNETES_VERSION = "%s"' % version, text)
    if count != 1:
        raise BuildError("cannot find KUBERNETES_VERSION in %s/version.py" % source)
    files["version.py"] = new.encode()
    return files


def _epoch():
    value = os.environ.get("SOURCE_DATE_EPOCH")
    return int(value) if value and value.isdigit() else DEFAULT_EPOCH


def calico_layout():
    """Where the Calico manifests are, relative to the repository's base URL (Calico's GitHub layout)."""
    return {"version": CALICO_VERSION, "operator_version": TIGERA_OPERATOR_VERSION,
            "base_url_path": "calico/v%s/manifests" % CALICO_VERSION}


OPERATOR_CRDS_HEADER = """\
# STAND-IN bundle (ironstone.k8s lab) in the place of Calico v{calico}'s manifests/operator-crds.yaml.
# It holds only two of the tigera operator v{operator}'s CustomResourceDefinitions, Installation and
# APIServer, each byte for byte as the operator release ships it; the real file holds all of the
# operator's CRDs (and Calico's).  The operator itself is simulated by the lab's kube-apiserver stand-in.
"""

TIGERA_OPERATOR_MANIFEST = """\
# STAND-IN manifest (ironstone.k8s lab) in the place of Calico v{calico}'s manifests/tigera-operator.yaml.
# Not the real manifest: it holds the real one's core objects only (the namespace, the operator's
# service account, its RBAC and its Deployment), and no operator runs from it: while this Deployment
# is Available, the lab's kube-apiserver stand-in simulates what the tigera operator v{operator} does.
---
apiVersion: v1
kind: Namespace
metadata:
  name: tigera-operator
  labels:
    name: tigera-operator
    pod-security.kubernetes.io/enforce: privileged
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: tigera-operator
  namespace: tigera-operator
  labels:
    k8s-app: tigera-operator
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: tigera-operator
  labels:
    k8s-app: tigera-operator
rules:
  - apiGroups: [""]
    resources: [namespaces, pods, podtemplates, services, endpoints, events, configmaps, secrets, serviceaccounts, nodes,
                resourcequotas]
    verbs: [create, get, list, update, delete, watch, patch]
  - apiGroups: [apps]
    resources: [deployments, daemonsets, statefulsets]
    verbs: [create, get, list, patch, update, delete, watch]
  - apiGroups: [rbac.authorization.k8s.io]
    resources: [clusterroles, clusterrolebindings, rolebindings, roles]
    verbs: [create, get, list, update, delete, watch, bind, escalate]
  - apiGroups: [apiextensions.k8s.io]
    resources: [customresourcedefinitions]
    verbs: [create, get, list, update, patch, watch]
  - apiGroups: [operator.tigera.io]
    resources: ["*"]
    verbs: [create, get, list, update, patch, delete, watch]
  - apiGroups: [crd.projectcalico.org, projectcalico.org]
    resources: ["*"]
    verbs: [create, get, list, update, patch, delete, watch]
  - apiGroups: [policy]
    resources: [poddisruptionbudgets]
    verbs: [create, get, list, update, delete, watch]
  - apiGroups: [scheduling.k8s.io]
    resources: [priorityclasses]
    verbs: [create, get, list, update, delete, watch]
  - apiGroups: [coordination.k8s.io]
    resources: [leases]
    verbs: [create, get, list, update, delete, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: tigera-operator
  labels:
    k8s-app: tigera-operator
subjects:
  - kind: ServiceAccount
    name: tigera-operator
    namespace: tigera-operator
roleRef:
  kind: ClusterRole
  name: tigera-operator
  apiGroup: rbac.authorization.k8s.io
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: tigera-operator
  namespace: tigera-operator
  labels:
    k8s-app: tigera-operator
spec:
  replicas: 1
  selector:
    matchLabels:
      name: tigera-operator
  template:
    metadata:
      labels:
        name: tigera-operator
        k8s-app: tigera-operator
    spec:
      nodeSelector:
        kubernetes.io/os: linux
      tolerations:
        - effect: NoExecute
          operator: Exists
        - effect: NoSchedule
          operator: Exists
      serviceAccountName: tigera-operator
      hostNetwork: true
      dnsPolicy: ClusterFirstWithHostNet
      containers:
        - name: tigera-operator
          image: quay.io/tigera/operator:v{operator}
          imagePullPolicy: IfNotPresent
          command:
            - operator
          env:
            - name: WATCH_NAMESPACE
              value: ""
            - name: POD_NAME
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
            - name: OPERATOR_NAME
              value: tigera-operator
            - name: TIGERA_OPERATOR_INIT_IMAGE_VERSION
              value: v{operator}
"""


def calico_manifests(crds_dir=None):
    """{file name: bytes} of calico/v<calico>/manifests/: operator-crds.yaml (the real CRDs, concatenated as YAML
    documents after a STAND-IN comment) and tigera-operator.yaml (STAND-IN).  A missing CRD directory or file fails
    the build, naming IRONSTONE_CRDS_DIR."""
    base = crds_dir or os.environ.get(CRDS_ENV) or DEFAULT_CRDS_DIR
    directory = os.path.join(base, "tigera-operator-v%s" % TIGERA_OPERATOR_VERSION)
    if not os.path.isdir(directory):
        if crds_dir or os.environ.get(CRDS_ENV):
            raise BuildError("the tigera operator's CRDs are not in %s: set %s to the directory holding tigera-operator-v%s/ "
                             "(default %s)" % (directory, CRDS_ENV, TIGERA_OPERATOR_VERSION, DEFAULT_CRDS_DIR))
        # Outside this project's workspace (no ../shared/crds): the lab still works, with CRDs of our own.
        sys.stderr.write("WARNING: no %s (set %s): the stand-in repository carries the lab's own minimal Installation and "
                         "APIServer CRDs, which know fewer fields than the real ones\n" % (directory, CRDS_ENV))
        return {"operator-crds.yaml": fallback_crds(),
                "tigera-operator.yaml": TIGERA_OPERATOR_MANIFEST.format(calico=CALICO_VERSION, operator=TIGERA_OPERATOR_VERSION).encode()}
    bundle = [OPERATOR_CRDS_HEADER.format(calico=CALICO_VERSION, operator=TIGERA_OPERATOR_VERSION).encode()]
    for name in CALICO_CRD_FILES:
        path = os.path.join(directory, name)
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise BuildError("cannot read %s (%s: the directory holding tigera-operator-v%s/): %s"
                             % (path, CRDS_ENV, TIGERA_OPERATOR_VERSION, exc.strerror)) from exc
        bundle += [b"---\n", data if data.endswith(b"\n") else data + b"\n"]
    return {"operator-crds.yaml": b"".join(bundle),
            "tigera-operator.yaml": TIGERA_OPERATOR_MANIFEST.format(calico=CALICO_VERSION, operator=TIGERA_OPERATOR_VERSION).encode()}


def _enum(*values):
    return {"type": "string", "enum": list(values)}


def _preserve():
    return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def _crd(plural, kind, spec, names_rule):
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "%s.operator.tigera.io" % plural},
        "spec": {"group": "operator.tigera.io", "scope": "Cluster",
                 "names": {"kind": kind, "listKind": kind + "List", "plural": plural, "singular": kind.lower()},
                 "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                               "schema": {"openAPIV3Schema": {
                                   "type": "object",
                                   "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                                                  "metadata": {"type": "object"}, "spec": spec, "status": _preserve()},
                                   "x-kubernetes-validations": [{"rule": names_rule, "message": "resource name must be 'default'"}]}}}]},
    }


def fallback_crds():
    """The lab's own minimal Installation and APIServer CRDs (YAML bytes), for a checkout without the real ones:
    structural schemas of the fields the collection renders, so that unknown fields are still refused."""
    pool = {"type": "object", "required": ["cidr"], "properties": {
        "name": {"type": "string"}, "cidr": {"type": "string"}, "blockSize": {"type": "integer", "format": "int32"},
        "encapsulation": _enum("IPIPCrossSubnet", "IPIP", "VXLAN", "VXLANCrossSubnet", "None"),
        "natOutgoing": _enum("Enabled", "Disabled"), "nodeSelector": {"type": "string"}, "disableBGPExport": {"type": "boolean"}}}
    autodetect = {"type": "object", "properties": {
        "kubernetes": _enum("NodeInternalIP"), "canReach": {"type": "string"}, "cidrs": {"type": "array", "items": {"type": "string"}},
        "firstFound": {"type": "boolean"}, "interface": {"type": "string"}, "skipInterface": {"type": "string"}}}
    network = {"type": "object", "properties": {
        "bgp": _enum("Enabled", "Disabled"), "mtu": {"type": "integer", "format": "int32"},
        "linuxDataplane": _enum("Iptables", "BPF", "VPP", "Nftables"), "hostPorts": _enum("Enabled", "Disabled"),
        "ipPools": {"type": "array", "items": pool}, "nodeAddressAutodetectionV4": autodetect}}
    installation = {"type": "object", "properties": {
        "variant": _enum("Calico", "TigeraSecureEnterprise"), "registry": {"type": "string"}, "imagePath": {"type": "string"},
        "flexVolumePath": {"type": "string"}, "controlPlaneReplicas": {"type": "integer", "format": "int32"},
        "cni": {"type": "object", "properties": {"type": _enum("Calico", "GKE", "AmazonVPC", "AzureVNET"),
                                                 "ipam": {"type": "object", "properties": {"type": _enum("Calico", "HostLocal", "AmazonVPC", "AzureVNET")}}}},
        "calicoNetwork": network, "calicoNodeDaemonSet": _preserve()}}
    apiserver = {"type": "object", "properties": {"apiServerDeployment": _preserve()}}
    docs = [_crd("installations", "Installation", installation, "self.metadata.name == 'default'"),
            _crd("apiservers", "APIServer", apiserver, "self.metadata.name == 'default'")]
    header = ("# STAND-IN fallback: the lab's own minimal Installation and APIServer CRDs, used because the real ones of\n"
              "# operator v%s were not found (IRONSTONE_CRDS_DIR). Not the operator's CRDs.\n" % TIGERA_OPERATOR_VERSION)
    # JSON documents are YAML documents; the builder needs no YAML library.
    return (header + "".join("---\n" + json.dumps(doc, indent=1) + "\n" for doc in docs)).encode()


def write_calico(out, manifests):
    directory = os.path.join(out, calico_layout()["base_url_path"])
    for name, data in sorted(manifests.items()):
        _write(os.path.join(directory, name), data)


def input_hash(sources, version, revision, epoch, kubectl_sha, fingerprint, calico=None):
    digest = hashlib.sha256()
    with open(os.path.abspath(__file__), "rb") as handle:
        builder = handle.read()
    parts = [("format", str(FORMAT).encode()), ("builder", builder), ("version", version.encode()),
             ("revision", revision.encode()), ("epoch", str(epoch).encode()), ("kubectl", kubectl_sha.encode()),
             ("key", fingerprint.encode())]
    parts += [("src:" + rel, data) for rel, data in sorted(sources.items())]
    parts += [("calico:" + name, data) for name, data in sorted((calico or {}).items())]
    for name, data in parts:
        digest.update(b"%d:%s\0%d:" % (len(name), name.encode(), len(data)))
        digest.update(data)
    return digest.hexdigest()


# --------------------------------------------------------------------------
# downloads (cached under <downloads>)

def _download(url, dest, sha256):
    tmp = dest + ".part"
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as handle:  # nosec - fixed URL
            shutil.copyfileobj(response, handle)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise DownloadError("cannot download %s: %s" % (url, exc)) from exc
    got = sha256_file(tmp)
    if got != sha256:
        os.unlink(tmp)
        raise BuildError("%s has sha256 %s, expected %s" % (url, got, sha256))
    os.replace(tmp, dest)


def fetch_kubectl(version, downloads, local_copy=None):
    """Path of Debian's kubectl .deb for version, verified; cached in downloads."""
    info = KUBECTL_DEBS.get(version)
    if info is None:
        raise BuildError("no real kubectl is known for %s (known: %s): not implemented by the stand-in builder"
                         % (version, ", ".join(sorted(KUBECTL_DEBS))))
    os.makedirs(downloads, exist_ok=True)
    dest = os.path.join(downloads, info["filename"])
    if os.path.isfile(dest) and sha256_file(dest) == info["sha256"]:
        return dest, info
    if local_copy and os.path.isfile(local_copy) and sha256_file(local_copy) == info["sha256"]:
        shutil.copyfile(local_copy, dest + ".part")
        os.replace(dest + ".part", dest)
        return dest, info
    _download(info["url"], dest, info["sha256"])
    return dest, info


def _pip_python():
    if importlib.util.find_spec("pip") is not None:
        return sys.executable
    return shutil.which("python3") or sys.executable


def fetch_wheels(downloads):
    """Directory holding exactly the pinned vendor wheels, verified."""
    wheels = os.path.join(downloads, "wheels")
    os.makedirs(wheels, exist_ok=True)

    def missing():
        return [(name, ver) for name, ver, filename, sha in VENDOR_WHEELS
                if not (os.path.isfile(os.path.join(wheels, filename)) and sha256_file(os.path.join(wheels, filename)) == sha)]

    todo = missing()
    if todo:
        cmd = [_pip_python(), "-m", "pip", "download", "--quiet", "--no-deps", "--disable-pip-version-check",
               "--dest", wheels] + WHEEL_PLATFORM + ["%s==%s" % pin for pin in todo]
        proc = subprocess.run(cmd, check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            raise DownloadError("pip download of the apiserver's vendored wheels failed: %s" % proc.stdout.decode()[-2000:])
        still = missing()
        if still:
            raise BuildError("pip downloaded wheels that do not match the pinned sha256: %s" % still)
    return wheels


def vendor_tree(downloads, minor):
    """pip install --target of the pinned wheels, schemas pruned to v<minor>*; cached in downloads."""
    pins = json.dumps([VENDOR_WHEELS, minor, FORMAT]).encode()
    dest = os.path.join(downloads, "vendor-v%s-%s" % (minor, hashlib.sha256(pins).hexdigest()[:16]))
    if os.path.isfile(os.path.join(dest, ".complete")):
        return dest
    wheels = fetch_wheels(downloads)
    tmp = dest + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    cmd = [_pip_python(), "-m", "pip", "install", "--quiet", "--no-index", "--find-links", wheels, "--no-deps",
           "--no-compile", "--disable-pip-version-check", "--no-warn-script-location", "--target", tmp]
    cmd += WHEEL_PLATFORM + ["%s==%s" % (name, ver) for name, ver, _f, _s in VENDOR_WHEELS]
    _run(cmd, env=env)
    # Console scripts carry this host's interpreter path; the node does not need them.
    shutil.rmtree(os.path.join(tmp, "bin"), ignore_errors=True)
    for dirpath, dirnames, _files in os.walk(tmp):
        for name in list(dirnames):
            if name == "__pycache__":
                shutil.rmtree(os.path.join(dirpath, name))
                dirnames.remove(name)
    schemas = os.path.join(tmp, "kubernetes_validate", "kubernetes-json-schema")
    if not os.path.isdir(schemas):
        raise BuildError("kubernetes-validate has no kubernetes-json-schema directory (layout changed?)")
    kept = []
    for name in sorted(os.listdir(schemas)):
        if name.startswith("v%s." % minor):
            kept.append(name)
        else:
            shutil.rmtree(os.path.join(schemas, name))
    if not kept:
        raise BuildError("kubernetes-validate has no schemas for v%s" % minor)
    _write(os.path.join(tmp, ".complete"), "\n".join(kept) + "\n")
    shutil.rmtree(dest, ignore_errors=True)
    os.rename(tmp, dest)
    return dest


# --------------------------------------------------------------------------
# signing key

def _gpg(home, *args, **kwargs):
    return _run(["gpg", "--homedir", home, "--batch", "--no-tty", "--quiet"] + list(args), **kwargs)


def ensure_key(state):
    """Fingerprint of the repository signing key in <state>/gnupg (generated on first use)."""
    home = os.path.join(state, "gnupg")
    os.makedirs(home, mode=0o700, exist_ok=True)
    os.chmod(home, 0o700)

    def fingerprint():
        out = _gpg(home, "--with-colons", "--list-secret-keys").stdout.decode()
        seen_sec = False
        for line in out.splitlines():
            fields = line.split(":")
            if fields[0] == "sec":
                seen_sec = True
            elif fields[0] == "fpr" and seen_sec:
                return fields[9]
        return None

    fpr = fingerprint()
    if fpr is None:
        _gpg(home, "--pinentry-mode", "loopback", "--passphrase", "", "--quick-gen-key", KEY_UID, "ed25519", "sign", "never")
        fpr = fingerprint()
        if fpr is None:
            raise BuildError("gpg generated no key in %s" % home)
    return home, fpr


def _stop_agent(home):
    subprocess.run(["gpgconf", "--homedir", home, "--kill", "gpg-agent"], check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# --------------------------------------------------------------------------
# .deb packages

def _control_text(fields):
    lines = []
    for key, value in fields:
        if key == "Description":
            first, _sep, rest = value.partition("\n")
            lines.append("Description: " + first)
            for line in rest.splitlines():
                lines.append(" " + (line if line.strip() else "."))
        else:
            lines.append("%s: %s" % (key, value))
    return "\n".join(lines) + "\n"


class Package:
    """A binary package: control fields plus {path: (bytes or source path, mode)}."""

    def __init__(self, name, version, depends, description, section="admin"):
        self.name = name
        self.version = version
        self.depends = depends
        self.description = description
        self.section = section
        self.files = {}
        self.copies = {}
        self.trees = []
        self.scripts = {}
        self.fields = None

    def add(self, path, data, mode=0o644):
        """Ship bytes (or text) as path."""
        self.files[path.lstrip("/")] = (data, mode)

    def add_copy(self, path, src, mode=0o644):
        """Ship the file src as path."""
        self.copies[path.lstrip("/")] = (src, mode)

    def add_tree(self, target, directory):
        self.trees.append((target.lstrip("/"), directory))

    @property
    def filename(self):
        return "%s_%s_%s.deb" % (self.name, self.version, ARCH)


def _stage(pkg, stage, epoch):
    for rel, (data, mode) in pkg.files.items():
        _write(os.path.join(stage, rel), data, mode)
    for rel, (src, mode) in pkg.copies.items():
        os.makedirs(os.path.dirname(os.path.join(stage, rel)), exist_ok=True)
        shutil.copyfile(src, os.path.join(stage, rel))
        os.chmod(os.path.join(stage, rel), mode)
    for target, directory in pkg.trees:
        for dirpath, dirnames, filenames in os.walk(directory):
            dirnames.sort()
            rel_dir = os.path.relpath(dirpath, directory)
            dest_dir = os.path.normpath(os.path.join(stage, target, rel_dir))
            os.makedirs(dest_dir, exist_ok=True)
            for name in filenames:
                if name == ".complete":
                    continue
                src = os.path.join(dirpath, name)
                dest = os.path.join(dest_dir, name)
                shutil.copyfile(src, dest)
                executable = os.stat(src).st_mode & stat.S_IXUSR
                os.chmod(dest, 0o755 if executable else 0o644)
    for dirpath, dirnames, _files in os.walk(stage):
        for name in dirnames:
            os.chmod(os.path.join(dirpath, name), 0o755)
    os.chmod(stage, 0o755)
    # Installed-Size as dpkg-gencontrol counts it: KiB per file, rounded up, 1 per directory.
    kib = 0
    md5sums = []
    for dirpath, dirnames, filenames in os.walk(stage):
        dirnames.sort()
        kib += len(dirnames)
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            kib += (os.path.getsize(path) + 1023) // 1024
            with open(path, "rb") as handle:
                md5sums.append("%s  %s\n" % (hashlib.md5(handle.read()).hexdigest(), os.path.relpath(path, stage)))
    fields = [("Package", pkg.name), ("Version", pkg.version), ("Architecture", ARCH), ("Maintainer", MAINTAINER),
              ("Installed-Size", str(kib))]
    if pkg.depends:
        fields.append(("Depends", pkg.depends))
    fields += [("Section", pkg.section), ("Priority", "optional"), ("Homepage", HOMEPAGE), ("Description", pkg.description)]
    control = os.path.join(stage, "DEBIAN")
    os.makedirs(control, mode=0o755)
    _write(os.path.join(control, "control"), _control_text(fields))
    _write(os.path.join(control, "md5sums"), "".join(sorted(md5sums, key=lambda line: line.split("  ", 1)[1])))
    for name, text in pkg.scripts.items():
        _write(os.path.join(control, name), text, 0o755)
    _clamp_tree(stage, epoch)
    pkg.fields = fields


def _tree_digest(stage):
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(stage):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            info = os.lstat(path)
            digest.update(("%s\0%o\0%d\0" % (os.path.relpath(path, stage), info.st_mode, int(info.st_mtime))).encode())
            if stat.S_ISREG(info.st_mode):
                with open(path, "rb") as handle:
                    for block in iter(lambda h=handle: h.read(1 << 20), b""):
                        digest.update(block)
    return digest.hexdigest()


def build_deb(pkg, dest_dir, work, epoch, deb_cache):
    stage = os.path.join(work, "stage-" + pkg.name)
    _stage(pkg, stage, epoch)
    dpkg_version = _run(["dpkg-deb", "--version"]).stdout.decode().splitlines()[0]
    key = hashlib.sha256((_tree_digest(stage) + dpkg_version + str(epoch)).encode()).hexdigest()[:24]
    cached = os.path.join(deb_cache, "%s-%s.deb" % (pkg.name, key))
    dest = os.path.join(dest_dir, pkg.filename)
    os.makedirs(dest_dir, exist_ok=True)
    if not os.path.isfile(cached):
        env = dict(os.environ, SOURCE_DATE_EPOCH=str(epoch))
        os.makedirs(deb_cache, exist_ok=True)
        _run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", stage, cached + ".part"], env=env)
        os.replace(cached + ".part", cached)
    shutil.copyfile(cached, dest)
    os.chmod(dest, 0o644)
    os.utime(cached)
    shutil.rmtree(stage)
    _prune_deb_cache(deb_cache, pkg.name, keep=3)
    return dest


def _prune_deb_cache(deb_cache, name, keep):
    """Keep the keep most recently used cached builds of package name."""
    pattern = re.compile(re.escape(name) + r"-[0-9a-f]{24}\.deb$")
    entries = [os.path.join(deb_cache, f) for f in os.listdir(deb_cache) if pattern.match(f)]
    entries.sort(key=os.path.getmtime, reverse=True)
    for path in entries[keep:]:
        os.unlink(path)


def _launcher(what, module, vendor=False):
    path_lines = 'sys.path[0:0] = ["%s", "%s"]' % (LIB_DIR, VENDOR_DIR) if vendor else 'sys.path.insert(0, "%s")' % LIB_DIR
    return ('#!/usr/bin/python3\n'
            '"""STAND-IN %s launcher (ironstone.k8s lab): runs standin.%s from %s."""\n'
            'import sys\n\n'
            '%s\n\n'
            'from standin.%s import main  # noqa: E402  pylint: disable=wrong-import-position\n\n'
            'sys.exit(main())\n') % (what, module, LIB_DIR, path_lines, module)


KUBELET_SERVICE = """\
[Unit]
Description=kubelet: The Kubernetes Node Agent (STAND-IN)
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
"""

KUBEADM_DROPIN = """\
# STAND-IN (ironstone.k8s lab): kubeadm's kubelet drop-in, same settings as the real package's.
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
# Written by "kubeadm init" and "kubeadm join": sets KUBELET_KUBEADM_ARGS.
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
# Overrides of last resort by the administrator: sets KUBELET_EXTRA_ARGS.
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
"""

# Lets systemd see a new or changed unit; starts and enables nothing (as the real package).
POSTINST_RELOAD = """\
#!/bin/sh
set -e
if [ "$1" = "configure" ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
"""


def define_packages(sources, vendor, kubectl_bin, kubectl_copyright, kubectl_info, lay):
    pkg_version = lay["package_version"]
    lib_dep = "ironstone-standin-lib (= %s)" % pkg_version
    minor = lay["minor"]
    packages = []

    lib = Package("ironstone-standin-lib", pkg_version, PY_DEPENDS,
                  "STAND-IN Python code of the ironstone.k8s lab's Kubernetes %s stand-ins\n"
                  "The standin package (kubeadm, kubelet, crictl and kube-apiserver stand-ins)\n"
                  "under %s/standin, shared by the stand-in packages.\n"
                  "Not Kubernetes: a test double for the ironstone.k8s collection's lab." % (lay["version"], LIB_DIR),
                  section="misc")
    for rel, data in sources.items():
        lib.add("%s/standin/%s" % (LIB_DIR, rel), data)
    packages.append(lib)

    kubeadm = Package("kubeadm", pkg_version, "kubelet (>= %s.0), cri-tools (>= %s.0), %s" % (minor, minor, lib_dep),
                      "STAND-IN kubeadm %s for the ironstone.k8s lab\n"
                      "A Python stand-in for kubeadm, not the real tool; it prints STAND-IN\n"
                      "with --version and refuses what it does not implement." % lay["version"])
    kubeadm.add("/usr/bin/kubeadm", _launcher("kubeadm", "kubeadm"), 0o755)
    kubeadm.add("/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf", KUBEADM_DROPIN)
    kubeadm.scripts["postinst"] = POSTINST_RELOAD
    packages.append(kubeadm)

    kubelet = Package("kubelet", pkg_version, "%s, %s" % (lib_dep, PY_DEPENDS),
                      "STAND-IN kubelet %s for the ironstone.k8s lab\n"
                      "A Python stand-in for the kubelet, not the real node agent. Also ships\n"
                      "the kube-apiserver stand-in (%s/images/kube-apiserver) that it runs\n"
                      "for the kube-apiserver static pod, and its vendored validator." % (lay["version"], LIB_DIR))
    kubelet.add("/usr/bin/kubelet", _launcher("kubelet", "kubelet"), 0o755)
    kubelet.add("/usr/lib/systemd/system/kubelet.service", KUBELET_SERVICE)
    kubelet.add(LIB_DIR + "/images/kube-apiserver", _launcher("kube-apiserver", "apiserver", vendor=True), 0o755)
    kubelet.add_tree(VENDOR_DIR, vendor)
    kubelet.scripts["postinst"] = POSTINST_RELOAD
    packages.append(kubelet)

    crictl = Package("cri-tools", lay["cri_tools_package_version"], lib_dep,
                     "STAND-IN crictl on top of containerd's ctr\n"
                     "A Python stand-in for crictl %s (ironstone.k8s lab), not the real\n"
                     "cri-tools." % lay["cri_tools_version"])
    crictl.add("/usr/bin/crictl", _launcher("crictl", "crictl"), 0o755)
    packages.append(crictl)

    kubectl = Package("kubectl", pkg_version, kubectl_info["depends"],
                      "Kubernetes command-line tool: Debian's real kubectl, repackaged\n"
                      "Not a stand-in: the unmodified kubectl binary of Debian's package\n"
                      "kubectl %s, repackaged by the ironstone.k8s lab as %s so that it\n"
                      "sits next to the stand-in packages." % (kubectl_info["debian_version"], pkg_version))
    kubectl.add_copy("/usr/bin/kubectl", kubectl_bin, 0o755)
    kubectl.add("/usr/share/doc/kubectl/copyright", kubectl_copyright)
    packages.append(kubectl)
    return packages


def extract_kubectl(deb, work):
    dest = os.path.join(work, "kubectl-deb")
    _run(["dpkg-deb", "-x", deb, dest])
    binary = os.path.join(dest, "usr", "bin", "kubectl")
    with open(os.path.join(dest, "usr", "share", "doc", "kubectl", "copyright"), "rb") as handle:
        copyright_text = handle.read()
    return binary, copyright_text


# --------------------------------------------------------------------------
# apt metadata

def write_apt_metadata(apt_dir, packages, debs, home, fpr, lay, now):
    stanzas = []
    for pkg, deb in sorted(zip(packages, debs), key=lambda item: item[0].name):
        with open(deb, "rb") as handle:
            sums = _hashes(handle.read())
        fields = []
        for key, value in pkg.fields:
            if key == "Section":
                fields += [("Filename", "%s/%s" % (ARCH, pkg.filename)), ("Size", str(os.path.getsize(deb))),
                           ("MD5sum", sums["md5"]), ("SHA1", sums["sha1"]), ("SHA256", sums["sha256"]),
                           ("SHA512", sums["sha512"])]
            fields.append((key, value))
        stanzas.append(_control_text(fields))
    packages_text = "\n".join(stanzas).encode()
    _write(os.path.join(apt_dir, "Packages"), packages_text)
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(packages_text)
    _write(os.path.join(apt_dir, "Packages.gz"), buf.getvalue())

    index = {"Packages": packages_text, "Packages.gz": buf.getvalue()}
    minor = lay["minor"]
    release = [
        "Origin: ironstone.k8s lab STAND-IN of pkgs.k8s.io core:/stable:/v%s" % minor,
        "Label: ironstone-standin:core:stable:v%s" % minor,
        "Suite: stable",
        "Codename: v%s" % minor,
        "Architectures: %s" % ARCH,
        "Date: %s" % email.utils.formatdate(now, usegmt=True).replace("GMT", "UTC"),
        "Description: STAND-IN Kubernetes v%s packages (ironstone.k8s lab; not the real Kubernetes)" % minor,
    ]
    for title, algo in (("MD5Sum", "md5"), ("SHA1", "sha1"), ("SHA256", "sha256"), ("SHA512", "sha512")):
        release.append(title + ":")
        for name, data in index.items():
            release.append(" %s %16d %s" % (hashlib.new(algo, data).hexdigest(), len(data), name))
    release_path = os.path.join(apt_dir, "Release")
    _write(release_path, "\n".join(release) + "\n")
    sign = ["--pinentry-mode", "loopback", "--passphrase", "", "--local-user", fpr, "--digest-algo", "SHA512"]
    _gpg(home, *sign, "--armor", "--detach-sign", "--output", os.path.join(apt_dir, "Release.gpg"), release_path)
    _gpg(home, *sign, "--clearsign", "--output", os.path.join(apt_dir, "InRelease"), release_path)
    key = _gpg(home, "--armor", "--export", fpr).stdout
    if b"PGP PRIVATE KEY" in key or not key.startswith(b"-----BEGIN PGP PUBLIC KEY BLOCK-----"):
        raise BuildError("gpg --export did not give a public key")
    _write(os.path.join(apt_dir, "Release.key"), key)
    for name in ("Release.gpg", "InRelease"):
        os.chmod(os.path.join(apt_dir, name), 0o644)


# --------------------------------------------------------------------------
# binary downloads (dl.k8s.io / GitHub release layout)

def _zip_time(epoch):
    return datetime.datetime.fromtimestamp(max(epoch, 315532800), datetime.timezone.utc).timetuple()[:6]


def make_zipapp(path, sources, module, what, epoch):
    """A deterministic zipapp (#!/usr/bin/python3) running standin.<module>:main."""
    entry = ('"""STAND-IN %s (ironstone.k8s lab) as a single-file Python zipapp."""\n'
             'import sys\n\n'
             'from standin.%s import main\n\n'
             'sys.exit(main())\n') % (what, module)
    entries = {"__main__.py": entry.encode()}
    entries.update({"standin/" + rel: data for rel, data in sources.items()})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_zip_time(epoch))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o100644 << 16
            info.create_system = 3
            archive.writestr(info, entries[name])
    buf.seek(0)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    zipapp.create_archive(buf, path, interpreter="/usr/bin/python3")
    os.chmod(path, 0o755)


def make_crictl_tarball(path, binary, epoch):
    info = tarfile.TarInfo("crictl")
    with open(binary, "rb") as handle:
        data = handle.read()
    info.size = len(data)
    info.mode = 0o755
    info.mtime = epoch
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(data))
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=epoch, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    _write(path, buf.getvalue())


def write_binaries(out, sources, kubectl_bin, lay, epoch, work):
    release = os.path.join(out, lay["release_path"])
    make_zipapp(os.path.join(release, "kubeadm"), sources, "kubeadm", "kubeadm", epoch)
    make_zipapp(os.path.join(release, "kubelet"), sources, "kubelet", "kubelet", epoch)
    shutil.copyfile(kubectl_bin, os.path.join(release, "kubectl"))
    os.chmod(os.path.join(release, "kubectl"), 0o755)
    for name in ("kubeadm", "kubelet", "kubectl"):
        # dl.k8s.io serves the bare hex digest.
        _write(os.path.join(release, name + ".sha256"), sha256_file(os.path.join(release, name)))
    _write(os.path.join(out, lay["stable_txt_path"]), "v%s" % lay["version"])
    crictl_bin = os.path.join(work, "crictl")
    make_zipapp(crictl_bin, sources, "crictl", "crictl", epoch)
    tarball = os.path.join(out, lay["crictl_path"])
    make_crictl_tarball(tarball, crictl_bin, epoch)
    with open(tarball, "rb") as handle:
        data = handle.read()
    # cri-tools' release script writes the bare digest plus a newline (via tee).
    _write(tarball + ".sha256", hashlib.sha256(data).hexdigest() + "\n")
    _write(tarball + ".sha512", hashlib.sha512(data).hexdigest() + "\n")


# --------------------------------------------------------------------------
# the build

def _list_files(out):
    files = []
    for dirpath, dirnames, filenames in os.walk(out):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, out)
            if rel in (".build-hash", "build-summary.json"):
                continue
            files.append({"path": rel, "size": os.path.getsize(path), "sha256": sha256_file(path)})
    return files


def _previous(out, digest):
    try:
        with open(os.path.join(out, ".build-hash"), encoding="utf-8") as handle:
            if handle.read().strip() != digest:
                return None
        with open(os.path.join(out, "build-summary.json"), encoding="utf-8") as handle:
            summary = json.load(handle)
    except (OSError, ValueError):
        return None
    if not all(os.path.isfile(os.path.join(out, item["path"])) for item in summary.get("files", [])):
        return None
    summary["cached"] = True
    return summary


def _check_out(out):
    if os.path.exists(out) and (not os.path.isdir(out) or (os.listdir(out) and not os.path.exists(os.path.join(out, ".build-hash")))):
        raise BuildError("%s exists, is not empty and is not a stand-in repository build: refusing to replace it" % out)


def _replace_dir(new, out):
    if os.path.exists(out):
        _check_out(out)
        old = tempfile.mkdtemp(prefix="." + os.path.basename(out) + ".old-", dir=os.path.dirname(out))
        os.rename(out, os.path.join(old, "tree"))
        os.rename(new, out)
        shutil.rmtree(old)
    else:
        os.rename(new, out)


def build(out=DEFAULT_OUT, state=DEFAULT_STATE, version=None, source=HERE, downloads=None, kubectl_deb=None, force=False,
          crds_dir=None):
    """Build the stand-in repository into out; returns its summary (dict, also in <out>/build-summary.json).
    crds_dir: where tigera-operator-v<version>/ is (default $IRONSTONE_CRDS_DIR, else <repo>/../shared/crds)."""
    out = os.path.abspath(out)
    state = os.path.abspath(state)
    source = os.path.abspath(source)
    downloads = os.path.abspath(downloads or os.path.join(state, "downloads"))
    os.makedirs(state, exist_ok=True)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    if os.path.commonpath([out, state]) in (out, state):
        raise BuildError("--out and --state must not contain one another (the private key lives in state)")
    _check_out(out)
    os.makedirs(downloads, exist_ok=True)
    with _locked(os.path.join(state, ".lock")), _locked(os.path.join(downloads, ".lock")):
        vmod = _load_version_module(source)
        version = version or vmod.KUBERNETES_VERSION
        if not re.fullmatch(r"1\.\d+\.\d+", version):
            raise BuildError("version %r is not of the form 1.MINOR.PATCH" % version)
        revision = vmod.PACKAGE_REVISION
        lay = layout(version, revision)
        epoch = _epoch()
        sources = packaged_sources(source, version)
        info = KUBECTL_DEBS.get(version)
        if info is None:
            fetch_kubectl(version, downloads)  # raises the explanation
        calico = calico_manifests(crds_dir)
        home, fpr = ensure_key(state)
        try:
            digest = input_hash(sources, version, revision, epoch, info["sha256"], fpr, calico)
            previous = None if force else _previous(out, digest)
            if previous is not None:
                return previous
            deb, info = fetch_kubectl(version, downloads, kubectl_deb)
            vendor = vendor_tree(downloads, lay["minor"])
            new = tempfile.mkdtemp(prefix="." + os.path.basename(out) + ".new-", dir=os.path.dirname(out))
            work = tempfile.mkdtemp(prefix="standin-build-", dir=state)
            try:
                os.chmod(new, 0o755)
                kubectl_bin, kubectl_copyright = extract_kubectl(deb, work)
                packages = define_packages(sources, vendor, kubectl_bin, kubectl_copyright, info, lay)
                apt_dir = os.path.join(new, lay["apt_path"])
                debs = [build_deb(pkg, os.path.join(apt_dir, ARCH), work, epoch, os.path.join(downloads, "debs"))
                        for pkg in packages]
                write_apt_metadata(apt_dir, packages, debs, home, fpr, lay, time.time())
                write_binaries(new, sources, kubectl_bin, lay, epoch, work)
                write_calico(new, calico)
                summary = _summary(new, lay, fpr, digest, packages, debs)
                summary["out"] = out
                _write(os.path.join(new, "build-summary.json"), json.dumps(summary, indent=2, sort_keys=True) + "\n")
                _write(os.path.join(new, ".build-hash"), digest + "\n")
                for dirpath, dirnames, _files in os.walk(new):
                    for name in dirnames:
                        os.chmod(os.path.join(dirpath, name), 0o755)
                _replace_dir(new, out)
            finally:
                shutil.rmtree(work, ignore_errors=True)
                shutil.rmtree(new, ignore_errors=True)
            return summary
        finally:
            _stop_agent(home)


def _summary(new, lay, fpr, digest, packages, debs):
    files = _list_files(new)
    by_path = {item["path"]: item["sha256"] for item in files}
    release = lay["release_path"]
    return {
        "stand_in": True,
        "cached": False,
        "built_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "input_hash": digest,
        "layout": lay,
        "key": {"fingerprint": fpr, "uid": KEY_UID, "path": lay["apt_key_path"], "keyring_on_node": KEYRING_ON_NODE},
        "packages": {pkg.name: {"version": pkg.version, "filename": "%s%s/%s" % (lay["apt_path"], ARCH, pkg.filename),
                                "sha256": sha256_file(deb)} for pkg, deb in zip(packages, debs)},
        "binaries": {name: {"path": release + name, "sha256": by_path[release + name]}
                     for name in ("kubeadm", "kubelet", "kubectl")},
        "crictl": {"path": lay["crictl_path"], "sha256": by_path[lay["crictl_path"]]},
        "calico": dict(calico_layout(), sha256={name: by_path[calico_layout()["base_url_path"] + "/" + name]
                                                for name in ("operator-crds.yaml", "tigera-operator.yaml")}),
        "files": files,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description="Build the ironstone.k8s lab's signed Kubernetes STAND-IN package repository.")
    parser.add_argument("--out", default=DEFAULT_OUT, help="output directory, served as the base URL (default: %(default)s)")
    parser.add_argument("--state", default=DEFAULT_STATE, help="GPG home and downloads, kept between builds (default: %(default)s)")
    parser.add_argument("--version", default=None, help="Kubernetes version (default: lab/standin/version.py's)")
    parser.add_argument("--source", default=HERE, help=argparse.SUPPRESS)
    parser.add_argument("--downloads", default=None, help="download cache (default: STATE/downloads)")
    parser.add_argument("--kubectl-deb", default=None, help="a local copy of Debian's kubectl .deb (checked against its pinned sha256)")
    parser.add_argument("--force", action="store_true", help="rebuild even when the inputs are unchanged")
    parser.add_argument("--crds-dir", default=None,
                        help="directory holding tigera-operator-v%s/ (default: $%s, else %s)" % (TIGERA_OPERATOR_VERSION, CRDS_ENV, DEFAULT_CRDS_DIR))
    parser.add_argument("--print-url-layout", action="store_true",
                        help="print only the paths and digests the role needs (JSON), building first if needed")
    args = parser.parse_args(argv)
    try:
        summary = build(args.out, args.state, args.version, args.source, args.downloads, args.kubectl_deb, args.force, args.crds_dir)
    except BuildError as exc:
        print("build_repo: error: %s" % exc, file=sys.stderr)
        return 1
    if args.print_url_layout:
        shown = dict(summary["layout"])
        shown.update({"key_fingerprint": summary["key"]["fingerprint"], "crictl_sha256": summary["crictl"]["sha256"],
                      "binaries_sha256": {n: b["sha256"] for n, b in summary["binaries"].items()}, "out": summary["out"],
                      "calico": summary["calico"]})
        print(json.dumps(shown, indent=2, sort_keys=True))
    else:
        print(json.dumps({k: v for k, v in summary.items() if k != "files"}, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
