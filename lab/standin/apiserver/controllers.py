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
  missing owner (CustomResourceDefinitions are not scanned);
- deployment + daemonset (status only: no ReplicaSet and no pod is created, nothing runs): the status a Deployment's
  or DaemonSet's pods would give it, from the Nodes they would be placed on (lab/standin/scheduling.py);
- persistentvolume-binder (static volumes only; volumes.py): WaitForFirstConsumer claims stay Pending with their
  event until a node is selected for them, claims are bound to a fitting Available volume, volumes whose claim is
  gone become Released;
- a STAND-IN of the tigera operator (not a kube-controller-manager controller: the operator runs from the
  `tigera-operator/tigera-operator` Deployment), active while that Deployment is Available: it renders the
  `calico-system/calico-node` DaemonSet from the `default` Installation and writes the status of the
  Installation and of the `default` APIServer (tigera.py).

Status is written through the store's status subresource path (validated, managedFields of
`kube-controller-manager` or `operator`), and only when it differs from what is stored, so that a cluster at rest
keeps every resourceVersion.
"""

import base64
import copy
import datetime
import hashlib
import hmac
import json
import os
import threading
import time
import uuid

from .. import scheduling
from . import tigera
from . import volumes
from .etcd import b64
from .server import token_expired
from .store import ApiError, Store, now_rfc3339


ROOT_CA_DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as "
                       "the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of "
                       "Kubernetes clusters.")


STATUS_MANAGER = "kube-controller-manager"
OPERATOR_MANAGER = "operator"
OPERATOR_USER = {"name": "system:serviceaccount:tigera-operator:tigera-operator", "groups": ["system:serviceaccounts"]}
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

SIGNERS = ("kubernetes.io/kube-apiserver-client-kubelet", "kubernetes.io/kube-apiserver-client", "kubernetes.io/kubelet-serving")


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def detached_jws(payload, token_id, secret):
    header = _b64url(json.dumps({"alg": "HS256", "kid": token_id}, separators=(",", ":")).encode("utf-8"))
    signing_input = header + "." + _b64url(payload.encode("utf-8"))
    signature = hmac.new(secret.encode("utf-8"), signing_input.encode("ascii"), hashlib.sha256).digest()
    return header + ".." + _b64url(signature)


class Controllers:
    def __init__(self, etcd, options, log, interval=2.0, registry=None, store=None):  # pylint: disable=too-many-arguments
        self.registry = registry
        self.store = store if store is not None or registry is None else Store(etcd, registry, log=log)
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
            for step in (self.tokens, self.csrs, self.namespaces, self.kubernetes_service, self.deployments, self.daemonsets,
                         self.tigera_operator, self.volumes, self.garbage_collector):
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
                self._create_in_namespace(kv, sa_key, {"kind": "ServiceAccount", "apiVersion": "v1", "metadata": self._new_meta("default", name)})
            cm_key = f"/registry/configmaps/{name}/kube-root-ca.crt"
            if ca_pem and self.etcd.get(cm_key)[0] is None:
                self._create_in_namespace(kv, cm_key, {"kind": "ConfigMap", "apiVersion": "v1", "data": {"ca.crt": ca_pem},
                                                       "metadata": self._new_meta("kube-root-ca.crt", name, annotations={
                                                           "kubernetes.io/description": ROOT_CA_DESCRIPTION})})

    def _create_in_namespace(self, ns_kv, key, obj):
        """Create key only while it is absent and the namespace is unchanged since it was listed (one etcd transaction),
        so that nothing is created in a namespace that is being deleted meanwhile."""
        answer = self.etcd.call("/v3/kv/txn", {
            "compare": [{"key": b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"},
                        {"key": b64(ns_kv.key), "target": "MOD", "result": "EQUAL", "mod_revision": str(ns_kv.mod_revision)}],
            "success": [{"request_put": {"key": b64(key), "value": b64(json.dumps(obj, separators=(",", ":")))}}],
        })
        return bool(answer.get("succeeded"))

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

    # -- workload status (deployment and daemonset controllers; no pod is run) ----------------------
    def _resource(self, group, version, plural):
        return self.registry.lookup(group, version, plural) if self.registry is not None else None

    def _nodes(self):
        return self.store.list(self._resource("", "v1", "nodes"), None)[0]

    def _write_status(self, res, obj, status, manager):
        """Write obj's status through the status subresource when it differs; True when written."""
        if (obj.get("status") or {}) == status:
            return False
        body = copy.deepcopy(obj)
        body["status"] = status
        meta = obj["metadata"]
        try:
            self.store.update(res, meta.get("namespace"), meta["name"], body, manager, "Strict", subresource="status", old=obj)
        except ApiError as err:
            if err.code in (404, 409):
                return False  # deleted or changed meanwhile (another API server's controllers): the next tick sees it
            raise
        return True

    def deployments(self):
        """STAND-IN deployment controller: the status the Deployment's pods would give it (see deployment_status)."""
        if self.store is None:
            return
        res = self._resource("apps", "v1", "deployments")
        items = self.store.list(res, None)[0]
        if not items:
            return
        nodes, now = self._nodes(), now_rfc3339()
        for dep in items:
            if dep["metadata"].get("deletionTimestamp"):
                continue
            status = deployment_status(dep, nodes, now)
            if self._write_status(res, dep, status, STATUS_MANAGER):
                available = next(c["status"] for c in status["conditions"] if c["type"] == "Available")
                self.log(1, f"deployment-controller (STAND-IN, no pod runs): {dep['metadata']['namespace']}/{dep['metadata']['name']} "
                            f"{status.get('availableReplicas', 0)}/{status.get('replicas', 0)} available, Available={available}")

    def daemonsets(self):
        """STAND-IN daemonset controller: the status the DaemonSet's pods would give it (see daemonset_status)."""
        if self.store is None:
            return
        res = self._resource("apps", "v1", "daemonsets")
        items = self.store.list(res, None)[0]
        if not items:
            return
        nodes = self._nodes()
        for ds in items:
            if ds["metadata"].get("deletionTimestamp"):
                continue
            status = daemonset_status(ds, nodes)
            if self._write_status(res, ds, status, STATUS_MANAGER):
                self.log(1, f"daemonset-controller (STAND-IN, no pod runs): {ds['metadata']['namespace']}/{ds['metadata']['name']} "
                            f"{status['numberReady']}/{status['desiredNumberScheduled']} ready")

    # -- persistent volumes (STAND-IN binder; volumes.py) ----------------------------------------------
    PV_USER = {"name": "system:serviceaccount:kube-system:persistent-volume-binder", "groups": ["system:serviceaccounts"]}

    def volumes(self):
        """STAND-IN persistentvolume-binder: events of waiting claims, binding, Released volumes."""
        if self.store is None:
            return
        claims_res, volumes_res = self._resource("", "v1", "persistentvolumeclaims"), self._resource("", "v1", "persistentvolumes")
        claims = self.store.list(claims_res, None)[0]
        pvs = self.store.list(volumes_res, None)[0]
        if not claims and not pvs:
            return
        classes = {c["metadata"]["name"]: c for c in self.store.list(self._resource("storage.k8s.io", "v1", "storageclasses"), None)[0]}
        used = volumes.claims_used_by(self.store.list(self._resource("", "v1", "pods"), None)[0])
        nodes = {n["metadata"]["name"]: n for n in self._nodes()}
        events_res = self._resource("", "v1", "events")
        for claim in claims:
            if claim["metadata"].get("deletionTimestamp"):
                continue
            waiting = volumes.waiting_reason(claim, classes, used)
            if waiting:
                self._claim_event(events_res, claim, *waiting)
            volume = volumes.volume_for(claim, pvs, classes, nodes)
            if volume is not None:
                self._bind(volumes_res, claims_res, volume, claim)
                pvs = self.store.list(volumes_res, None)[0]
            elif not (claim.get("status") or {}).get("phase"):
                self._write_status(claims_res, claim, {"phase": "Pending"}, STATUS_MANAGER)
        live_claims = {c["metadata"].get("uid") for c in self.store.list(claims_res, None)[0]}
        for volume in pvs:
            phase = volumes.volume_phase(volume, live_claims)
            if (volume.get("status") or {}).get("phase") != phase:
                if self._write_status(volumes_res, volume, dict(volume.get("status") or {}, phase=phase), STATUS_MANAGER):
                    self.log(1, f"persistentvolume-binder (STAND-IN): PersistentVolume {volume['metadata']['name']} {phase}")

    def _claim_event(self, events_res, claim, reason, message):
        namespace = claim["metadata"].get("namespace")
        if self.store.read(events_res, namespace, volumes.event_name(claim, reason)) is not None:
            return
        try:
            self.store.create(events_res, namespace, volumes.claim_event(claim, reason, message, now_rfc3339()), self.PV_USER,
                              STATUS_MANAGER, "Strict")
        except ApiError as err:
            if err.code != 409:
                raise
            return
        self.log(1, f"persistentvolume-binder (STAND-IN): {namespace}/{claim['metadata']['name']} {reason}: {message}")

    def _bind(self, volumes_res, claims_res, volume, claim):
        """Bind as the real binder does: the volume's claimRef first, then the claim's volumeName, then both phases."""
        body = copy.deepcopy(volume)
        body["spec"]["claimRef"] = volumes.claim_ref(claim)
        try:
            volume, _w, _c = self.store.update(volumes_res, None, volume["metadata"]["name"], body, STATUS_MANAGER, "Strict", old=volume)
            self._write_status(volumes_res, volume, dict(volume.get("status") or {}, phase="Bound"), STATUS_MANAGER)
            body = copy.deepcopy(claim)
            meta = body["metadata"]
            body["spec"]["volumeName"] = volume["metadata"]["name"]
            meta.setdefault("annotations", {}).update({"pv.kubernetes.io/bind-completed": "yes", "pv.kubernetes.io/bound-by-controller": "yes"})
            claim, _w, _c = self.store.update(claims_res, meta.get("namespace"), meta["name"], body, STATUS_MANAGER, "Strict", old=claim)
            self._write_status(claims_res, claim, {"phase": "Bound", "accessModes": volume["spec"].get("accessModes") or [],
                                                   "capacity": dict(volume["spec"].get("capacity") or {})}, STATUS_MANAGER)
        except ApiError as err:
            if err.code in (404, 409):
                return
            raise
        self.log(0, f"persistentvolume-binder (STAND-IN): bound {claim['metadata'].get('namespace')}/{claim['metadata']['name']} "
                    f"to PersistentVolume {volume['metadata']['name']}")

    # -- the tigera operator (STAND-IN) ---------------------------------------------------------------
    def tigera_operator(self):
        """While the tigera-operator Deployment is Available: reconcile Installation `default` and APIServer `default`."""
        if self.store is None:
            return
        installations = self._resource("operator.tigera.io", "v1", "installations")
        apiservers = self._resource("operator.tigera.io", "v1", "apiservers")
        if installations is None and apiservers is None:
            return  # the operator's CRDs are not there (yet): nothing to watch
        dep = self.store.read(self._resource("apps", "v1", "deployments"), tigera.OPERATOR_NAMESPACE, tigera.OPERATOR_DEPLOYMENT)
        if dep is None or dep["metadata"].get("deletionTimestamp") or not tigera.deployment_available(dep):
            return
        installation = self.store.read(installations, None, "default") if installations is not None else None
        if installation is not None and installation["metadata"].get("deletionTimestamp"):
            installation = None
        ready = self._reconcile_installation(installations, installation, dep) if installation is not None else False
        apiserver = self.store.read(apiservers, None, "default") if apiservers is not None else None
        if apiserver is not None and not apiserver["metadata"].get("deletionTimestamp"):
            self._reconcile_apiserver(apiservers, apiserver, installation, ready)

    def _reconcile_installation(self, res, installation, dep):
        """Render calico-system from the Installation, then write its status; True when it is Ready."""
        now = now_rfc3339()
        generation = installation["metadata"].get("generation")
        previous = (installation.get("status") or {}).get("conditions")
        kubeadm = self.store.read(self._resource("", "v1", "configmaps"), "kube-system", "kubeadm-config")
        try:
            plan = tigera.resolve(installation, dep, tigera.platform_cidrs(kubeadm))
        except tigera.ConfigError as err:
            status = dict(installation.get("status") or {})
            status["conditions"] = tigera.conditions(previous, "Degraded", err.reason, err.message, generation, now)
            if self._write_status(res, installation, status, OPERATOR_MANAGER):
                self.log(0, f"tigera-operator (STAND-IN): Installation default is Degraded: {err.message}")
            return False
        if not self._ensure_namespace():
            return False
        self._ensure(self._resource("", "v1", "serviceaccounts"), tigera.service_account(installation))
        ds_res = self._resource("apps", "v1", "daemonsets")
        self._ensure(ds_res, tigera.daemonset(plan, installation))
        ds = self.store.read(ds_res, tigera.NAMESPACE, tigera.DAEMONSET)
        state, reason, message = "Progressing", "ResourceNotReady", f'DaemonSet "{tigera.NAMESPACE}/{tigera.DAEMONSET}" is not available'
        if ds is not None:
            ds_status = ds.get("status") or {}
            desired, ready = ds_status.get("desiredNumberScheduled", 0), ds_status.get("numberReady", 0)
            pod_spec = ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
            waiting = sorted(n["metadata"]["name"] for n in self._nodes()
                             if scheduling.daemon_pod_fits(pod_spec, n) and scheduling.node_ready(n) != "True")
            if ds_status.get("observedGeneration") != ds["metadata"].get("generation"):
                message += " (its status does not reflect its current generation yet)"
            elif desired == 0:
                message += " (it is scheduled on no node)"
            elif ready < desired or waiting:
                message += f" ({ready}/{desired} ready"
                message += f"; install-cni has not run yet on {', '.join(waiting)}: STAND-IN, seen as that Node not being Ready)" if waiting else ")"
            else:
                state, reason, message = "Ready", "AllObjectsAvailable", "All objects are available"
        status = dict(installation.get("status") or {})
        status.update({"variant": plan["variant"], "calicoVersion": plan["calico_version"], "mtu": plan["status_mtu"],
                       "conditions": tigera.conditions(previous, state, reason, message, generation, now)})
        if self._write_status(res, installation, status, OPERATOR_MANAGER):
            self.log(1, f"tigera-operator (STAND-IN): Installation default {state}: {message}")
        return state == "Ready"

    def _reconcile_apiserver(self, res, apiserver, installation, installation_ready):
        """APIServer `default`: Ready once the Installation is (no calico-apiserver is deployed by the stand-in)."""
        if installation is None:
            state, reason, message = "Degraded", "ResourceNotFound", "Installation not found"
        elif not installation_ready:
            state, reason, message = "Progressing", "ResourceNotReady", "Waiting for Installation to be ready"
        else:
            state, reason, message = "Ready", "AllObjectsAvailable", "All objects are available"
        status = {k: v for k, v in (apiserver.get("status") or {}).items() if k != "state"}
        status["conditions"] = tigera.conditions(status.get("conditions"), state, reason, message,
                                                 apiserver["metadata"].get("generation"), now_rfc3339())
        if state == "Ready":
            status["state"] = "Ready"
        if self._write_status(res, apiserver, status, OPERATOR_MANAGER):
            self.log(1, f"tigera-operator (STAND-IN): APIServer default {state}: {message}")

    def _ensure_namespace(self):
        """calico-system exists with the operator's labels; False while it is being deleted."""
        res = self._resource("", "v1", "namespaces")
        wanted = tigera.namespace()
        live = self.store.read(res, None, tigera.NAMESPACE)
        if live is not None and live["metadata"].get("deletionTimestamp"):
            return False
        if live is None:
            self._create_object(res, wanted)
            return True
        labels = dict(live["metadata"].get("labels") or {})
        if any(labels.get(k) != v for k, v in wanted["metadata"]["labels"].items()):
            body = copy.deepcopy(live)
            body["metadata"]["labels"] = dict(labels, **wanted["metadata"]["labels"])
            self._replace_object(res, live, body)
        return True

    def _ensure(self, res, wanted):
        """Create `wanted` or bring the live object's labels, annotations, ownerReferences and spec back to it."""
        meta = wanted["metadata"]
        live = self.store.read(res, meta.get("namespace"), meta["name"])
        if live is None:
            self._create_object(res, wanted)
            return
        body = copy.deepcopy(live)
        for key in ("labels", "annotations", "ownerReferences"):
            if key in meta:
                body["metadata"][key] = copy.deepcopy(meta[key])
        if "spec" in wanted:
            body["spec"] = copy.deepcopy(wanted["spec"])
        if body != live:
            self._replace_object(res, live, body)

    def _create_object(self, res, obj):
        meta = obj["metadata"]
        try:
            self.store.create(res, meta.get("namespace"), copy.deepcopy(obj), OPERATOR_USER, OPERATOR_MANAGER, "Strict")
        except ApiError as err:
            if err.code == 409:
                return  # another API server's operator stand-in was first
            raise
        self.log(0, f"tigera-operator (STAND-IN): created {obj['kind']} {meta.get('namespace', '') + '/' if meta.get('namespace') else ''}{meta['name']}")

    def _replace_object(self, res, live, body):
        meta = live["metadata"]
        try:
            self.store.update(res, meta.get("namespace"), meta["name"], body, OPERATOR_MANAGER, "Strict", old=live)
        except ApiError as err:
            if err.code in (404, 409):
                return
            raise
        self.log(0, f"tigera-operator (STAND-IN): updated {live['kind']} {meta.get('namespace', '') + '/' if meta.get('namespace') else ''}{meta['name']}")


# -- status the workload controllers would write --------------------------------------------------------
def template_hash(template):
    """A stable pod-template-hash-like suffix for the ReplicaSet name in messages (the stand-in's own hash of the
    template, not the real one: no ReplicaSet is created)."""
    digest = hashlib.sha256(json.dumps(template, sort_keys=True, separators=(",", ":")).encode("utf-8")).digest()
    return "".join(SAFE_ALPHABET[b % len(SAFE_ALPHABET)] for b in digest[:10])


def _scaled(value, total, round_up):
    if isinstance(value, str) and value.endswith("%"):
        fraction = int(value[:-1]) * total / 100.0
        return int(-(-fraction // 1)) if round_up else int(fraction // 1)
    return int(value)


def max_unavailable(spec, replicas):
    """MaxUnavailable of a Deployment (Recreate: 0; RollingUpdate: maxUnavailable rounded down, 25% by default;
    1 when both it and maxSurge come to 0), at most the replicas."""
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0
    rolling = strategy.get("rollingUpdate") or {}
    surge = _scaled(rolling.get("maxSurge", "25%"), replicas, True)
    unavailable = _scaled(rolling.get("maxUnavailable", "25%"), replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return min(unavailable, replicas)


def _elapsed(stamp, now):
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    try:
        return (datetime.datetime.strptime(now, fmt) - datetime.datetime.strptime(stamp, fmt)).total_seconds()
    except (TypeError, ValueError):
        return 0


def deployment_status(dep, nodes, now):
    """STAND-IN: the status the deployment controller would write if the Deployment's pods ran.  Its replicas count
    as available when some Node would take them (scheduling.fits) and could start them (scheduling.pod_ready_on);
    otherwise they count as pending, and after progressDeadlineSeconds Progressing turns False
    (ProgressDeadlineExceeded), as for real.  Zero counts are left out, as the real API's JSON leaves them out."""
    spec = dep.get("spec") or {}
    old = {c.get("type"): c for c in (dep.get("status") or {}).get("conditions") or ()}
    replicas = spec.get("replicas")
    replicas = 1 if replicas is None else int(replicas)
    template = spec.get("template") or {}
    pod_spec = template.get("spec") or {}
    replica_set = f"{dep['metadata']['name']}-{template_hash(template)}"
    placeable = any(scheduling.fits(pod_spec, n) and scheduling.pod_ready_on(pod_spec, n) for n in nodes)
    available = replicas if placeable else 0

    def condition(kind, status, reason, message):
        prev = old.get(kind) or {}
        if (prev.get("status"), prev.get("reason"), prev.get("message")) == (status, reason, message):
            return prev
        since = prev.get("lastTransitionTime") if prev.get("status") == status and prev.get("lastTransitionTime") else now
        return {"type": kind, "status": status, "lastUpdateTime": now, "lastTransitionTime": since, "reason": reason, "message": message}

    if available >= replicas - max_unavailable(spec, replicas):
        conditions = [condition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")]
    else:
        conditions = [condition("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.")]
    progressing = old.get("Progressing") or {}
    if spec.get("paused"):
        conditions.append(condition("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused"))
    elif available == replicas:
        conditions.append(condition("Progressing", "True", "NewReplicaSetAvailable", f'ReplicaSet "{replica_set}" has successfully progressed.'))
    elif progressing.get("reason") == "ProgressDeadlineExceeded" and replica_set in progressing.get("message", ""):
        conditions.append(progressing)
    else:
        message = f'ReplicaSet "{replica_set}" is progressing.'
        started = progressing.get("lastUpdateTime") if progressing.get("message") == message else now
        if _elapsed(started, now) > int(spec.get("progressDeadlineSeconds", 600)):
            conditions.append(condition("Progressing", "False", "ProgressDeadlineExceeded", f'ReplicaSet "{replica_set}" has timed out progressing.'))
        else:
            conditions.append(condition("Progressing", "True", "ReplicaSetUpdated", message))
    status = {"observedGeneration": dep["metadata"].get("generation", 1)}
    for key, value in (("replicas", replicas), ("updatedReplicas", replicas), ("readyReplicas", available),
                       ("availableReplicas", available), ("unavailableReplicas", replicas - available)):
        if value:
            status[key] = value
    status["conditions"] = conditions
    return status


def daemonset_status(ds, nodes):
    """STAND-IN: the status the daemonset controller would write if the DaemonSet's pods ran: scheduled on every
    Node its template fits (nodeSelector, affinity, taints against its tolerations plus the daemon tolerations),
    ready where scheduling.pod_ready_on holds.  The four counts the real API always shows are always written; the
    others only when not zero, as the real API's JSON leaves them out."""
    pod_spec = ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
    scheduled = [n for n in nodes if scheduling.daemon_pod_fits(pod_spec, n)]
    ready = [n for n in scheduled if scheduling.pod_ready_on(pod_spec, n)]
    status = {"currentNumberScheduled": len(scheduled), "desiredNumberScheduled": len(scheduled), "numberMisscheduled": 0,
              "numberReady": len(ready), "observedGeneration": ds["metadata"].get("generation", 1)}
    for key, value in (("updatedNumberScheduled", len(scheduled)), ("numberAvailable", len(ready)),
                       ("numberUnavailable", len(scheduled) - len(ready))):
        if value:
            status[key] = value
    return status
