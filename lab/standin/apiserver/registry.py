"""STAND-IN kube-apiserver: the resources it serves and where they live in etcd.

Built-in resources are a fixed table (a subset of Kubernetes 1.32, listed in the README of the
stand-in); custom resources come from the CustomResourceDefinitions stored in etcd.  Keys follow the
real layout (`/registry/<resource>/<namespace>/<name>`, nodes under `/registry/minions`, services
under `/registry/services/specs`, custom resources under `/registry/<group>/<plural>`).  Values are
JSON (the real server stores protobuf for built-in kinds): a documented stand-in difference.
"""

import json
import threading

from .etcd import b64, prefix_end

RW = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
STATUS_VERBS = ["get", "patch", "update"]


class Resource:
    """One served resource (a group/version/plural)."""

    def __init__(self, group, version, plural, kind, namespaced, short_names=(), categories=(),
                 subresources=("status",), key=None, generation=False, crd=None, singular=None,
                 verbs=None):
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind
        self.namespaced = namespaced
        self.short_names = list(short_names)
        self.categories = list(categories)
        self.subresources = tuple(subresources)
        self.singular = singular or kind.lower()
        self.generation = generation
        self.crd = crd  # the CRD object for custom resources
        self.verbs = verbs or list(RW)
        if key is None:
            key = f"/registry/{group}/{plural}" if crd is not None else f"/registry/{plural}"
        self.key = key

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self):
        """`deployments.apps`, `configmaps` (as in error messages)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self):
        """`Deployment.apps`, `ConfigMap` (as in 'is invalid' messages)."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def list_kind(self):
        if self.crd is not None:
            return self.crd["spec"]["names"].get("listKind") or self.kind + "List"
        return self.kind + "List"

    def storage_key(self, namespace, name):
        if self.namespaced:
            return f"{self.key}/{namespace}/{name}"
        return f"{self.key}/{name}"

    def storage_prefix(self, namespace=None):
        if self.namespaced and namespace:
            return f"{self.key}/{namespace}/"
        return f"{self.key}/"

    def version_schema(self):
        """The openAPIV3Schema of a custom resource's version."""
        for version in self.crd["spec"]["versions"]:
            if version["name"] == self.version:
                return (version.get("schema") or {}).get("openAPIV3Schema")
        return None

    def crd_version(self):
        for version in self.crd["spec"]["versions"]:
            if version["name"] == self.version:
                return version
        return {}


def _r(group, version, plural, kind, namespaced, **kw):
    return Resource(group, version, plural, kind, namespaced, **kw)


BUILTIN = [
    _r("", "v1", "namespaces", "Namespace", False, short_names=["ns"]),
    _r("", "v1", "configmaps", "ConfigMap", True, short_names=["cm"], subresources=()),
    _r("", "v1", "secrets", "Secret", True, subresources=()),
    _r("", "v1", "nodes", "Node", False, short_names=["no"], key="/registry/minions"),
    _r("", "v1", "pods", "Pod", True, short_names=["po"], categories=["all"]),
    _r("", "v1", "services", "Service", True, short_names=["svc"], categories=["all"], key="/registry/services/specs"),
    _r("", "v1", "endpoints", "Endpoints", True, short_names=["ep"], subresources=(), key="/registry/services/endpoints"),
    _r("", "v1", "serviceaccounts", "ServiceAccount", True, short_names=["sa"], subresources=()),
    _r("", "v1", "events", "Event", True, short_names=["ev"], subresources=()),
    _r("", "v1", "persistentvolumes", "PersistentVolume", False, short_names=["pv"]),
    _r("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, short_names=["pvc"]),
    _r("", "v1", "limitranges", "LimitRange", True, short_names=["limits"], subresources=()),
    _r("", "v1", "resourcequotas", "ResourceQuota", True, short_names=["quota"]),
    _r("apps", "v1", "deployments", "Deployment", True, short_names=["deploy"], categories=["all"], generation=True),
    _r("apps", "v1", "daemonsets", "DaemonSet", True, short_names=["ds"], categories=["all"], generation=True),
    _r("apps", "v1", "statefulsets", "StatefulSet", True, short_names=["sts"], categories=["all"], generation=True),
    _r("apps", "v1", "replicasets", "ReplicaSet", True, short_names=["rs"], categories=["all"], generation=True),
    _r("apps", "v1", "controllerrevisions", "ControllerRevision", True, subresources=()),
    _r("batch", "v1", "jobs", "Job", True, categories=["all"], generation=True),
    _r("batch", "v1", "cronjobs", "CronJob", True, short_names=["cj"], categories=["all"], generation=True),
    _r("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, short_names=["pdb"], generation=True),
    _r("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, short_names=["sc"], subresources=()),
    _r("storage.k8s.io", "v1", "csidrivers", "CSIDriver", False, subresources=()),
    _r("node.k8s.io", "v1", "runtimeclasses", "RuntimeClass", False, subresources=()),
    _r("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False, short_names=["pc"], subresources=()),
    _r("rbac.authorization.k8s.io", "v1", "roles", "Role", True, subresources=()),
    _r("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True, subresources=()),
    _r("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False, subresources=()),
    _r("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False, subresources=()),
    _r("apiregistration.k8s.io", "v1", "apiservices", "APIService", False, key="/registry/apiregistration.k8s.io/apiservices"),
    _r("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False,
       short_names=["crd", "crds"], generation=True, key="/registry/apiextensions.k8s.io/customresourcedefinitions"),
    _r("certificates.k8s.io", "v1", "certificatesigningrequests", "CertificateSigningRequest", False,
       short_names=["csr"], subresources=("status", "approval")),
    _r("coordination.k8s.io", "v1", "leases", "Lease", True, subresources=()),
    _r("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True, subresources=()),
    _r("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, short_names=["netpol"], subresources=(), generation=True),
    _r("networking.k8s.io", "v1", "ingresses", "Ingress", True, short_names=["ing"], generation=True),
    _r("networking.k8s.io", "v1", "ingressclasses", "IngressClass", False, subresources=()),
    # virtual, create-only review resources (nothing stored)
    _r("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False, subresources=(), verbs=["create"]),
    _r("authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview", False, subresources=(), verbs=["create"]),
    _r("authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview", False, subresources=(), verbs=["create"]),
]
REVIEW_KINDS = ("SelfSubjectAccessReview", "SubjectAccessReview", "SelfSubjectReview")

GROUP_ORDER = ["", "apps", "batch", "policy", "storage.k8s.io", "node.k8s.io", "scheduling.k8s.io",
               "rbac.authorization.k8s.io", "apiregistration.k8s.io", "apiextensions.k8s.io", "certificates.k8s.io",
               "coordination.k8s.io", "discovery.k8s.io", "networking.k8s.io", "authentication.k8s.io", "authorization.k8s.io"]

CRD_PREFIX = "/registry/apiextensions.k8s.io/customresourcedefinitions/"


class Registry:
    """Built-in resources plus the custom resources of the established CRDs in etcd."""

    def __init__(self, etcd, refresh=2.0):
        self.etcd = etcd
        self.refresh = refresh
        self._lock = threading.Lock()
        self._custom = []
        self._signature = None
        self._builtin = {(r.group, r.version, r.plural): r for r in BUILTIN}

    def custom(self, force=False):  # pylint: disable=unused-argument
        """Resources of the CRDs in etcd; re-read only when a CRD key changed (a cheap keys-only range)."""
        with self._lock:
            answer = self.etcd.call("/v3/kv/range", {"key": b64(CRD_PREFIX), "range_end": b64(prefix_end(CRD_PREFIX)), "keys_only": True})
            signature = tuple((kv.get("key"), kv.get("mod_revision")) for kv in answer.get("kvs") or [])
            if signature != self._signature:
                kvs, dummy, dummy = self.etcd.list(CRD_PREFIX)
                custom = []
                for kv in kvs:
                    crd = json.loads(kv.value)
                    if crd.get("metadata", {}).get("deletionTimestamp"):
                        continue
                    custom.extend(resources_of_crd(crd))
                self._custom = custom
                self._signature = tuple((b64(kv.key), str(kv.mod_revision)) for kv in kvs)
            return list(self._custom)

    def lookup(self, group, version, plural):
        """The Resource for a URL's group/version/plural (a CR lookup re-reads the CRDs once on a miss)."""
        found = self._builtin.get((group, version, plural))
        if found:
            return found
        for res in self.custom():
            if (res.group, res.version, res.plural) == (group, version, plural):
                return res
        return None

    def for_kind(self, api_version, kind):
        group, dummy, version = api_version.rpartition("/")
        for res in BUILTIN + self.custom():
            if res.group == group and res.version == version and res.kind == kind:
                return res
        return None

    def all(self):
        return BUILTIN + self.custom()

    def groups(self):
        """[(group, [versions], preferred)] in a stable order (built-ins first)."""
        seen = {}
        for res in self.all():
            versions = seen.setdefault(res.group, [])
            if res.version not in versions:
                versions.append(res.version)
        order = [g for g in GROUP_ORDER if g in seen] + sorted(g for g in seen if g not in GROUP_ORDER)
        result = []
        for group in order:
            versions = seen[group]
            preferred = versions[0]
            for res in self.custom():
                if res.group == group:
                    versions = [v["name"] for v in res.crd["spec"]["versions"] if v.get("served")]
                    preferred = next((v["name"] for v in res.crd["spec"]["versions"] if v.get("storage")), versions[0])
                    break
            result.append((group, versions, preferred))
        return result


def resources_of_crd(crd):
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    result = []
    for version in spec.get("versions") or []:
        if not version.get("served"):
            continue
        subs = []
        if "status" in (version.get("subresources") or {}):
            subs.append("status")
        result.append(Resource(
            spec["group"], version["name"], names["plural"], names["kind"], spec.get("scope") == "Namespaced",
            short_names=names.get("shortNames") or (), categories=names.get("categories") or (),
            subresources=tuple(subs), generation=True, crd=crd, singular=names.get("singular") or names["kind"].lower()))
    return result
