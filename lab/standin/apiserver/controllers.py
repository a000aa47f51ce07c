"""STAND-IN kube-apiserver: background loops simulating kube-controller-manager (which is not run).

Each loop is idempotent and leader-less, so three API servers running them at once is harmless
(writes are etcd transactions; a lost race is simply retried on the next tick):
- bootstrapsigner: `jws-kubeconfig-<id>` entries of `kube-public/cluster-info` for every valid bootstrap
  token with `usage-bootstrap-signing`, removed for expired or deleted tokens;
- tokencleaner: deletes expired bootstrap-token Secrets;
- csrapproving + csrsigning: approves kubelet client CSRs (`kubernetes.io/kube-apiserver-client-kubelet`,
  CN `system:node:<name>`, O `system:nodes`) requested by `system:bootstrappers` or `system:nodes`, and signs
  every approved CSR of the kubernetes.io client, client-kubelet and kubelet-serving signers with the
  `ca.key` next to `--client-ca-file`;
- serviceaccount + root-ca-cert-publisher: a `default` ServiceAccount and a `kube-root-ca.crt` ConfigMap
  in every namespace;
- the API server's own `default/kubernetes` Service and Endpoints (each server adds its address);
- garbagecollector: deletes, in the background (every 15 ticks), objects whose every ownerReference points at a
  missing owner (CustomResourceDefinitions are not scanned).
"""

import base64
import datetime
import hashlib
import hmac
import json
import os
import threading
import time
import uuid

from .server import token_expired
from .store import now_rfc3339


ROOT_CA_DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as "
                       "the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of "
                       "Kubernetes clusters.")


SIGNERS = ("kubernetes.io/kube-apiserver-client-kubelet", "kubernetes.io/kube-apiserver-client", "kubernetes.io/kubelet-serving")


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def detached_jws(payload, token_id, secret):
    header = _b64url(json.dumps({"alg": "HS256", "kid": token_id}, separators=(",", ":")).encode("utf-8"))
    signing_input = header + "." + _b64url(payload.encode("utf-8"))
    signature = hmac.new(secret.encode("utf-8"), signing_input.encode("ascii"), hashlib.sha256).digest()
    return header + ".." + _b64url(signature)


class Controllers:
    def __init__(self, etcd, options, log, interval=2.0, registry=None):
        self.registry = registry
        self._gc_due = 0.0
        self.etcd = etcd
        self.options = options
        self.log = log
        self.interval = interval
        self.stop = threading.Event()
        self._ca = None

    def start(self):
        thread = threading.Thread(target=self.run, name="controllers", daemon=True)
        thread.start()
        return thread

    def run(self):
        while not self.stop.is_set():
            for step in (self.tokens, self.csrs, self.namespaces, self.kubernetes_service, self.garbage_collector):
                try:
                    step()
                except Exception as err:  # pylint: disable=broad-except
                    self.log(2, f"controller {step.__name__}: {err}")
            self.stop.wait(self.interval)

    # -- helpers ---------------------------------------------------------------------------------
    def _update(self, key, obj, revision):
        obj = dict(obj)
        obj.get("metadata", {}).pop("resourceVersion", None)
        return self.etcd.update(key, json.dumps(obj, separators=(",", ":")), revision)

    def _create(self, key, obj):
        return self.etcd.create(key, json.dumps(obj, separators=(",", ":")))

    @staticmethod
    def _new_meta(name, namespace=None, **extra):
        meta = {"name": name, "uid": str(uuid.uuid4()), "creationTimestamp": now_rfc3339()}
        if namespace:
            meta["namespace"] = namespace
        meta.update(extra)
        return meta

    # -- bootstrap tokens ----------------------------------------------------------------------
    def tokens(self):
        kvs, dummy, dummy = self.etcd.list("/registry/secrets/kube-system/")
        signing = {}
        for kv in kvs:
            secret = json.loads(kv.value)
            if secret.get("type") != "bootstrap.kubernetes.io/token":
                continue
            data = {k: base64.b64decode(v).decode("utf-8", "replace") for k, v in (secret.get("data") or {}).items()}
            if token_expired(data.get("expiration")):
                if self.etcd.delete(kv.key, kv.mod_revision) is not None:
                    self.log(1, f"tokencleaner: deleted expired bootstrap token Secret {secret['metadata']['name']}")
                continue
            if data.get("usage-bootstrap-signing") == "true" and data.get("token-id") and data.get("token-secret"):
                signing[data["token-id"]] = data["token-secret"]
        key = "/registry/configmaps/kube-public/cluster-info"
        kv, dummy = self.etcd.get(key)
        if kv is None:
            return
        cm = json.loads(kv.value)
        data = dict(cm.get("data") or {})
        kubeconfig = data.get("kubeconfig")
        if kubeconfig is None:
            return
        wanted = {k: v for k, v in data.items() if not k.startswith("jws-kubeconfig-")}
        for token_id, secret in signing.items():
            wanted["jws-kubeconfig-" + token_id] = detached_jws(kubeconfig, token_id, secret)
        if wanted != data:
            cm["data"] = wanted
            if self._update(key, cm, kv.mod_revision) is not None:
                self.log(1, f"bootstrapsigner: cluster-info signed for tokens {sorted(signing)}")

    # -- CSRs ----------------------------------------------------------------------------------
    def _load_ca(self):
        if self._ca is None:
            from cryptography import x509  # pylint: disable=import-outside-toplevel
            from cryptography.hazmat.primitives import serialization  # pylint: disable=import-outside-toplevel
            ca_file = self.options.get("client_ca_file")
            key_file = os.path.join(os.path.dirname(ca_file), "ca.key")
            with open(ca_file, "rb") as handle:
                cert = x509.load_pem_x509_certificate(handle.read())
            with open(key_file, "rb") as handle:
                key = serialization.load_pem_private_key(handle.read(), password=None)
            self._ca = (cert, key)
        return self._ca

    def csrs(self):
        if not self.options.get("client_ca_file"):
            return
        kvs, dummy, dummy = self.etcd.list("/registry/certificatesigningrequests/")
        for kv in kvs:
            csr = json.loads(kv.value)
            spec, status = csr.get("spec") or {}, csr.get("status") or {}
            signer = spec.get("signerName")
            if signer not in SIGNERS:
                continue
            conditions = status.get("conditions") or []
            types = {c.get("type") for c in conditions}
            if "Denied" in types or "Failed" in types or status.get("certificate"):
                continue
            if "Approved" not in types:
                if signer != "kubernetes.io/kube-apiserver-client-kubelet":
                    continue  # waits for a person (kubectl certificate approve), as on a real cluster
                problem = self._kubelet_csr_problem(csr)
                if problem:
                    continue
                conditions.append({"type": "Approved", "status": "True", "reason": "AutoApproved",
                                   "message": "Auto approving kubelet client certificate after SubjectAccessReview.",
                                   "lastUpdateTime": now_rfc3339(), "lastTransitionTime": now_rfc3339()})
                status["conditions"] = conditions
            status["certificate"] = base64.b64encode(self._sign(spec)).decode("ascii")
            csr["status"] = status
            if self._update(kv.key, csr, kv.mod_revision) is not None:
                self.log(1, f"csrsigning: approved and signed {csr['metadata']['name']} for {spec.get('username')}")

    @staticmethod
    def _kubelet_csr_problem(csr):
        from cryptography import x509  # pylint: disable=import-outside-toplevel
        from cryptography.x509.oid import NameOID  # pylint: disable=import-outside-toplevel
        spec = csr["spec"]
        groups = set(spec.get("groups") or [])
        if not groups & {"system:bootstrappers", "system:nodes"}:
            return "requester is neither a bootstrapper nor a node"
        if sorted(spec.get("usages") or []) not in (["client auth", "digital signature"],
                                                    ["client auth", "digital signature", "key encipherment"]):
            return "usages"
        try:
            request = x509.load_pem_x509_csr(base64.b64decode(spec.get("request", "")))
        except ValueError:
            return "request is not a PEM CSR"
        cn = [a.value for a in request.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
        orgs = [a.value for a in request.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
        if len(cn) != 1 or not cn[0].startswith("system:node:") or orgs != ["system:nodes"]:
            return "subject"
        if "system:nodes" in groups and "system:bootstrappers" not in groups and spec.get("username") != cn[0]:
            return "a node may only renew its own certificate"
        return None

    def _sign(self, spec):
        from cryptography import x509  # pylint: disable=import-outside-toplevel
        from cryptography.hazmat.primitives import hashes, serialization  # pylint: disable=import-outside-toplevel
        from cryptography.x509.oid import ExtendedKeyUsageOID  # pylint: disable=import-outside-toplevel
        ca_cert, ca_key = self._load_ca()
        request = x509.load_pem_x509_csr(base64.b64decode(spec["request"]))
        now = datetime.datetime.now(datetime.timezone.utc)
        seconds = int(spec.get("expirationSeconds") or 365 * 24 * 3600)
        usages = [oid for name, oid in (("client auth", ExtendedKeyUsageOID.CLIENT_AUTH), ("server auth", ExtendedKeyUsageOID.SERVER_AUTH))
                  if name in (spec.get("usages") or [])] or [ExtendedKeyUsageOID.CLIENT_AUTH]
        cert = (x509.CertificateBuilder().subject_name(request.subject).issuer_name(ca_cert.subject)
                .public_key(request.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(seconds=seconds))
                .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, content_commitment=False,
                                             data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                             crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True))
        try:
            cert = cert.add_extension(request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value, critical=False)
        except x509.ExtensionNotFound:
            pass
        cert = cert.sign(ca_key, hashes.SHA256())
        return cert.public_bytes(serialization.Encoding.PEM)

    # -- per-namespace defaults ------------------------------------------------------------------
    def namespaces(self):
        kvs, dummy, dummy = self.etcd.list("/registry/namespaces/")
        ca_pem = None
        if self.options.get("client_ca_file"):
            with open(self.options["client_ca_file"], encoding="utf-8") as handle:
                ca_pem = handle.read()
        for kv in kvs:
            ns = json.loads(kv.value)
            name = ns["metadata"]["name"]
            if ns["metadata"].get("deletionTimestamp"):
                continue
            sa_key = f"/registry/serviceaccounts/{name}/default"
            if self.etcd.get(sa_key)[0] is None:
                self._create(sa_key, {"kind": "ServiceAccount", "apiVersion": "v1", "metadata": self._new_meta("default", name)})
            cm_key = f"/registry/configmaps/{name}/kube-root-ca.crt"
            if ca_pem and self.etcd.get(cm_key)[0] is None:
                self._create(cm_key, {"kind": "ConfigMap", "apiVersion": "v1", "data": {"ca.crt": ca_pem},
                                      "metadata": self._new_meta("kube-root-ca.crt", name, annotations={
                                          "kubernetes.io/description": ROOT_CA_DESCRIPTION})})

    # -- default/kubernetes -----------------------------------------------------------------------
    def kubernetes_service(self):
        address = self.options.get("advertise_address")
        port = int(self.options.get("secure_port") or 6443)
        if not address:
            return
        svc_key = "/registry/services/specs/default/kubernetes"
        if self.etcd.get(svc_key)[0] is None:
            first = self.options["first_service_ip"]
            self.etcd.create(f"/registry/standin/serviceips/{first}", "kubernetes")  # None: already reserved
            self._create(svc_key, {"kind": "Service", "apiVersion": "v1",
                                   "metadata": self._new_meta("kubernetes", "default", labels={"component": "apiserver", "provider": "kubernetes"}),
                                   "spec": {"ports": [{"name": "https", "protocol": "TCP", "port": 443, "targetPort": port}],
                                            "clusterIP": first, "clusterIPs": [first], "type": "ClusterIP", "sessionAffinity": "None",
                                            "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Cluster"},
                                   "status": {"loadBalancer": {}}})
        ep_key = "/registry/services/endpoints/default/kubernetes"
        kv, dummy = self.etcd.get(ep_key)
        if kv is None:
            self._create(ep_key, {"kind": "Endpoints", "apiVersion": "v1",
                                  "metadata": self._new_meta("kubernetes", "default", labels={"endpointslice.kubernetes.io/skip-mirror": "true"}),
                                  "subsets": [{"addresses": [{"ip": address}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}]})
            return
        ep = json.loads(kv.value)
        subsets = ep.get("subsets") or [{"addresses": [], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}]
        addresses = subsets[0].setdefault("addresses", [])
        if not any(a.get("ip") == address for a in addresses):
            addresses.append({"ip": address})
            addresses.sort(key=lambda a: a["ip"])
            ep["subsets"] = subsets
            self._update(ep_key, ep, kv.mod_revision)

    # -- garbage collector -------------------------------------------------------------------------
    def garbage_collector(self, force=False):
        """Background deletion of objects whose every owner (metadata.ownerReferences) is gone."""
        if self.registry is None or (not force and time.monotonic() < self._gc_due):
            return
        self._gc_due = time.monotonic() + 15 * self.interval
        # CustomResourceDefinitions are skipped (they are big, and neither owners nor dependents in practice)
        resources = [r for r in self.registry.all() if r.kind != "CustomResourceDefinition" and "create" in r.verbs
                     and r.kind not in ("SelfSubjectAccessReview", "SubjectAccessReview", "SelfSubjectReview")]
        uids = {}
        dependents = []
        for res in resources:
            kvs, dummy, dummy = self.etcd.list(res.storage_prefix())
            for kv in kvs:
                obj = json.loads(kv.value)
                meta = obj.get("metadata") or {}
                uids[meta.get("uid")] = (res.kind, meta.get("namespace"))
                if meta.get("ownerReferences"):
                    dependents.append((kv, obj))
        for kv, obj in dependents:
            meta = obj["metadata"]
            alive = [ref for ref in meta["ownerReferences"] if ref.get("uid") in uids and uids[ref["uid"]][0] == ref.get("kind")]
            if alive:
                continue
            if self.etcd.delete(kv.key, kv.mod_revision) is not None:
                self.log(1, f"garbagecollector: deleted {obj.get('kind')} {meta.get('namespace', '')}/{meta.get('name')} (owners gone)")
