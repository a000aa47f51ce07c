"""STAND-IN: the Kubernetes objects the kubeadm stand-in creates and reads.

Bootstrap token Secrets, the ``kube-public/cluster-info`` ConfigMap and its detached JWS signatures,
the RBAC objects kubeadm creates for node bootstrap, the ``kubeadm-config`` and ``kubelet-config``
ConfigMaps, the ``kubeadm-certs`` Secret (AES-256-GCM with the certificate key, owned by a 2h bootstrap
token as kubeadm does it) and the control-plane labels and taints.  All through ``KubeClient`` calls.
"""

import base64
import datetime
import hashlib
import hmac
import json
import re
import secrets

import yaml

from . import kubeadm_defaults as defaults
from . import kubeadm_env as env
from . import pki
from .kubeclient import ApiError

SYSTEM, PUBLIC = "kube-system", "kube-public"
TOKEN_SECRET_TYPE = "bootstrap.kubernetes.io/token"
TOKEN_RE = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")
TOKEN_ID_RE = re.compile(r"^[a-z0-9]{6}$")
CERTS_SECRET = "kubeadm-certs"
CERTS_TOKEN_TTL = 2 * 3600
CERTS_TOKEN_DESCRIPTION = "Proxy for managing TTL for the kubeadm-certs secret"
RBAC = "/apis/rbac.authorization.k8s.io/v1"
CONTROL_PLANE_LABELS = ("node-role.kubernetes.io/control-plane", "node.kubernetes.io/exclude-from-external-load-balancers")
KUBEADM_CONFIG_CM = "kubeadm-config"
KUBELET_CONFIG_CM = "kubelet-config"
CERTS_NOT_FOUND = ('Secret "kubeadm-certs" was not found in the "kube-system" Namespace. This Secret might have expired. '
                   "Please, run `kubeadm init phase upload-certs --upload-certs` on a control plane to generate a new one")


def b64(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.b64encode(data).decode("ascii")


def unb64(text):
    return base64.b64decode(text or "")


def rfc3339(moment):
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text):
    text = text.strip()
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    return datetime.datetime.fromisoformat(text)


# ---------------------------------------------------------------------------
# Bootstrap tokens
# ---------------------------------------------------------------------------
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def generate_token():
    """A random bootstrap token: [a-z0-9]{6}.[a-z0-9]{16}."""
    def pick(n):
        return "".join(secrets.choice(_ALPHABET) for dummy in range(n))
    return f"{pick(6)}.{pick(16)}"


def split_token(token):
    match = TOKEN_RE.match(token or "")
    if not match:
        raise defaults.StandinError(f'the bootstrap token "{token}" was not of the form "\\A([a-z0-9]{{6}})\\.([a-z0-9]{{16}})\\z"')
    return match.group(1), match.group(2)


def token_secret(token, description="", ttl_seconds=None, expires=None, usages=(), groups=()):
    """The Secret of a bootstrap token (kubeadm's BootstrapTokenToSecret)."""
    token_id, token_value = split_token(token)
    data = {"token-id": b64(token_id), "token-secret": b64(token_value)}
    if description:
        data["description"] = b64(description)
    if expires is None and ttl_seconds:
        expires = rfc3339(env.now() + datetime.timedelta(seconds=ttl_seconds))
    if expires:
        data["expiration"] = b64(expires)
    for usage in usages:
        data[f"usage-bootstrap-{usage}"] = b64("true")
    if groups:
        data["auth-extra-groups"] = b64(",".join(groups))
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"bootstrap-token-{token_id}", "namespace": SYSTEM},
            "type": TOKEN_SECRET_TYPE, "data": data}


KNOWN_USAGES = ("signing", "authentication")


def check_token_options(usages, groups):
    for usage in usages:
        if usage not in KNOWN_USAGES:
            raise defaults.StandinError(f'invalid bootstrap token usage string: {usage}, valid usage options: {", ".join(KNOWN_USAGES)}')
    for group in groups:
        if not re.fullmatch(r"system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]", group):
            raise defaults.StandinError(f'bootstrap group "{group}" is invalid (must match system:bootstrappers:[a-z0-9:-]{{0,255}}[a-z0-9])')
    if groups and "authentication" not in usages:
        raise defaults.StandinError('token groups cannot be specified unless --usages includes "authentication"')


def create_token(client, spec):
    """Create (or, if it exists, replace) the Secret of a BootstrapToken spec from the config."""
    token = spec.get("token") or generate_token()
    ttl = defaults.duration_seconds(spec["ttl"]) if spec.get("ttl") is not None else None
    usages, groups = spec.get("usages") or [], spec.get("groups") or []
    check_token_options(usages, groups)
    secret = token_secret(token, spec.get("description", ""), ttl_seconds=ttl, expires=spec.get("expires"),
                          usages=usages, groups=groups)
    name = secret["metadata"]["name"]
    try:
        created = client.post(f"/api/v1/namespaces/{SYSTEM}/secrets", secret)
    except ApiError as exc:
        if exc.status != 409:
            raise
        existing = client.get(f"/api/v1/namespaces/{SYSTEM}/secrets/{name}")
        secret["metadata"]["resourceVersion"] = existing["metadata"].get("resourceVersion")
        created = client.put(f"/api/v1/namespaces/{SYSTEM}/secrets/{name}", secret)
    return token, created


def token_from_secret(secret):
    data = {k: unb64(v).decode("utf-8") for k, v in (secret.get("data") or {}).items()}
    if "token-id" not in data or "token-secret" not in data:
        return None
    return {
        "token": f"{data['token-id']}.{data['token-secret']}",
        "id": data["token-id"],
        "expiration": data.get("expiration"),
        "usages": sorted(k[len("usage-bootstrap-"):] for k, v in data.items() if k.startswith("usage-bootstrap-") and v == "true"),
        "groups": [g for g in data.get("auth-extra-groups", "").split(",") if g],
        "description": data.get("description", ""),
    }


def list_tokens(client):
    secrets_list = client.get(f"/api/v1/namespaces/{SYSTEM}/secrets").get("items") or []
    tokens = []
    for secret in secrets_list:
        if secret.get("type") != TOKEN_SECRET_TYPE:
            continue
        token = token_from_secret(secret)
        if token:
            tokens.append(token)
    return tokens


def token_expired(secret_or_token):
    expiration = secret_or_token.get("expiration") if "expiration" in secret_or_token else None
    if "data" in secret_or_token:
        raw = (secret_or_token.get("data") or {}).get("expiration")
        expiration = unb64(raw).decode("utf-8") if raw else None
    return bool(expiration) and parse_rfc3339(expiration) <= env.now()


# ---------------------------------------------------------------------------
# cluster-info and its detached JWS (what the bootstrapsigner controller writes)
# ---------------------------------------------------------------------------
def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jws_detached(payload, token_id, token_secret_value):
    """Compact detached JWS, HS256 with the token secret: <protected header>..<signature>."""
    header = _b64url(json.dumps({"alg": "HS256", "kid": token_id}, separators=(",", ":")).encode("utf-8"))
    signing_input = header + "." + _b64url(payload.encode("utf-8"))
    signature = hmac.new(token_secret_value.encode("utf-8"), signing_input.encode("ascii"), hashlib.sha256).digest()
    return header + ".." + _b64url(signature)


def jws_verify(detached, payload, token_id, token_secret_value):
    """True when the detached JWS is an HS256 signature of payload by this token."""
    parts = detached.split(".")
    if len(parts) != 3 or parts[1] != "":
        return False
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except ValueError:
        return False
    if header.get("alg") != "HS256" or header.get("kid", token_id) != token_id:
        return False
    signing_input = parts[0] + "." + _b64url(payload.encode("utf-8"))
    expected = hmac.new(token_secret_value.encode("utf-8"), signing_input.encode("ascii"), hashlib.sha256).digest()
    return hmac.compare_digest(_b64url(expected), parts[2])


def create_or_update(client, collection, obj):
    """POST the object; when it exists, PUT it over the existing one (kubeadm's CreateOrUpdate)."""
    name = obj["metadata"]["name"]
    try:
        return client.post(collection, obj)
    except ApiError as exc:
        if exc.status != 409:
            raise
    existing = client.get(f"{collection}/{name}")
    obj = dict(obj, metadata=dict(obj["metadata"], resourceVersion=existing["metadata"].get("resourceVersion")))
    return client.put(f"{collection}/{name}", obj)


def create_cluster_info(client, server, ca_pem, tokens=()):
    """kube-public/cluster-info with data.kubeconfig (and jws entries for the signing tokens given)."""
    from . import kubeconfig  # pylint: disable=import-outside-toplevel
    text = kubeconfig.cluster_info_kubeconfig(server, ca_pem)
    data = {"kubeconfig": text}
    for token in tokens:
        token_id, value = split_token(token)
        data[f"jws-kubeconfig-{token_id}"] = jws_detached(text, token_id, value)
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cluster-info", "namespace": PUBLIC}, "data": data}
    env.out('[bootstrap-token] Creating the "cluster-info" ConfigMap in the "kube-public" namespace')
    create_or_update(client, f"/api/v1/namespaces/{PUBLIC}/configmaps", cm)


# ---------------------------------------------------------------------------
# RBAC objects kubeadm creates
# ---------------------------------------------------------------------------
def _group(name):
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": name}


def _binding(kind, name, role_kind, role, subjects, namespace=None):
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role}, "subjects": subjects}


def _role(kind, name, rules, namespace=None):
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta, "rules": rules}


def bootstrap_rbac_objects():
    """(collection path, object) of the RBAC kubeadm init creates for bootstrap tokens and nodes."""
    token_group = _group(defaults.DEFAULT_TOKEN_GROUP)
    nodes_group = _group("system:nodes")
    objects = [
        ("clusterroles", _role("ClusterRole", "kubeadm:get-nodes", [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}])),
        ("clusterrolebindings", _binding("ClusterRoleBinding", "kubeadm:get-nodes", "ClusterRole", "kubeadm:get-nodes", [token_group])),
        ("clusterrolebindings", _binding("ClusterRoleBinding", "kubeadm:kubelet-bootstrap", "ClusterRole",
                                         "system:node-bootstrapper", [token_group])),
        ("clusterrolebindings", _binding("ClusterRoleBinding", "kubeadm:node-autoapprove-bootstrap", "ClusterRole",
                                         "system:certificates.k8s.io:certificatesigningrequests:nodeclient", [token_group])),
        ("clusterrolebindings", _binding("ClusterRoleBinding", "kubeadm:node-autoapprove-certificate-rotation", "ClusterRole",
                                         "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", [nodes_group])),
        (f"namespaces/{PUBLIC}/roles", _role("Role", "kubeadm:bootstrap-signer-clusterinfo", [
            {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["cluster-info"], "verbs": ["get"]}], PUBLIC)),
        (f"namespaces/{PUBLIC}/rolebindings", _binding("RoleBinding", "kubeadm:bootstrap-signer-clusterinfo", "Role",
                                                       "kubeadm:bootstrap-signer-clusterinfo",
                                                       [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                                                         "name": "system:anonymous"}], PUBLIC)),
    ]
    return objects


def config_rbac_objects():
    """Roles letting joining nodes read kubeadm-config and kubelet-config (kubeadm's uploadconfig phase)."""
    subjects = [_group(defaults.DEFAULT_TOKEN_GROUP), _group("system:nodes")]
    objects = []
    for role, cm in (("kubeadm:nodes-kubeadm-config", KUBEADM_CONFIG_CM), ("kubeadm:kubelet-config", KUBELET_CONFIG_CM)):
        objects.append((f"namespaces/{SYSTEM}/roles", _role("Role", role, [
            {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [cm], "verbs": ["get"]}], SYSTEM)))
        objects.append((f"namespaces/{SYSTEM}/rolebindings", _binding("RoleBinding", role, "Role", role, subjects, SYSTEM)))
    return objects


def create_rbac(client, objects):
    for collection, obj in objects:
        create_or_update(client, f"{RBAC}/{collection}", obj)


def bootstrap_token_phase(client, init, server, ca_pem):
    """kubeadm init's bootstrap-token phase; returns the token strings."""
    tokens = []
    for spec in init["bootstrapTokens"]:
        spec.setdefault("token", generate_token())
    env.out(f"[bootstrap-token] Using token: {init['bootstrapTokens'][0]['token']}")
    env.out("[bootstrap-token] Configuring bootstrap tokens, cluster-info ConfigMap, RBAC Roles")
    for spec in init["bootstrapTokens"]:
        token, _secret = create_token(client, spec)
        tokens.append(token)
    objects = bootstrap_rbac_objects()
    env.out("[bootstrap-token] Configured RBAC rules to allow Node Bootstrap tokens to get nodes")
    env.out("[bootstrap-token] Configured RBAC rules to allow Node Bootstrap tokens to post CSRs in order for nodes to get long term certificate credentials")
    env.out("[bootstrap-token] Configured RBAC rules to allow the csrapprover controller automatically approve CSRs from a Node Bootstrap Token")
    env.out("[bootstrap-token] Configured RBAC rules to allow certificate rotation for all node client certificates in the cluster")
    create_rbac(client, objects)
    signing = [t for t, spec in zip(tokens, init["bootstrapTokens"]) if "signing" in (spec.get("usages") or [])]
    create_cluster_info(client, server, ca_pem, signing)
    return tokens


# ---------------------------------------------------------------------------
# upload-config
# ---------------------------------------------------------------------------
def upload_config(client, cluster, kubelet_config):
    env.out('[upload-config] Storing the configuration used in ConfigMap "kubeadm-config" in the "kube-system" Namespace')
    stored = {k: v for k, v in cluster.items() if k not in ("apiVersion", "kind")}
    stored = dict({"apiVersion": defaults.API_V1BETA4, "kind": "ClusterConfiguration"}, **stored)
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": KUBEADM_CONFIG_CM, "namespace": SYSTEM},
          "data": {"ClusterConfiguration": yaml.safe_dump(stored, default_flow_style=False, sort_keys=True)}}
    create_or_update(client, f"/api/v1/namespaces/{SYSTEM}/configmaps", cm)
    env.out('[kubelet] Creating a ConfigMap "kubelet-config" in namespace kube-system with the configuration for the kubelets in the cluster')
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": KUBELET_CONFIG_CM, "namespace": SYSTEM},
          "data": {"kubelet": yaml.safe_dump(kubelet_config, default_flow_style=False, sort_keys=True)}}
    create_or_update(client, f"/api/v1/namespaces/{SYSTEM}/configmaps", cm)
    create_rbac(client, config_rbac_objects())


def read_cluster_configuration(client):
    """ClusterConfiguration from kube-system/kubeadm-config (defaulted)."""
    env.out('[preflight] Reading configuration from the "kubeadm-config" ConfigMap in namespace "kube-system"...')
    env.out("[preflight] Use 'kubeadm init phase upload-config --config your-config.yaml' to re-upload it.")
    try:
        cm = client.get(f"/api/v1/namespaces/{SYSTEM}/configmaps/{KUBEADM_CONFIG_CM}")
    except ApiError as exc:
        raise defaults.StandinError(f"unable to fetch the kubeadm-config ConfigMap: {exc.message or exc}") from exc
    text = (cm.get("data") or {}).get("ClusterConfiguration")
    if not text:
        raise defaults.StandinError('unable to fetch the kubeadm-config ConfigMap: unexpected error when reading kubeadm-config ConfigMap: '
                                    'ClusterConfiguration key value pair missing')
    return defaults.default_cluster(yaml.safe_load(text))


def read_kubelet_config(client):
    try:
        cm = client.get(f"/api/v1/namespaces/{SYSTEM}/configmaps/{KUBELET_CONFIG_CM}")
    except ApiError as exc:
        raise defaults.StandinError(f"could not get ConfigMap kube-system/kubelet-config: {exc.message or exc}") from exc
    return (cm.get("data") or {}).get("kubelet", "")


# ---------------------------------------------------------------------------
# upload-certs / download-certs
# ---------------------------------------------------------------------------
def cert_files(cluster):
    """kubeadm-certs data key -> node path of the shared control-plane files."""
    base = cluster["certificatesDir"]
    files = {name: f"{base}/{name}" for name in
             ("ca.crt", "ca.key", "sa.key", "sa.pub", "front-proxy-ca.crt", "front-proxy-ca.key")}
    external = defaults.external_etcd(cluster)
    if external:
        for key, name in (("caFile", "external-etcd-ca.crt"), ("certFile", "external-etcd.crt"), ("keyFile", "external-etcd.key")):
            if external.get(key):
                files[name] = external[key]
    else:
        for name in ("etcd/ca.crt", "etcd/ca.key"):
            files[name.replace("/", "-")] = f"{base}/{name}"
    return files


def upload_certs(client, cluster, key):
    """Secret kube-system/kubeadm-certs owned by a 2h bootstrap token; returns the key."""
    env.out('[upload-certs] Storing the certificates in Secret "kubeadm-certs" in the "kube-system" Namespace')
    _token, secret = create_token(client, {"ttl": defaults.go_duration(CERTS_TOKEN_TTL), "description": CERTS_TOKEN_DESCRIPTION,
                                           "usages": [], "groups": []})
    owner = {"apiVersion": "v1", "kind": "Secret", "name": secret["metadata"]["name"],
             "uid": secret["metadata"].get("uid", ""), "controller": True, "blockOwnerDeletion": True}
    data = {}
    for name, path in cert_files(cluster).items():
        real = env.host(path)
        try:
            with open(real, "rb") as handle:
                content = handle.read()
        except FileNotFoundError:
            continue
        data[name] = b64(pki.encrypt(content, key))
    body = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": CERTS_SECRET, "namespace": SYSTEM, "ownerReferences": [owner]}, "data": data}
    create_or_update(client, f"/api/v1/namespaces/{SYSTEM}/secrets", body)
    role = _role("Role", "kubeadm:kubeadm-certs", [
        {"apiGroups": [""], "resources": ["secrets"], "resourceNames": [CERTS_SECRET], "verbs": ["get"]}], SYSTEM)
    binding = _binding("RoleBinding", "kubeadm:kubeadm-certs", "Role", "kubeadm:kubeadm-certs",
                       [_group(defaults.DEFAULT_TOKEN_GROUP)], SYSTEM)
    create_rbac(client, [(f"namespaces/{SYSTEM}/roles", role), (f"namespaces/{SYSTEM}/rolebindings", binding)])
    env.out("[upload-certs] Using certificate key:")
    env.out(key)
    return key


def _owner_alive(client, secret):
    """False when an owner token Secret is gone or expired (the garbage collector would have removed us)."""
    for ref in secret["metadata"].get("ownerReferences") or []:
        if ref.get("kind") != "Secret":
            continue
        try:
            owner = client.get(f"/api/v1/namespaces/{SYSTEM}/secrets/{ref['name']}")
        except ApiError as exc:
            if exc.status == 404:
                return False
            if exc.status == 403:
                continue  # a bootstrap token may not read other Secrets; trust the apiserver's cleanup
            raise
        if ref.get("uid") and owner["metadata"].get("uid") and ref["uid"] != owner["metadata"]["uid"]:
            return False
        if token_expired(owner):
            return False
    return True


def download_certs(client, key):
    """data key -> decrypted bytes of kube-system/kubeadm-certs."""
    env.out('[download-certs] Downloading the certificates in Secret "kubeadm-certs" in the "kube-system" Namespace')
    pki.decode_certificate_key(key)
    try:
        secret = client.get(f"/api/v1/namespaces/{SYSTEM}/secrets/{CERTS_SECRET}")
    except ApiError as exc:
        if exc.status == 404:
            raise defaults.StandinError("error downloading the secret: " + CERTS_NOT_FOUND) from exc
        raise defaults.StandinError(f"error downloading the secret: {exc.message or exc}") from exc
    if not _owner_alive(client, secret):
        raise defaults.StandinError("error downloading the secret: " + CERTS_NOT_FOUND)
    out = {}
    try:
        for name, value in (secret.get("data") or {}).items():
            out[name] = pki.decrypt(unb64(value), key)
    except pki.PKIError as exc:
        raise defaults.StandinError(f"error decoding secret data with provided key: {exc}") from exc
    return out


# ---------------------------------------------------------------------------
# mark-control-plane
# ---------------------------------------------------------------------------
def wait_for_node(client, name, timeout):
    deadline = env.monotonic() + timeout
    while True:
        try:
            return client.get(f"/api/v1/nodes/{name}")
        except ApiError as exc:
            if exc.status != 404:
                raise
        except OSError:
            pass
        if env.monotonic() >= deadline:
            raise defaults.StandinError(f'error patching Node "{name}": timed out waiting for the condition (the node did not register)')
        env.sleep(1)


def mark_control_plane(client, name, taints, timeout):
    labels = ", ".join(f"{label}=\"\"" for label in CONTROL_PLANE_LABELS)
    env.out(f"[mark-control-plane] Marking the node {name} as control-plane by adding the labels: [{labels}]")
    if taints:
        shown = " ".join(f"{t['key']}:{t.get('effect', '')}" if not t.get("value") else f"{t['key']}={t['value']}:{t.get('effect', '')}"
                         for t in taints)
        env.out(f"[mark-control-plane] Marking the node {name} as control-plane by adding the taints [{shown}]")
    node = wait_for_node(client, name, timeout)
    existing = list((node.get("spec") or {}).get("taints") or [])
    for taint in taints:
        if not any(t.get("key") == taint["key"] and t.get("effect") == taint.get("effect") for t in existing):
            existing.append({k: v for k, v in taint.items() if v is not None})
    patch = {"metadata": {"labels": {label: "" for label in CONTROL_PLANE_LABELS}}}
    if existing:
        patch["spec"] = {"taints": existing}
    client.patch(f"/api/v1/nodes/{name}", patch)
