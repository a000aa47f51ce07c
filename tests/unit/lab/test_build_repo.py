"""Unit tests of the STAND-IN package repository builder and server (lab/standin/build_repo.py, serve_repo.py).

The repository is built from a fake lab/standin tree (tiny modules whose main() prints STAND-IN) into tmp_path.
The real kubectl .deb and the apiserver's vendored wheels come from the download cache under the repository's
.cache/lab/standin-state/downloads (or /tmp/kubectl.deb); when they are neither cached nor downloadable the
build tests are skipped.
"""
import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import types
import urllib.error
import urllib.request

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from lab.standin import build_repo as br  # noqa: E402  pylint: disable=wrong-import-position
from lab.standin import serve_repo as sr  # noqa: E402  pylint: disable=wrong-import-position
from lab.standin import version as vmod  # noqa: E402  pylint: disable=wrong-import-position

REAL_SOURCE = os.path.join(ROOT, "lab", "standin")
DOWNLOADS = os.environ.get("IRONSTONE_STANDIN_DOWNLOADS", os.path.join(ROOT, ".cache", "lab", "standin-state", "downloads"))
LOCAL_KUBECTL = "/tmp/kubectl.deb"
# The release the stand-ins pretend to be (lab/standin/version.py) and what follows from it.
VERSION = vmod.KUBERNETES_VERSION  # e.g. "1.36.4"
MINOR = "1.%d" % vmod.minor()  # "1.36"
PKG_VERSION = "%s-%s" % (VERSION, vmod.PACKAGE_REVISION)  # "1.36.4-1.1"
CRI_TOOLS_VERSION = MINOR + ".0"  # "1.36.0"
CRI_TOOLS_PKG = "%s-%s" % (CRI_TOOLS_VERSION, vmod.PACKAGE_REVISION)
APT = "core:/stable:/v%s/deb/" % MINOR
RELEASE = "release/v%s/bin/linux/amd64/" % VERSION
CRICTL = "cri-tools/releases/download/v{0}/crictl-v{0}-linux-amd64.tar.gz".format(CRI_TOOLS_VERSION)
KUBECTL_DEB = br.KUBECTL_DEBS[VERSION]
CRDS_BASE = os.environ.get("IRONSTONE_CRDS_DIR", os.path.join(ROOT, "..", "shared", "crds"))
CRDS = os.path.join(CRDS_BASE, "tigera-operator-v1.42.4")
CALICO = "calico/v3.32.1/manifests/"
needs_crds = pytest.mark.skipif(not os.path.isdir(CRDS), reason="IRONSTONE_CRDS_DIR: %s not found" % CRDS)
TOOLS = ("dpkg-deb", "gpg", "gpgv", "apt-get", "apt-cache", "gpgconf")

needs_tools = pytest.mark.skipif(any(shutil.which(t) is None for t in TOOLS), reason="needs dpkg-deb, gpg, gpgv and apt")

FAKE_MAIN = '''"""STAND-IN fake {name} for the builder's tests."""
from .version import KUBERNETES_VERSION, STANDIN_BANNER


def main(argv=None):
    print("{name} v" + KUBERNETES_VERSION + " " + STANDIN_BANNER)
    return 0
'''

FAKE_APISERVER = '''"""STAND-IN fake kube-apiserver for the builder's tests."""
from ..version import STANDIN_BANNER, minor

KUBE_MINOR = "1.%d" % minor()


def main(argv=None):
    import kubernetes_validate
    doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "b"}}
    kubernetes_validate.validate(doc, KUBE_MINOR + ".0", strict=True)
    print("kube-apiserver " + STANDIN_BANNER + " validator=" + kubernetes_validate.__file__)
    return 0
'''


def make_fake_source(path, kubeadm_extra=""):
    os.makedirs(os.path.join(path, "apiserver"))
    for name in ("__init__.py", "version.py"):
        shutil.copyfile(os.path.join(REAL_SOURCE, name), os.path.join(path, name))
    for name in ("kubeadm", "kubelet", "crictl"):
        with open(os.path.join(path, name + ".py"), "w", encoding="utf-8") as handle:
            handle.write(FAKE_MAIN.format(name=name) + (kubeadm_extra if name == "kubeadm" else ""))
    with open(os.path.join(path, "apiserver", "__init__.py"), "w", encoding="utf-8") as handle:
        handle.write(FAKE_APISERVER)
    # Not stand-in code: must not be packaged.
    shutil.copyfile(os.path.join(REAL_SOURCE, "build_repo.py"), os.path.join(path, "build_repo.py"))
    for rel in ("serve_repo.py", "test_something.py", os.path.join("tests", "test_x.py"),
                os.path.join("__pycache__", "junk.py"), "notes.txt"):
        os.makedirs(os.path.dirname(os.path.join(path, rel)), exist_ok=True)
        with open(os.path.join(path, rel), "w", encoding="utf-8") as handle:
            handle.write("raise SystemExit('not packaged')\n")
    return path


def sha256(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def run(cmd, **kwargs):
    return subprocess.run(cmd, check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)


def deb_field(deb, field):
    return subprocess.run(["dpkg-deb", "-f", deb, field], check=True, stdout=subprocess.PIPE, text=True).stdout.strip()


def deb_files(deb):
    out = subprocess.run(["dpkg-deb", "-c", deb], check=True, stdout=subprocess.PIPE, text=True).stdout
    return {line.split(None, 5)[5].split(" -> ")[0][1:].rstrip("/") or "/": line.split()[0] for line in out.splitlines()}


def deb_member(deb, path):
    tarball = subprocess.run(["dpkg-deb", "--fsys-tarfile", deb], check=True, stdout=subprocess.PIPE).stdout
    with tarfile.open(fileobj=io.BytesIO(tarball)) as tar:
        return tar.extractfile("." + path).read()


def parse_stanzas(text):
    stanzas = []
    for block in text.strip().split("\n\n"):
        fields = {}
        key = None
        for line in block.splitlines():
            if line.startswith(" ") and key:
                fields[key] += "\n" + line[1:]
            else:
                key, _sep, value = line.partition(":")
                fields[key] = value.strip()
        stanzas.append(fields)
    return stanzas


def keyring_from(out, dest):
    """Release.key dearmored into a keyring, as the role does for /etc/apt/keyrings/kubernetes-apt-keyring.gpg."""
    with open(os.path.join(out, APT, "Release.key"), "rb") as armored, open(dest, "wb") as keyring:
        subprocess.run(["gpg", "--dearmor"], stdin=armored, stdout=keyring, check=True)
    return dest


class Apt:
    """apt-get/apt-cache with a private configuration: nothing of the host's apt state is used or touched."""

    def __init__(self, base, uri, keyring):
        self.base = base
        for rel in ("parts", "prefs", "lists/partial", "archives/partial"):
            os.makedirs(os.path.join(base, rel), exist_ok=True)
        open(os.path.join(base, "status"), "w", encoding="utf-8").close()
        with open(os.path.join(base, "sources.list"), "w", encoding="utf-8") as handle:
            handle.write("deb [signed-by=%s] %s/%s /\n" % (keyring, uri, APT))
        self.opts = []
        for key, value in (("Dir::Etc::SourceList", "sources.list"), ("Dir::Etc::SourceParts", "parts"),
                           ("Dir::Etc::Parts", "parts"), ("Dir::Etc::PreferencesParts", "prefs"),
                           ("Dir::Etc::Preferences", "prefs/none"), ("Dir::State", "."),
                           ("Dir::State::Lists", "lists"), ("Dir::State::status", "status"), ("Dir::Cache", "."),
                           ("Dir::Cache::Archives", "archives")):
            self.opts += ["-o", "%s=%s" % (key, os.path.join(base, value))]
        self.opts += ["-o", "Debug::NoLocking=1", "-o", "APT::Architecture=amd64", "-o", "APT::Architectures=amd64",
                      "-o", "APT::Sandbox::User=root", "-o", "Acquire::Languages=none"]

    def get(self, *args, cwd=None):
        return run(["apt-get", "-q"] + self.opts + list(args), cwd=cwd)

    def cache(self, *args):
        return run(["apt-cache"] + self.opts + list(args))


# --------------------------------------------------------------------------
# no build needed


def test_layout_mirrors_the_real_sites():
    lay = br.layout(VERSION)
    assert lay["apt_path"] == APT
    assert lay["apt_key_path"] == APT + "Release.key"
    assert lay["release_path"] == RELEASE
    assert lay["stable_txt_path"] == "release/stable-%s.txt" % MINOR
    assert lay["crictl_path"] == CRICTL
    assert lay["package_version"] == PKG_VERSION
    assert lay["cri_tools_package_version"] == CRI_TOOLS_PKG
    assert lay["apt_sources_line"] == (
        "deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] {base}/core:/stable:/v%s/deb/ /" % MINOR)
    assert br.layout("1.32.3")["release_path"] == "release/v1.32.3/bin/linux/amd64/"
    assert br.layout("1.32.3")["crictl_path"] == "cri-tools/releases/download/v1.32.0/crictl-v1.32.0-linux-amd64.tar.gz"
    assert br.layout("1.33.1")["apt_path"] == "core:/stable:/v1.33/deb/"


def test_source_files_are_the_standin_code_only(tmp_path):
    src = make_fake_source(str(tmp_path / "src"))
    assert br.source_files(src) == ["__init__.py", "apiserver/__init__.py", "crictl.py", "kubeadm.py", "kubelet.py",
                                    "version.py"]
    # The real tree: never the tooling, always version.py.
    real = br.source_files(REAL_SOURCE)
    assert "version.py" in real and "build_repo.py" not in real and "serve_repo.py" not in real


def test_packaged_version_follows_the_requested_version(tmp_path):
    src = make_fake_source(str(tmp_path / "src"))
    files = br.packaged_sources(src, "1.33.0")
    assert 'KUBERNETES_VERSION = "1.33.0"' in files["version.py"].decode()
    assert br.packaged_sources(src, VERSION)["version.py"] == open(os.path.join(src, "version.py"), "rb").read()


def test_missing_entry_module_is_refused(tmp_path):
    src = make_fake_source(str(tmp_path / "src"))
    os.unlink(os.path.join(src, "crictl.py"))
    with pytest.raises(br.BuildError, match="no crictl.py with a main"):
        br.packaged_sources(src, VERSION)
    # An apiserver package that re-exports main from a submodule is fine.
    with open(os.path.join(src, "crictl.py"), "w", encoding="utf-8") as handle:
        handle.write(FAKE_MAIN.format(name="crictl"))
    with open(os.path.join(src, "apiserver", "server.py"), "w", encoding="utf-8") as handle:
        handle.write(FAKE_APISERVER)
    with open(os.path.join(src, "apiserver", "__init__.py"), "w", encoding="utf-8") as handle:
        handle.write('"""STAND-IN fake apiserver package."""\nfrom .server import main  # noqa: F401\n')
    assert "apiserver/server.py" in br.packaged_sources(src, VERSION)


def test_unknown_version_is_refused_not_faked(tmp_path):
    src = make_fake_source(str(tmp_path / "src"))
    with pytest.raises(br.BuildError, match="not implemented by the stand-in builder"):
        br.build(str(tmp_path / "out"), str(tmp_path / "state"), "1.33.0", source=src, downloads=str(tmp_path / "dl"))
    with pytest.raises(br.BuildError, match="1.MINOR.PATCH"):
        br.build(str(tmp_path / "out"), str(tmp_path / "state"), "v1.32", source=src, downloads=str(tmp_path / "dl"))


def test_out_and_state_must_be_apart(tmp_path):
    src = make_fake_source(str(tmp_path / "src"))
    with pytest.raises(br.BuildError, match="must not contain"):
        br.build(str(tmp_path / "state" / "out"), str(tmp_path / "state"), source=src)


def test_foreign_out_directory_is_not_replaced(tmp_path):
    src = make_fake_source(str(tmp_path / "src"))
    out = tmp_path / "precious"
    out.mkdir()
    (out / "data.txt").write_text("mine")
    with pytest.raises(br.BuildError, match="refusing"):
        br.build(str(out), str(tmp_path / "state"), source=src, downloads=str(tmp_path / "dl"))
    assert (out / "data.txt").read_text() == "mine"


@needs_crds
def test_calico_manifests_hold_the_real_crds_and_a_standin_operator():
    manifests = br.calico_manifests(CRDS_BASE)
    assert sorted(manifests) == ["operator-crds.yaml", "tigera-operator.yaml"]
    bundle = manifests["operator-crds.yaml"]
    header = bundle[:bundle.index(b"\n---\n")].decode()
    assert header.startswith("# STAND-IN") and "only two" in header and all(line.startswith("#") for line in header.splitlines())
    documents = []
    for name in ("operator.tigera.io_installations.yaml", "operator.tigera.io_apiservers.yaml"):
        with open(os.path.join(CRDS, name), "rb") as handle:
            data = handle.read()
        assert b"---\n" + data in bundle  # byte for byte
        documents.append(yaml.safe_load(data))
    assert bundle.endswith(data)
    assert [d for d in yaml.safe_load_all(bundle) if d is not None] == documents
    assert [d["metadata"]["name"] for d in documents] == ["installations.operator.tigera.io", "apiservers.operator.tigera.io"]

    text = manifests["tigera-operator.yaml"].decode()
    assert text.startswith("# STAND-IN manifest")
    objects = list(yaml.safe_load_all(text))
    assert [(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects] == [
        ("Namespace", None, "tigera-operator"), ("ServiceAccount", "tigera-operator", "tigera-operator"),
        ("ClusterRole", None, "tigera-operator"), ("ClusterRoleBinding", None, "tigera-operator"),
        ("Deployment", "tigera-operator", "tigera-operator")]
    from lab.standin.apiserver import validation  # pylint: disable=import-outside-toplevel
    for obj in objects:
        dummy, warnings, errors = validation.validate_builtin(obj, "Strict")
        assert (warnings, errors) == ([], []), obj["kind"]
    assert objects[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    binding = objects[3]
    assert binding["roleRef"] == {"kind": "ClusterRole", "name": "tigera-operator", "apiGroup": "rbac.authorization.k8s.io"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "tigera-operator", "namespace": "tigera-operator"}]
    spec = objects[4]["spec"]
    pod = spec["template"]["spec"]
    assert spec["replicas"] == 1 and spec["selector"] == {"matchLabels": {"name": "tigera-operator"}}
    assert spec["template"]["metadata"]["labels"]["name"] == "tigera-operator"
    assert (pod["serviceAccountName"], pod["hostNetwork"], pod["dnsPolicy"]) == ("tigera-operator", True, "ClusterFirstWithHostNet")
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert sorted((t["operator"], t["effect"]) for t in pod["tolerations"]) == [("Exists", "NoExecute"), ("Exists", "NoSchedule")]
    [container] = pod["containers"]
    assert (container["name"], container["image"], container["command"]) == ("tigera-operator", "quay.io/tigera/operator:v1.42.4", ["operator"])
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert (env["WATCH_NAMESPACE"], env["OPERATOR_NAME"], env["TIGERA_OPERATOR_INIT_IMAGE_VERSION"]) == ("", "tigera-operator", "v1.42.4")


def test_missing_crds_fail_the_build_naming_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("IRONSTONE_CRDS_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(br.BuildError, match="IRONSTONE_CRDS_DIR"):
        br.calico_manifests()
    src = make_fake_source(str(tmp_path / "src"))
    with pytest.raises(br.BuildError, match="IRONSTONE_CRDS_DIR") as err:
        br.build(str(tmp_path / "out"), str(tmp_path / "state"), source=src, downloads=str(tmp_path / "dl"))
    assert str(tmp_path / "nowhere") in str(err.value)
    # a directory without one of the two files
    (tmp_path / "partial" / "tigera-operator-v1.42.4").mkdir(parents=True)
    (tmp_path / "partial" / "tigera-operator-v1.42.4" / "operator.tigera.io_installations.yaml").write_text("kind: CustomResourceDefinition\n")
    with pytest.raises(br.BuildError, match="operator.tigera.io_apiservers.yaml.*IRONSTONE_CRDS_DIR"):
        br.calico_manifests(str(tmp_path / "partial"))


def test_without_the_real_crds_and_no_variable_the_lab_uses_its_own_minimal_ones(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("IRONSTONE_CRDS_DIR", raising=False)
    monkeypatch.setattr(br, "DEFAULT_CRDS_DIR", str(tmp_path / "no-shared"))
    manifests = br.calico_manifests()
    assert "the lab's own minimal Installation and APIServer CRDs" in capsys.readouterr().err
    text = manifests["operator-crds.yaml"].decode()
    assert text.startswith("# STAND-IN fallback")
    docs = [d for d in yaml.safe_load_all(text) if d]
    assert [d["metadata"]["name"] for d in docs] == ["installations.operator.tigera.io", "apiservers.operator.tigera.io"]
    schema = docs[0]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    pool = schema["properties"]["spec"]["properties"]["calicoNetwork"]["properties"]["ipPools"]["items"]
    assert pool["required"] == ["cidr"] and "VXLANCrossSubnet" in pool["properties"]["encapsulation"]["enum"]
    assert "calicoVersion" not in schema["properties"]["spec"]["properties"]
    assert manifests["tigera-operator.yaml"] == br.calico_manifests(CRDS_BASE)["tigera-operator.yaml"]


def test_calico_manifests_are_inputs_of_the_build():
    base = ({"a.py": b"x"}, VERSION, "1.1", 1, "k", "f")
    one = br.input_hash(*base, calico={"operator-crds.yaml": b"1", "tigera-operator.yaml": b"2"})
    assert one == br.input_hash(*base, calico={"operator-crds.yaml": b"1", "tigera-operator.yaml": b"2"})
    assert one != br.input_hash(*base, calico={"operator-crds.yaml": b"1 changed", "tigera-operator.yaml": b"2"})
    assert one != br.input_hash(*base, calico={"operator-crds.yaml": b"1", "tigera-operator.yaml": b"2 changed"})
    assert br.calico_layout() == {"version": "3.32.1", "operator_version": "1.42.4", "base_url_path": "calico/v3.32.1/manifests"}


def test_server_serves_colon_paths(tmp_path):
    target = tmp_path / "core:" / "stable:" / "v1.32" / "deb"
    target.mkdir(parents=True)
    (target / "InRelease").write_bytes(b"signed")
    (tmp_path / "secret").mkdir()
    server, base = sr.serve_in_thread(str(tmp_path / "core:"), port=0)
    try:
        with urllib.request.urlopen(base + "/stable:/v1.32/deb/InRelease", timeout=10) as response:
            assert response.read() == b"signed"
        with urllib.request.urlopen(base + "/stable%3A/v1.32/deb/InRelease?x=1", timeout=10) as response:
            assert response.read() == b"signed"
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(base + "/stable:/v1.32/deb/Release", timeout=10)  # pylint: disable=consider-using-with
        assert missing.value.code == 404
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(base + "/../secret/", timeout=10)  # pylint: disable=consider-using-with
    finally:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------
# one build of a fake stand-in tree, shared by the tests below


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    if any(shutil.which(t) is None for t in TOOLS):
        pytest.skip("needs dpkg-deb, gpg, gpgv and apt")
    base = tmp_path_factory.mktemp("repo")
    src = make_fake_source(str(base / "src"))
    out, state = str(base / "out"), str(base / "state")
    try:
        summary = br.build(out, state, source=src, downloads=DOWNLOADS, kubectl_deb=LOCAL_KUBECTL)
    except br.DownloadError as exc:
        pytest.skip("offline and nothing cached: %s" % exc)
    return types.SimpleNamespace(base=str(base), src=src, out=out, state=state, summary=summary,
                                 apt=os.path.join(out, APT), debs=os.path.join(out, APT, "amd64"))


@needs_tools
def test_summary_gives_paths_digests_and_key(built):
    summary = built.summary
    assert summary["stand_in"] is True and summary["cached"] is False
    assert summary["layout"]["apt_path"] == APT and summary["key"]["path"] == APT + "Release.key"
    assert summary["crictl"] == {"path": CRICTL, "sha256": sha256(os.path.join(built.out, CRICTL))}
    for name in ("kubeadm", "kubelet", "kubectl"):
        assert summary["binaries"][name] == {"path": RELEASE + name, "sha256": sha256(os.path.join(built.out, RELEASE, name))}
    listed = {item["path"]: item["sha256"] for item in summary["files"]}
    on_disk = {}
    for dirpath, _dirs, files in os.walk(built.out):
        for name in files:
            rel = os.path.relpath(os.path.join(dirpath, name), built.out)
            if rel not in (".build-hash", "build-summary.json"):
                on_disk[rel] = sha256(os.path.join(dirpath, name))
    assert listed == on_disk
    with open(os.path.join(built.out, "build-summary.json"), encoding="utf-8") as handle:
        assert json.load(handle)["input_hash"] == summary["input_hash"]
    assert summary["packages"]["kubeadm"]["filename"] == APT + "amd64/kubeadm_%s_amd64.deb" % PKG_VERSION


@needs_tools
def test_debs_have_the_right_control_fields(built):
    expected = {
        "kubeadm": (PKG_VERSION, "kubelet (>= {0}.0), cri-tools (>= {0}.0), ironstone-standin-lib (= {1})".format(MINOR, PKG_VERSION)),
        "kubelet": (PKG_VERSION, "ironstone-standin-lib (= %s), python3 (>= 3.11), python3-yaml, python3-cryptography" % PKG_VERSION),
        "cri-tools": (CRI_TOOLS_PKG, "ironstone-standin-lib (= %s)" % PKG_VERSION),
        "ironstone-standin-lib": (PKG_VERSION, "python3 (>= 3.11), python3-yaml, python3-cryptography"),
        "kubectl": (PKG_VERSION, "libc6 (>= 2.34)"),
    }
    assert sorted(os.listdir(built.debs)) == sorted("%s_%s_amd64.deb" % (n, v) for n, (v, _d) in expected.items())
    for name, (version, depends) in expected.items():
        deb = os.path.join(built.debs, "%s_%s_amd64.deb" % (name, version))
        assert deb_field(deb, "Package") == name
        assert deb_field(deb, "Version") == version
        assert deb_field(deb, "Architecture") == "amd64"
        assert deb_field(deb, "Depends") == depends
        assert deb_field(deb, "Maintainer") == "ironstone.k8s lab (STAND-IN)"
        description = deb_field(deb, "Description")
        if name == "kubectl":
            assert "real kubectl" in description and "Not a stand-in" in description
        else:
            assert description.startswith("STAND-IN")
    assert deb_field(os.path.join(built.debs, "cri-tools_%s_amd64.deb" % CRI_TOOLS_PKG), "Description").startswith(
        "STAND-IN crictl on top of containerd's ctr")


@needs_tools
def test_debs_ship_the_contract_files(built):
    def files(name, version=PKG_VERSION):
        return deb_files(os.path.join(built.debs, "%s_%s_amd64.deb" % (name, version)))

    lib = files("ironstone-standin-lib")
    shipped = sorted(p for p in lib if p.endswith(".py"))
    assert shipped == ["/usr/lib/ironstone-standin/standin/" + rel for rel in
                       ("__init__.py", "apiserver/__init__.py", "crictl.py", "kubeadm.py", "kubelet.py", "version.py")]
    assert lib["/usr/lib/ironstone-standin/standin"] == "drwxr-xr-x"
    assert not any(p.endswith(".pyc") for p in lib)

    kubeadm = files("kubeadm")
    assert kubeadm["/usr/bin/kubeadm"] == "-rwxr-xr-x"
    assert "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf" in kubeadm
    kubelet = files("kubelet")
    assert kubelet["/usr/bin/kubelet"] == "-rwxr-xr-x"
    assert kubelet["/usr/lib/ironstone-standin/images/kube-apiserver"] == "-rwxr-xr-x"
    assert "/usr/lib/systemd/system/kubelet.service" in kubelet
    vendor = "/usr/lib/ironstone-standin/vendor/"
    for pkg in ("kubernetes_validate", "jsonschema", "referencing", "rpds", "attrs", "jsonschema_specifications",
                "typing_extensions.py", "importlib_resources", "packaging"):
        assert vendor + pkg in kubelet, pkg
    assert vendor + "yaml" not in kubelet and not any(p.startswith(vendor + "bin") for p in kubelet)
    schemas = vendor + "kubernetes_validate/kubernetes-json-schema/"
    kept = {p[len(schemas):].split("/")[0] for p in kubelet if p.startswith(schemas) and p != schemas.rstrip("/")}
    assert kept == {"v%s.0-local" % MINOR, "v%s.0-local-strict" % MINOR}
    assert files("cri-tools", CRI_TOOLS_PKG)["/usr/bin/crictl"] == "-rwxr-xr-x"
    assert files("kubectl")["/usr/bin/kubectl"] == "-rwxr-xr-x"
    # Everything root-owned.
    out = subprocess.run(["dpkg-deb", "-c", os.path.join(built.debs, "kubelet_%s_amd64.deb" % PKG_VERSION)],
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    assert {line.split()[1] for line in out.splitlines()} == {"root/root"}


@needs_tools
def test_systemd_units_and_launchers(built):
    kubelet = os.path.join(built.debs, "kubelet_%s_amd64.deb" % PKG_VERSION)
    kubeadm = os.path.join(built.debs, "kubeadm_%s_amd64.deb" % PKG_VERSION)
    unit = deb_member(kubelet, "/usr/lib/systemd/system/kubelet.service").decode()
    for line in ("Description=kubelet: The Kubernetes Node Agent (STAND-IN)", "ExecStart=/usr/bin/kubelet",
                 "Restart=always", "StartLimitInterval=0", "RestartSec=10", "WantedBy=multi-user.target"):
        assert line in unit.splitlines()
    dropin = deb_member(kubeadm, "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf").decode().splitlines()
    for line in (
            'Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf'
            ' --kubeconfig=/etc/kubernetes/kubelet.conf"',
            'Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"',
            "EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env", "EnvironmentFile=-/etc/default/kubelet", "ExecStart=",
            "ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS"):
        assert line in dropin
    assert dropin.index("ExecStart=") < len(dropin) - 1
    # The package starts and enables nothing.
    control = run(["dpkg-deb", "-I", kubelet, "postinst"]).stdout
    assert "daemon-reload" in control and "enable" not in control and "start" not in control
    launcher = deb_member(kubeadm, "/usr/bin/kubeadm").decode()
    assert launcher.startswith("#!/usr/bin/python3\n")
    assert 'sys.path.insert(0, "/usr/lib/ironstone-standin")' in launcher
    assert "from standin.kubeadm import main" in launcher and "sys.exit(main())" in launcher
    apiserver = deb_member(kubelet, "/usr/lib/ironstone-standin/images/kube-apiserver").decode()
    assert '"/usr/lib/ironstone-standin/vendor"' in apiserver and "from standin.apiserver import main" in apiserver


@needs_tools
def test_launchers_run_the_packaged_code(built, tmp_path):
    """Unpack the debs into a root and run the launchers with /usr/lib/ironstone-standin pointed there."""
    root = str(tmp_path / "root")
    for deb in os.listdir(built.debs):
        if not deb.startswith("kubectl"):
            subprocess.run(["dpkg-deb", "-x", os.path.join(built.debs, deb), root], check=True)
    lib = root + "/usr/lib/ironstone-standin"
    for launcher, expect in (("/usr/bin/kubeadm", "kubeadm v%s STAND-IN" % VERSION), ("/usr/bin/kubelet", "kubelet v%s STAND-IN" % VERSION),
                             ("/usr/bin/crictl", "crictl v%s STAND-IN" % VERSION),
                             ("/usr/lib/ironstone-standin/images/kube-apiserver", "kube-apiserver STAND-IN")):
        with open(root + launcher, encoding="utf-8") as handle:
            text = handle.read().replace("/usr/lib/ironstone-standin", lib)
        proc = run([sys.executable, "-c", text])
        assert proc.returncode == 0, proc.stdout
        assert proc.stdout.startswith(expect), proc.stdout
    assert "validator=" + lib + "/vendor/kubernetes_validate/" in proc.stdout


@needs_tools
def test_kubectl_is_debians_real_binary(built, tmp_path):
    deb = os.path.join(built.debs, "kubectl_%s_amd64.deb" % PKG_VERSION)
    debian = os.path.join(DOWNLOADS, KUBECTL_DEB["filename"])
    assert sha256(debian) == KUBECTL_DEB["sha256"]
    real = hashlib.sha256(deb_member(debian, "/usr/bin/kubectl")).hexdigest()
    assert hashlib.sha256(deb_member(deb, "/usr/bin/kubectl")).hexdigest() == real
    assert sha256(os.path.join(built.out, RELEASE, "kubectl")) == real
    proc = run([os.path.join(built.out, RELEASE, "kubectl"), "version", "--client"])
    assert proc.returncode == 0 and "Client Version: v%s" % VERSION in proc.stdout


@needs_tools
def test_packages_and_release_hashes_match(built):
    with open(os.path.join(built.apt, "Packages"), encoding="utf-8") as handle:
        packages_text = handle.read()
    with gzip.open(os.path.join(built.apt, "Packages.gz"), "rt", encoding="utf-8") as handle:
        assert handle.read() == packages_text
    stanzas = parse_stanzas(packages_text)
    assert sorted(s["Package"] for s in stanzas) == ["cri-tools", "ironstone-standin-lib", "kubeadm", "kubectl", "kubelet"]
    for stanza in stanzas:
        deb = os.path.join(built.apt, stanza["Filename"])
        assert stanza["Filename"].startswith("amd64/")
        assert stanza["SHA256"] == sha256(deb)
        assert int(stanza["Size"]) == os.path.getsize(deb)
        with open(deb, "rb") as handle:
            assert stanza["MD5sum"] == hashlib.md5(handle.read()).hexdigest()
        for field in ("Version", "Depends", "Installed-Size", "Maintainer"):
            assert stanza[field] == deb_field(deb, field)
    with open(os.path.join(built.apt, "Release"), encoding="utf-8") as handle:
        release = parse_stanzas(handle.read())[0]
    for field in ("Origin", "Label", "Suite", "Codename", "Date"):
        assert release[field]
    assert release["Architectures"] == "amd64"
    sums = {line.split()[2]: line.split()[:2] for line in release["SHA256"].strip().splitlines()}
    for name in ("Packages", "Packages.gz"):
        path = os.path.join(built.apt, name)
        assert sums[name] == [sha256(path), str(os.path.getsize(path))]
    assert "STAND-IN" in release["Description"]


@needs_tools
def test_signatures_verify_with_the_published_key(built, tmp_path):
    keyring = keyring_from(built.out, str(tmp_path / "kubernetes-apt-keyring.gpg"))
    shown = run(["gpg", "--show-keys", "--with-colons", keyring]).stdout
    assert built.summary["key"]["fingerprint"] in shown
    assert "ironstone lab stand-in repository" in shown
    assert run(["gpgv", "--keyring", keyring, os.path.join(built.apt, "InRelease")]).returncode == 0
    assert run(["gpgv", "--keyring", keyring, os.path.join(built.apt, "Release.gpg"),
                os.path.join(built.apt, "Release")]).returncode == 0
    with open(os.path.join(built.apt, "Release.gpg"), encoding="ascii") as handle:
        assert handle.read().startswith("-----BEGIN PGP SIGNATURE-----")
    with open(os.path.join(built.apt, "InRelease"), encoding="utf-8") as handle:
        inrelease = handle.read()
    assert inrelease.startswith("-----BEGIN PGP SIGNED MESSAGE-----")
    tampered = tmp_path / "Release"
    with open(os.path.join(built.apt, "Release"), encoding="utf-8") as handle:
        tampered.write_text(handle.read().replace("Architectures: amd64", "Architectures: arm64"))
    assert run(["gpgv", "--keyring", keyring, os.path.join(built.apt, "Release.gpg"), str(tampered)]).returncode != 0
    (tmp_path / "InRelease").write_text(inrelease.replace("Architectures: amd64", "Architectures: arm64"))
    assert run(["gpgv", "--keyring", keyring, str(tmp_path / "InRelease")]).returncode != 0


@needs_tools
def test_private_key_stays_in_state(built):
    private = os.path.join(built.state, "gnupg", "private-keys-v1.d")
    keys = [os.path.join(private, name) for name in os.listdir(private)]
    assert keys
    key_blobs = [open(k, "rb").read() for k in keys]
    for dirpath, _dirs, files in os.walk(built.out):
        assert "gnupg" not in dirpath and "private-keys-v1.d" not in dirpath
        for name in files:
            with open(os.path.join(dirpath, name), "rb") as handle:
                data = handle.read()
            assert b"PGP PRIVATE KEY" not in data
            assert not any(blob in data for blob in key_blobs)


@needs_tools
@pytest.mark.parametrize("transport", ["file", "http"])
def test_apt_reads_the_repository(built, tmp_path, transport):
    keyring = keyring_from(built.out, str(tmp_path / "keyring.gpg"))
    server = None
    if transport == "http":
        server, uri = sr.serve_in_thread(built.out, port=0)
    else:
        uri = "file:" + built.out
    try:
        apt = Apt(str(tmp_path / "apt"), uri, keyring)
        proc = apt.get("update")
        assert proc.returncode == 0, proc.stdout
        assert "W:" not in proc.stdout and "E:" not in proc.stdout, proc.stdout
        for name, version in (("kubeadm", PKG_VERSION), ("kubelet", PKG_VERSION), ("kubectl", PKG_VERSION),
                              ("cri-tools", CRI_TOOLS_PKG), ("ironstone-standin-lib", PKG_VERSION)):
            policy = apt.cache("policy", name).stdout
            assert "Candidate: %s" % version in policy, policy
        show = apt.cache("show", "kubeadm").stdout
        assert "Description: STAND-IN" in show
        # apt checks the deb against Packages' hashes when it downloads it.
        download = apt.get("download", "kubeadm", "kubelet", cwd=str(tmp_path))
        assert download.returncode == 0, download.stdout
        assert sha256(str(tmp_path / ("kubeadm_%s_amd64.deb" % PKG_VERSION))) == sha256(
            os.path.join(built.debs, "kubeadm_%s_amd64.deb" % PKG_VERSION))
    finally:
        if server:
            server.shutdown()
            server.server_close()


@needs_tools
def test_apt_refuses_a_tampered_repository(built, tmp_path):
    keyring = keyring_from(built.out, str(tmp_path / "keyring.gpg"))
    copy = str(tmp_path / "copy")
    shutil.copytree(built.out, copy)
    apt_dir = os.path.join(copy, APT)
    with open(os.path.join(apt_dir, "Packages"), encoding="utf-8") as handle:
        text = handle.read().replace("Version: %s" % PKG_VERSION, "Version: %s.99-1.1" % MINOR)
    with open(os.path.join(apt_dir, "Packages"), "w", encoding="utf-8") as handle:
        handle.write(text)
    with gzip.GzipFile(os.path.join(apt_dir, "Packages.gz"), "wb", mtime=0) as handle:
        handle.write(text.encode())
    apt = Apt(str(tmp_path / "apt"), "file:" + copy, keyring)
    proc = apt.get("update")
    assert proc.returncode != 0 and "Hash Sum mismatch" in proc.stdout, proc.stdout
    assert "Candidate: %s.99" % MINOR not in apt.cache("policy", "kubeadm").stdout

    # A Release edited after signing is refused too.
    shutil.rmtree(copy)
    shutil.copytree(built.out, copy)
    with open(os.path.join(apt_dir, "InRelease"), encoding="utf-8") as handle:
        inrelease = handle.read()
    with open(os.path.join(apt_dir, "InRelease"), "w", encoding="utf-8") as handle:
        handle.write(inrelease.replace("Suite: stable", "Suite: stablE"))
    os.unlink(os.path.join(apt_dir, "Release.gpg"))
    apt = Apt(str(tmp_path / "apt2"), "file:" + copy, keyring)
    proc = apt.get("update")
    assert proc.returncode != 0 and "BADSIG" in proc.stdout and "is not signed" in proc.stdout, proc.stdout
    assert "Candidate: %s" % PKG_VERSION not in apt.cache("policy", "kubeadm").stdout


@needs_tools
def test_binary_downloads_run_and_match_their_digests(built, tmp_path):
    release = os.path.join(built.out, RELEASE)
    for name in ("kubeadm", "kubelet", "kubectl"):
        with open(os.path.join(release, name + ".sha256"), encoding="ascii") as handle:
            assert handle.read() == sha256(os.path.join(release, name))
    for name in ("kubeadm", "kubelet"):
        path = os.path.join(release, name)
        with open(path, "rb") as handle:
            assert handle.readline() == b"#!/usr/bin/python3\n"
        assert os.access(path, os.X_OK)
        proc = run([sys.executable, path, "--version"])
        assert proc.returncode == 0 and proc.stdout.startswith("%s v%s STAND-IN" % (name, VERSION)), proc.stdout
    with open(os.path.join(built.out, "release", "stable-%s.txt" % MINOR), encoding="ascii") as handle:
        assert handle.read().strip() == "v" + VERSION
    tarball = os.path.join(built.out, CRICTL)
    with open(tarball + ".sha256", encoding="ascii") as handle:
        assert handle.read() == sha256(tarball) + "\n"
    with open(tarball + ".sha512", encoding="ascii") as handle, open(tarball, "rb") as data:
        assert handle.read() == hashlib.sha512(data.read()).hexdigest() + "\n"
    with tarfile.open(tarball) as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == ["crictl"]
        assert members[0].mode == 0o755 and members[0].uid == 0
        tar.extract(members[0], str(tmp_path))
    proc = run([sys.executable, str(tmp_path / "crictl"), "--version"])
    assert proc.returncode == 0 and proc.stdout.startswith("crictl v%s STAND-IN" % VERSION), proc.stdout


@needs_tools
def test_cache_hit_determinism_and_rebuild(built, tmp_path):
    out = str(tmp_path / "out")
    first = br.build(out, built.state, source=built.src, downloads=DOWNLOADS, kubectl_deb=LOCAL_KUBECTL)
    assert first["cached"] is False
    # Same input, another output directory: the same bytes (signatures and Release's Date aside).
    unsigned = ("Release", "InRelease", "Release.gpg")
    same = {i["path"]: i["sha256"] for i in first["files"] if os.path.basename(i["path"]) not in unsigned}
    assert same == {i["path"]: i["sha256"] for i in built.summary["files"] if os.path.basename(i["path"]) not in unsigned}
    assert first["input_hash"] == built.summary["input_hash"]

    with open(os.path.join(out, APT, "Release"), "rb") as handle:
        release = handle.read()
    again = br.build(out, built.state, source=built.src, downloads=DOWNLOADS)
    assert again["cached"] is True and again["input_hash"] == first["input_hash"]
    with open(os.path.join(out, APT, "Release"), "rb") as handle:
        assert handle.read() == release

    # A changed stand-in module rebuilds what contains it, and only that.
    src2 = str(tmp_path / "src2")
    shutil.copytree(built.src, src2)
    with open(os.path.join(src2, "kubeadm.py"), "a", encoding="utf-8") as handle:
        handle.write("\nCHANGED = True\n")
    rebuilt = br.build(out, built.state, source=src2, downloads=DOWNLOADS)
    assert rebuilt["cached"] is False and rebuilt["input_hash"] != first["input_hash"]
    new = {p: v["sha256"] for p, v in rebuilt["packages"].items()}
    old = {p: v["sha256"] for p, v in first["packages"].items()}
    assert new["ironstone-standin-lib"] != old["ironstone-standin-lib"]
    for name in ("kubeadm", "kubelet", "kubectl", "cri-tools"):
        assert new[name] == old[name], name
    assert rebuilt["binaries"]["kubeadm"]["sha256"] != first["binaries"]["kubeadm"]["sha256"]
    assert rebuilt["binaries"]["kubectl"]["sha256"] == first["binaries"]["kubectl"]["sha256"]
    assert b"CHANGED = True" in deb_member(os.path.join(out, APT, "amd64", "ironstone-standin-lib_%s_amd64.deb" % PKG_VERSION),
                                           "/usr/lib/ironstone-standin/standin/kubeadm.py")
    # The key is reused: the same fingerprint signs every build.
    assert rebuilt["key"]["fingerprint"] == built.summary["key"]["fingerprint"]
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".out.")]


@needs_tools
@needs_crds
def test_calico_manifests_are_served_and_summarised(built, tmp_path):
    manifests = br.calico_manifests(CRDS_BASE)
    for name, data in manifests.items():
        with open(os.path.join(built.out, CALICO, name), "rb") as handle:
            assert handle.read() == data
        assert stat.S_IMODE(os.stat(os.path.join(built.out, CALICO, name)).st_mode) == 0o644
    assert built.summary["calico"] == {"version": "3.32.1", "operator_version": "1.42.4", "base_url_path": "calico/v3.32.1/manifests",
                                       "sha256": {n: sha256(os.path.join(built.out, CALICO, n)) for n in manifests}}
    listed = {item["path"] for item in built.summary["files"]}
    assert {CALICO + "operator-crds.yaml", CALICO + "tigera-operator.yaml"} <= listed
    # a changed CRD is a changed input: rebuilt, and the new bytes served
    crds = tmp_path / "crds"
    shutil.copytree(CRDS_BASE, str(crds))
    changed = crds / "tigera-operator-v1.42.4" / "operator.tigera.io_apiservers.yaml"
    os.chmod(str(changed), 0o644)
    changed.write_bytes(changed.read_bytes() + b"# changed\n")
    out = str(tmp_path / "out")
    rebuilt = br.build(out, built.state, source=built.src, downloads=DOWNLOADS, kubectl_deb=LOCAL_KUBECTL, crds_dir=str(crds))
    assert rebuilt["cached"] is False and rebuilt["input_hash"] != built.summary["input_hash"]
    with open(os.path.join(out, CALICO, "operator-crds.yaml"), "rb") as handle:
        assert handle.read().endswith(b"# changed\n")
    assert rebuilt["calico"]["sha256"]["tigera-operator.yaml"] == built.summary["calico"]["sha256"]["tigera-operator.yaml"]


@needs_tools
def test_cli_prints_the_url_layout(built, capsys):
    rc = br.main(["--out", built.out, "--state", built.state, "--source", built.src, "--downloads", DOWNLOADS,
                  "--print-url-layout"])
    assert rc == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["apt_path"] == APT and shown["apt_key_path"] == APT + "Release.key"
    assert shown["release_path"] == RELEASE and shown["crictl_path"] == CRICTL
    assert shown["binaries_sha256"] == {n: b["sha256"] for n, b in built.summary["binaries"].items()}
    assert shown["crictl_sha256"] == built.summary["crictl"]["sha256"]
    assert shown["key_fingerprint"] == built.summary["key"]["fingerprint"]
    assert shown["calico"] == {"version": "3.32.1", "operator_version": "1.42.4", "base_url_path": "calico/v3.32.1/manifests",
                               "sha256": {n: sha256(os.path.join(built.out, CALICO, n)) for n in ("operator-crds.yaml", "tigera-operator.yaml")}}
