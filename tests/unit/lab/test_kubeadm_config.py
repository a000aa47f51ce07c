"""Unit tests of the kubeadm configuration STAND-IN validator (lab/standin/kubeadm_config.py)."""
import os
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from lab.standin import kubeadm_config as kc  # noqa: E402  pylint: disable=wrong-import-position

GVK4 = 'schema.GroupVersionKind{Group:"kubeadm.k8s.io", Version:"v1beta4", Kind:"%s"}'
GVK3 = 'schema.GroupVersionKind{Group:"kubeadm.k8s.io", Version:"v1beta3", Kind:"%s"}'
PIN = "sha256:" + "0123456789abcdef" * 4
TOKEN = "abcdef.0123456789abcdef"

INIT_CLUSTER_V1BETA4 = """\
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
bootstrapTokens:
  - token: abcdef.0123456789abcdef
    ttl: 24h0m0s
    usages: [signing, authentication]
    groups: [system:bootstrappers:kubeadm:default-node-token]
    description: first token
nodeRegistration:
  name: cp-1
  criSocket: unix:///run/containerd/containerd.sock
  taints:
    - key: node-role.kubernetes.io/control-plane
      effect: NoSchedule
  kubeletExtraArgs:
    - name: node-ip
      value: 10.0.0.11
  ignorePreflightErrors: [Swap]
  imagePullPolicy: IfNotPresent
  imagePullSerial: true
localAPIEndpoint:
  advertiseAddress: 10.0.0.11
  bindPort: 6443
certificateKey: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
skipPhases: [addon/kube-proxy]
patches:
  directory: /etc/kubernetes/patches
timeouts:
  controlPlaneComponentHealthCheck: 4m
  kubeletHealthCheck: 1h30m
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.33.2
clusterName: lab
controlPlaneEndpoint: api.lab.internal:6443
imageRepository: registry.lab.internal/k8s
certificatesDir: /etc/kubernetes/pki
encryptionAlgorithm: ECDSA-P256
certificateValidityPeriod: 8760h
caCertificateValidityPeriod: 87600h0m0s
featureGates:
  ControlPlaneKubeletLocalMode: true
networking:
  serviceSubnet: 10.96.0.0/12
  podSubnet: 10.244.0.0/16
  dnsDomain: cluster.local
etcd:
  external:
    endpoints:
      - https://10.0.0.21:2379
      - https://10.0.0.22:2379
    caFile: /etc/kubernetes/pki/etcd/ca.crt
    certFile: /etc/kubernetes/pki/apiserver-etcd-client.crt
    keyFile: /etc/kubernetes/pki/apiserver-etcd-client.key
apiServer:
  certSANs: [api.lab.internal, 10.0.0.10]
  extraArgs:
    - name: audit-log-path
      value: /var/log/kubernetes/audit.log
  extraVolumes:
    - name: audit
      hostPath: /var/log/kubernetes
      mountPath: /var/log/kubernetes
      readOnly: false
      pathType: DirectoryOrCreate
  extraEnvs:
    - name: HTTPS_PROXY
      value: http://proxy:3128
controllerManager:
  extraArgs:
    - name: bind-address
      value: 0.0.0.0
scheduler:
  extraArgs: []
dns:
  imageTag: v1.12.0
  disabled: false
proxy:
  disabled: true
"""

JOIN_V1BETA4 = f"""\
apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    token: {TOKEN}
    apiServerEndpoint: api.lab.internal:6443
    caCertHashes: [{PIN}]
nodeRegistration:
  name: worker-1
"""


def doc(kind, body="", api="kubeadm.k8s.io/v1beta4"):
    """One YAML document of ``kind`` with ``body`` lines."""
    return f"apiVersion: {api}\nkind: {kind}\n{body}"


def join_with(bootstrap_token_body):
    """A v1beta4 JoinConfiguration with the given discovery.bootstrapToken lines (indented 4)."""
    return doc("JoinConfiguration", "discovery:\n  bootstrapToken:\n" + bootstrap_token_body)


# --- valid configurations -------------------------------------------------------------------

def test_realistic_v1beta4_init_and_cluster_with_external_etcd_is_valid():
    assert kc.validate(INIT_CLUSTER_V1BETA4, "1.33.2") == []


def test_load_returns_documents_by_kind():
    docs = kc.load(INIT_CLUSTER_V1BETA4, "v1.33.2")
    assert sorted(docs) == ["ClusterConfiguration", "InitConfiguration"]
    assert docs["ClusterConfiguration"]["etcd"]["external"]["endpoints"][1] == "https://10.0.0.22:2379"
    assert docs["InitConfiguration"]["nodeRegistration"]["kubeletExtraArgs"] == [{"name": "node-ip", "value": "10.0.0.11"}]


def test_join_v1beta4_is_valid():
    assert kc.validate(JOIN_V1BETA4, "1.33.0") == []


def test_reset_and_upgrade_configuration_v1beta4_are_valid():
    text = doc("ResetConfiguration", "force: true\nunmountFlags: [MNT_DETACH]\ntimeouts:\n  etcdAPICall: 2m\n") + "---\n" + doc(
        "UpgradeConfiguration", "apply:\n  forceUpgrade: true\n  imagePullSerial: false\ndiff:\n  contextLines: 3\nplan:\n  printConfig: true\n")
    assert kc.validate(text, "1.33.2") == []


def test_component_configs_are_accepted_on_kind_only():
    text = INIT_CLUSTER_V1BETA4 + "---\napiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nanything: goes\n" \
        "---\napiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: ipvs\n"
    assert sorted(kc.load(text, "1.33.2")) == ["ClusterConfiguration", "InitConfiguration", "KubeProxyConfiguration", "KubeletConfiguration"]


def test_empty_documents_are_skipped():
    assert sorted(kc.load("---\n" + JOIN_V1BETA4 + "---\n---\n", "1.33.2")) == ["JoinConfiguration"]


def test_v1beta3_is_accepted_on_1_33_with_map_extra_args():
    text = doc("ClusterConfiguration", "apiServer:\n  extraArgs:\n    audit-log-path: /var/log/audit.log\n"
               "  timeoutForControlPlane: 4m0s\nkubernetesVersion: 1.33.2\n", api="kubeadm.k8s.io/v1beta3")
    assert kc.validate(text, "1.33.2") == []


# --- apiVersion / kind ----------------------------------------------------------------------

def test_v1beta3_is_refused_on_1_36():
    text = doc("InitConfiguration", api="kubeadm.k8s.io/v1beta3")
    assert kc.validate(text, "1.36.0") == [
        'your configuration file uses an old API spec: "kubeadm.k8s.io/v1beta3" (kind: "InitConfiguration"). '
        "Please use kubeadm v1.35 instead and run 'kubeadm config migrate --old-config old.yaml --new-config new.yaml'."]


def test_v1beta4_is_refused_on_1_30():
    assert kc.validate(doc("InitConfiguration"), "v1.30.5") == ["unknown configuration " + GVK4 % "InitConfiguration"]


def test_v1beta4_is_accepted_from_1_31():
    assert kc.validate(doc("InitConfiguration"), "1.31.0") == []


def test_reset_configuration_does_not_exist_in_v1beta3():
    assert kc.validate(doc("ResetConfiguration", api="kubeadm.k8s.io/v1beta3"), "1.33.2") == [
        "unknown configuration " + GVK3 % "ResetConfiguration"]


def test_unknown_kind_is_refused():
    assert kc.validate(doc("NodeConfiguration"), "1.33.2") == ["unknown configuration " + GVK4 % "NodeConfiguration"]


def test_old_api_version_v1beta2_is_refused():
    assert kc.validate(doc("InitConfiguration", api="kubeadm.k8s.io/v1beta2"), "1.33.2") == [
        "unknown configuration " + GVK4.replace("v1beta4", "v1beta2") % "InitConfiguration"]


def test_missing_kind_is_refused():
    assert kc.validate("apiVersion: kubeadm.k8s.io/v1beta4\nclusterName: x\n", "1.33.2") == [
        'invalid configuration for GroupVersionKind schema.GroupVersionKind{Group:"", Version:"kubeadm.k8s.io/v1beta4", Kind:""}: '
        "kind and apiVersion is mandatory information that must be specified"]


def test_kind_given_twice_is_refused():
    errors = kc.validate(doc("ClusterConfiguration") + "---\n" + doc("ClusterConfiguration"), "1.33.2")
    assert errors == ['invalid configuration: kind "ClusterConfiguration" is specified twice in YAML file']


def test_errors_of_several_documents_are_all_reported():
    text = doc("InitConfiguration", "foo: 1\n") + "---\n" + doc("ClusterConfiguration", "bar: 2\n")
    assert kc.validate(text, "1.33.2") == [
        "error unmarshaling configuration " + GVK4 % "InitConfiguration" + ': strict decoding error: unknown field "foo"',
        "error unmarshaling configuration " + GVK4 % "ClusterConfiguration" + ': strict decoding error: unknown field "bar"']


def test_non_mapping_document_is_refused():
    assert kc.validate("- a\n- b\n", "1.33.2") == ["invalid configuration: a document must be a mapping, got array"]


def test_yaml_syntax_error_is_reported():
    errors = kc.validate("kind: [unclosed\n", "1.33.2")
    assert len(errors) == 1 and errors[0].startswith("error converting YAML to JSON: ")


def test_bad_pinned_version_raises_value_error():
    with pytest.raises(ValueError):
        kc.validate(doc("InitConfiguration"), "latest")


# --- unknown fields -------------------------------------------------------------------------

def test_unknown_top_level_field_is_refused_with_its_name():
    assert kc.validate(doc("ClusterConfiguration", "metadata:\n  name: x\n"), "1.33.2") == [
        "error unmarshaling configuration " + GVK4 % "ClusterConfiguration" + ': strict decoding error: unknown field "metadata"']


def test_unknown_nested_fields_are_refused_with_their_paths_in_one_error():
    text = doc("ClusterConfiguration", "etcd:\n  external:\n    endpoint: https://e:2379\n"
               "apiServer:\n  extraArgs:\n    - nmae: x\n      value: y\n")
    assert kc.validate(text, "1.33.2") == [
        "error unmarshaling configuration " + GVK4 % "ClusterConfiguration"
        + ': strict decoding error: unknown field "etcd.external.endpoint", unknown field "apiServer.extraArgs[0].nmae"']


def test_wrong_case_field_name_is_unknown():
    errors = kc.validate(doc("ClusterConfiguration", "ControlPlaneEndpoint: api:6443\n"), "1.33.2")
    assert errors == ["error unmarshaling configuration " + GVK4 % "ClusterConfiguration"
                      + ': strict decoding error: unknown field "ControlPlaneEndpoint"']


def test_v1beta4_only_field_is_unknown_in_v1beta3():
    text = doc("ClusterConfiguration", "proxy:\n  disabled: true\n", api="kubeadm.k8s.io/v1beta3")
    assert kc.validate(text, "1.33.2") == [
        "error unmarshaling configuration " + GVK3 % "ClusterConfiguration" + ': strict decoding error: unknown field "proxy"']


def test_v1beta3_only_field_is_unknown_in_v1beta4():
    text = doc("JoinConfiguration", "discovery:\n  timeout: 5m\n  file:\n    kubeConfigPath: https://x/y\n")
    assert kc.validate(text, "1.33.2") == [
        "error unmarshaling configuration " + GVK4 % "JoinConfiguration" + ': strict decoding error: unknown field "discovery.timeout"']


# --- extraArgs forms ------------------------------------------------------------------------

def test_v1beta3_style_extra_args_map_is_refused_in_v1beta4():
    errors = kc.validate(doc("ClusterConfiguration", "apiServer:\n  extraArgs:\n    audit-log-path: /x\n"), "1.33.2")
    assert errors == [
        "error unmarshaling configuration " + GVK4 % "ClusterConfiguration"
        + ": json: cannot unmarshal object into Go struct field APIServer.apiServer.extraArgs of type []v1beta4.Arg"
        " (in v1beta4 extraArgs/kubeletExtraArgs are a list of {name, value}; a map of flag to value is the v1beta3 form)"]


def test_v1beta3_style_kubelet_extra_args_map_is_refused_in_v1beta4():
    errors = kc.validate(doc("JoinConfiguration", "nodeRegistration:\n  kubeletExtraArgs:\n    node-ip: 10.0.0.1\n"), "1.33.2")
    assert len(errors) == 1
    assert "cannot unmarshal object into Go struct field NodeRegistrationOptions.nodeRegistration.kubeletExtraArgs " \
        "of type []v1beta4.Arg" in errors[0]


def test_v1beta4_list_extra_args_is_refused_in_v1beta3():
    text = doc("ClusterConfiguration", "etcd:\n  local:\n    extraArgs:\n      - name: a\n        value: b\n", api="kubeadm.k8s.io/v1beta3")
    assert kc.validate(text, "1.33.2") == [
        "error unmarshaling configuration " + GVK3 % "ClusterConfiguration"
        + ": json: cannot unmarshal array into Go struct field LocalEtcd.etcd.local.extraArgs of type map[string]string"]


def test_extra_arg_without_name_is_refused():
    assert kc.validate(doc("ClusterConfiguration", "scheduler:\n  extraArgs:\n    - value: x\n"), "1.33.2") == [
        'scheduler.extraArgs: Invalid value: "index 0": argument has no name']


# --- wrong types ----------------------------------------------------------------------------

@pytest.mark.parametrize("body, message", [
    ("localAPIEndpoint:\n  bindPort: '6443'\n",
     "json: cannot unmarshal string into Go struct field APIEndpoint.localAPIEndpoint.bindPort of type int32"),
    ("localAPIEndpoint:\n  bindPort: 6443.5\n",
     "json: cannot unmarshal number 6443.5 into Go struct field APIEndpoint.localAPIEndpoint.bindPort of type int32"),
    ("dryRun: 'yes please'\n", "json: cannot unmarshal string into Go struct field InitConfiguration.dryRun of type bool"),
    ("skipPhases: addon/kube-proxy\n", "json: cannot unmarshal string into Go struct field InitConfiguration.skipPhases of type []string"),
    ("nodeRegistration: cp-1\n",
     "json: cannot unmarshal string into Go struct field InitConfiguration.nodeRegistration of type v1beta4.NodeRegistrationOptions"),
    ("certificateKey: 12\n", "json: cannot unmarshal number into Go struct field InitConfiguration.certificateKey of type string"),
    ("nodeRegistration:\n  taints:\n    - key: a\n      effect: [NoSchedule]\n",
     "json: cannot unmarshal array into Go struct field Taint.nodeRegistration.taints.effect of type string"),
])
def test_wrong_types_are_refused_like_go_json(body, message):
    assert kc.validate(doc("InitConfiguration", body), "1.33.2") == [
        "error unmarshaling configuration " + GVK4 % "InitConfiguration" + ": " + message]


def test_feature_gate_value_must_be_bool():
    assert kc.validate(doc("ClusterConfiguration", "featureGates:\n  Foo: 'true'\n"), "1.33.2") == [
        "error unmarshaling configuration " + GVK4 % "ClusterConfiguration"
        + ": json: cannot unmarshal string into Go struct field ClusterConfiguration.featureGates.Foo of type bool"]


def test_null_values_are_accepted():
    assert kc.validate(doc("ClusterConfiguration", "etcd:\napiServer:\n  certSANs:\n"), "1.33.2") == []


# --- durations ------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["24h0m0s", "4m", "1h30m", "1.5h", "300ms", "0"])
def test_go_durations_parse(value):
    assert kc.validate(doc("InitConfiguration", f"timeouts:\n  kubernetesAPICall: '{value}'\n"), "1.33.2") == []


@pytest.mark.parametrize("value, message", [
    ("10", 'time: missing unit in duration "10"'),
    ("1d", 'time: unknown unit "d" in duration "1d"'),
    ("four minutes", 'time: invalid duration "four minutes"'),
    ("", 'time: invalid duration ""'),
])
def test_bad_durations_are_refused(value, message):
    assert kc.validate(doc("InitConfiguration", f"bootstrapTokens:\n  - token: {TOKEN}\n    ttl: '{value}'\n"), "1.33.2") == [
        "error unmarshaling configuration " + GVK4 % "InitConfiguration" + ": " + message]


# --- bootstrap tokens and discovery ---------------------------------------------------------

@pytest.mark.parametrize("token", ["abcdef.0123456789abcdeF", "abcde.0123456789abcdef", "abcdef0123456789abcdef"])
def test_bad_init_bootstrap_token_is_refused(token):
    assert kc.validate(doc("InitConfiguration", f"bootstrapTokens:\n  - token: {token}\n"), "1.33.2") == [
        "error unmarshaling configuration " + GVK4 % "InitConfiguration"
        + f': the bootstrap token "{token}" was not of the form "\\\\A([a-z0-9]{{6}})\\\\.([a-z0-9]{{16}})\\\\z"']


def test_token_ttl_and_expires_are_exclusive():
    body = f"bootstrapTokens:\n  - token: {TOKEN}\n    ttl: 1h\n    expires: 2030-01-01T00:00:00Z\n"
    assert kc.validate(doc("InitConfiguration", body), "1.33.2") == [
        'bootstrapTokens.0: Invalid value: "": the BootstrapToken .TTL and .Expires fields are mutually exclusive']


def test_bad_discovery_token_is_refused():
    text = join_with(f"    token: abc.def\n    apiServerEndpoint: api:6443\n    caCertHashes: [{PIN}]\n")
    assert kc.validate(text, "1.33.2") == ['discovery.bootstrapToken.token: Invalid value: "abc.def": the bootstrap token is invalid']


@pytest.mark.parametrize("pin, message", [
    ("0123", 'invalid hash, expected "format:hex-value". Known format(s) are: sha256'),
    ("md5:" + "ab" * 16, 'unknown hash format "md5". Known format(s) are: sha256'),
    ("sha256:abcd", 'invalid hash "sha256:abcd", expected a 32 byte SHA-256 hash, found 2 bytes'),
    ("sha256:" + "g" * 64, 'invalid hash "sha256:' + "g" * 64 + "\", could not decode SHA-256 from hex: encoding/hex: invalid byte: U+0067 'g'"),
])
def test_bad_ca_cert_hashes_are_refused(pin, message):
    text = join_with(f"    token: {TOKEN}\n    apiServerEndpoint: api:6443\n    caCertHashes: ['{pin}']\n")
    assert kc.validate(text, "1.33.2") == ["discovery.bootstrapToken.caCertHashes: " + message]


def test_uppercase_hex_pin_is_accepted():
    text = join_with(f"    token: {TOKEN}\n    apiServerEndpoint: api:6443\n    caCertHashes: ['{PIN.upper()}']\n")
    assert kc.validate(text, "1.33.2") == []


def test_token_discovery_without_pins_needs_unsafe_skip():
    text = join_with(f"    token: {TOKEN}\n    apiServerEndpoint: api:6443\n")
    assert kc.validate(text, "1.33.2") == [
        'discovery.bootstrapToken.caCertHashes: Invalid value: "": using token-based discovery without caCertHashes can be unsafe. '
        "Set unsafeSkipCAVerification as true in your kubeadm config file or pass --discovery-token-unsafe-skip-ca-verification flag to continue"]
    assert kc.validate(text + "    unsafeSkipCAVerification: true\n", "1.33.2") == []


def test_join_without_discovery_is_refused():
    assert kc.validate(doc("JoinConfiguration", "caCertPath: /etc/kubernetes/pki/ca.crt\n"), "1.33.2") == [
        'discovery: Invalid value: "": bootstrapToken or file must be set']


# --- external etcd --------------------------------------------------------------------------

def cluster_external(lines):
    """A ClusterConfiguration whose etcd.external has the given lines (indented 4)."""
    return doc("ClusterConfiguration", "etcd:\n  external:\n" + lines)


def test_external_etcd_without_cert_file_is_refused():
    text = cluster_external("    endpoints: [https://e:2379]\n    caFile: /pki/ca.crt\n    keyFile: /pki/c.key\n")
    assert kc.validate(text, "1.33.2") == [
        'etcd.external: Invalid value: "": either both or none of .Etcd.External.CertFile and .Etcd.External.KeyFile must be set']


def test_external_etcd_cert_and_key_need_ca_file():
    text = cluster_external("    endpoints: [https://e:2379]\n    certFile: /pki/c.crt\n    keyFile: /pki/c.key\n")
    assert kc.validate(text, "1.33.2") == [
        'etcd.external: Invalid value: "": setting .Etcd.External.CertFile and .Etcd.External.KeyFile requires .Etcd.External.CAFile']


def test_external_etcd_with_certs_needs_https_endpoints():
    text = cluster_external("    endpoints: [http://e:2379]\n    caFile: /pki/ca.crt\n    certFile: /pki/c.crt\n    keyFile: /pki/c.key\n")
    assert kc.validate(text, "1.33.2") == ['etcd.external.endpoints: Invalid value: "http://e:2379": the URL must be using the HTTPS scheme']


def test_external_etcd_plain_http_without_certs_is_accepted():
    assert kc.validate(cluster_external("    endpoints: [http://e:2379]\n"), "1.33.2") == []


def test_external_etcd_relative_cert_path_is_refused():
    text = cluster_external("    endpoints: [https://e:2379]\n    caFile: ca.crt\n    certFile: /pki/c.crt\n    keyFile: /pki/c.key\n")
    assert kc.validate(text, "1.33.2") == ['etcd.external.caFile: Invalid value: "ca.crt": path is not absolute']


def test_local_and_external_etcd_are_exclusive():
    text = doc("ClusterConfiguration", "etcd:\n  local:\n    dataDir: /var/lib/etcd\n  external:\n    endpoints: [http://e:2379]\n")
    assert kc.validate(text, "1.33.2") == ['etcd: Invalid value: "": .Etcd.Local and .Etcd.External are mutually exclusive']


# --- kubernetesVersion and other cluster rules ----------------------------------------------

@pytest.mark.parametrize("version", ["v1.33.2", "1.33.2", "v1.32.0", "v1.34.0-rc.1"])
def test_release_kubernetes_versions_are_accepted(version):
    assert kc.validate(doc("ClusterConfiguration", f"kubernetesVersion: {version}\n"), "1.33.2") == []


@pytest.mark.parametrize("version", ["stable", "v1.33", "v1.33.x"])
def test_non_release_kubernetes_versions_are_refused(version):
    errors = kc.validate(doc("ClusterConfiguration", f"kubernetesVersion: '{version}'\n"), "1.33.2")
    assert errors == [f'kubernetesVersion: Invalid value: "{version}": not a release version v<major>.<minor>.<patch> '
                      "(labels such as stable need a network lookup)"]


def test_control_plane_older_than_one_minor_is_refused():
    assert kc.validate(doc("ClusterConfiguration", "kubernetesVersion: v1.31.4\n"), "1.33.2") == [
        "this version of kubeadm only supports deploying clusters with the control plane version >= 1.32.0. Current version: v1.31.4"]


def test_unknown_encryption_algorithm_is_refused():
    assert kc.validate(doc("ClusterConfiguration", "encryptionAlgorithm: RSA-1024\n"), "1.33.2") == [
        'encryptionAlgorithm: Invalid value: "RSA-1024": Invalid encryption algorithm "RSA-1024". '
        "Must be one of [ECDSA-P256 RSA-2048 RSA-3072 RSA-4096]"]


def test_taint_effect_is_not_checked_as_kubeadm_does_not():
    body = "nodeRegistration:\n  taints:\n    - key: a\n      effect: Sometimes\n"
    assert kc.validate(doc("InitConfiguration", body), "1.33.2") == []


def test_bad_image_pull_policy_and_port_are_refused():
    body = "nodeRegistration:\n  imagePullPolicy: Sometimes\nlocalAPIEndpoint:\n  bindPort: 70000\n"
    assert kc.validate(doc("InitConfiguration", body), "1.33.2") == [
        'nodeRegistration.imagePullPolicy: Invalid value: "Sometimes": invalid pull policy; supported values: Always, IfNotPresent, Never',
        "localAPIEndpoint.bindPort: Invalid value: 70000: port number is not valid"]


def test_short_certificate_key_is_refused():
    assert kc.validate(doc("InitConfiguration", "certificateKey: abcd\n"), "1.33.2") == [
        'certificateKey: Invalid value: "abcd": invalid certificate key size 2, the key must be an AES key of size 32']


def test_load_raises_config_error_with_the_messages():
    text = doc("ClusterConfiguration", "bogus: 1\n")
    with pytest.raises(kc.ConfigError) as info:
        kc.load(text, "1.33.2")
    assert info.value.errors == kc.validate(text, "1.33.2")
    assert 'unknown field "bogus"' in str(info.value)
