"""STAND-IN: server-side printing (``Accept: application/json;as=Table;g=meta.k8s.io;v=v1``) for kubectl get.

Column names, types, priorities and cell texts follow the real server's printers
(pkg/printers/internalversion) for the kinds the collection looks at: Node, Pod, Namespace, ConfigMap,
Secret, Deployment, DaemonSet, Service, StorageClass, PersistentVolume, PersistentVolumeClaim,
CertificateSigningRequest, Lease, ServiceAccount, CustomResourceDefinition; custom resources use their
CRD's ``additionalPrinterColumns`` (default: Age) as the apiextensions server does.  Other built-in kinds
get Name and Age (the real server has a printer for most of them, with more columns).  Pod STATUS is a
simplified version of kubectl's (init containers, waiting/terminated reasons, Terminating).
The real server always sends the priority-1 (``-o wide``) columns and kubectl hides them; ``wide=False``
leaves them out.
"""
import json
import re
from datetime import datetime, timezone

_NAME_DOC = ("Name must be unique within a namespace. Is required when creating resources, although some resources may "
             "allow a client to request the generation of an appropriate name automatically. Name is primarily intended "
             "for creation idempotence and configuration definition. Cannot be updated. More info: "
             "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names")
_AGE_DOC = ("CreationTimestamp is a timestamp representing the server time when this object was created. It is not "
            "guaranteed to be set in happens-before order across separate operations. Clients may not set this value. "
            "It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. "
            "More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata")


def human_duration(seconds):
    """k8s.io/apimachinery's duration.HumanDuration: 5s, 119s, 3m2s, 15m, 4h, 5h30m, 30h, 3d4h, 20d, 2y30d, 9y."""
    seconds = int(seconds)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return "%ds" % seconds
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return "%dm" % minutes if rest == 0 else "%dm%ds" % (minutes, rest)
    if minutes < 60 * 3:
        return "%dm" % minutes
    hours = seconds // 3600
    if hours < 8:
        rest = minutes % 60
        return "%dh" % hours if rest == 0 else "%dh%dm" % (hours, rest)
    if hours < 48:
        return "%dh" % hours
    if hours < 24 * 8:
        rest = hours % 24
        return "%dd" % (hours // 24) if rest == 0 else "%dd%dh" % (hours // 24, rest)
    if hours < 24 * 365 * 2:
        return "%dd" % (hours // 24)
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return "%dy" % (hours // 24 // 365) if days == 0 else "%dy%dd" % (hours // 24 // 365, days)
    return "%dy" % (hours // 24 // 365)


def parse_time(text):
    if not isinstance(text, str) or not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _since(text, now):
    when = parse_time(text)
    if when is None:
        return "<unknown>"
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    return human_duration((now - when).total_seconds())


def _col(name, kind="string", description="", priority=0, fmt=""):
    return {"name": name, "type": kind, "format": fmt, "description": description, "priority": priority}


def _name_col():
    return _col("Name", fmt="name", description=_NAME_DOC)


def _age_col():
    return _col("Age", description=_AGE_DOC)


def _meta(obj):
    return obj.get("metadata") or {}


def _age(obj, now):
    return _since(_meta(obj).get("creationTimestamp"), now)


def _join_or(values, empty="<none>"):
    values = [v for v in values if v]
    return ",".join(values) if values else empty


def _selector_text(selector):
    """metav1.LabelSelectorAsSelector(...).String(), for matchLabels and the simple operators."""
    if not selector:
        return "<none>"
    parts = ["%s=%s" % (k, v) for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or ():
        op, key, values = expr.get("operator"), expr.get("key"), sorted(expr.get("values") or [])
        if op == "In":
            parts.append("%s in (%s)" % (key, ",".join(values)))
        elif op == "NotIn":
            parts.append("%s notin (%s)" % (key, ",".join(values)))
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append("!" + key)
    return ",".join(sorted(parts)) if parts else "<none>"


# --------------------------------------------------------------------------------------------------
# Printers: (columns, row function)
# --------------------------------------------------------------------------------------------------

def _node_roles(labels):
    roles = set()
    for key, value in (labels or {}).items():
        if key.startswith("node-role.kubernetes.io/"):
            role = key[len("node-role.kubernetes.io/"):]
            if role:
                roles.add(role)
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    return sorted(roles)


def _node_address(obj, kind):
    for address in (obj.get("status") or {}).get("addresses") or ():
        if address.get("type") == kind:
            return address.get("address") or "<none>"
    return "<none>"


def _node_row(obj, now):
    status = obj.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or ()}
    states = []
    if "Ready" in conditions:
        states.append("Ready" if conditions["Ready"].get("status") == "True" else "NotReady")
    if not states:
        states.append("Unknown")
    if (obj.get("spec") or {}).get("unschedulable"):
        states.append("SchedulingDisabled")
    info = status.get("nodeInfo") or {}
    return [_meta(obj).get("name"), ",".join(states), ",".join(_node_roles(_meta(obj).get("labels"))) or "<none>",
            _age(obj, now), info.get("kubeletVersion", ""),
            _node_address(obj, "InternalIP"), _node_address(obj, "ExternalIP"),
            info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
            info.get("containerRuntimeVersion") or "<unknown>"]


_NODE_COLUMNS = [
    _name_col(), _col("Status", description="The status of the node"), _col("Roles", description="The roles of the node"),
    _age_col(), _col("Version", description="Kubelet Version reported by the node."),
    _col("Internal-IP", priority=1, description="List of addresses reachable to the node."),
    _col("External-IP", priority=1, description="List of addresses reachable to the node."),
    _col("OS-Image", priority=1, description="OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."),
    _col("Kernel-Version", priority=1, description="Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."),
    _col("Container-Runtime", priority=1, description="ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2)."),
]


def _pod_status_reason(obj):
    status = obj.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Unknown"
    spec = obj.get("spec") or {}
    init_statuses = status.get("initContainerStatuses") or []
    init_total = len(spec.get("initContainers") or [])
    for index, cs in enumerate(init_statuses):
        state = cs.get("state") or {}
        terminated = state.get("terminated")
        if terminated and terminated.get("exitCode") == 0:
            continue
        if terminated:
            reason = "Init:" + (terminated.get("reason") or "ExitCode:%d" % terminated.get("exitCode", 0))
        elif (state.get("waiting") or {}).get("reason") and state["waiting"]["reason"] != "PodInitializing":
            reason = "Init:" + state["waiting"]["reason"]
        else:
            reason = "Init:%d/%d" % (index, init_total)
        return reason
    for cs in reversed(status.get("containerStatuses") or []):
        state = cs.get("state") or {}
        if (state.get("waiting") or {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif state.get("terminated"):
            terminated = state["terminated"]
            reason = terminated.get("reason") or ("Signal:%d" % terminated["signal"] if terminated.get("signal")
                                                  else "ExitCode:%d" % terminated.get("exitCode", 0))
    if _meta(obj).get("deletionTimestamp"):
        reason = "Terminating"
    return reason


def _pod_row(obj, now):
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for cs in statuses if cs.get("ready"))
    restarts = sum(int(cs.get("restartCount") or 0) for cs in statuses)
    last = None
    for cs in statuses:
        finished = parse_time(((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt"))
        if finished and (last is None or finished > last):
            last = finished
    restart_text = str(restarts)
    if restarts and last is not None:
        restart_text = "%d (%s ago)" % (restarts, _since(last.isoformat(), now))
    gates = spec.get("readinessGates") or []
    gate_text = "<none>"
    if gates:
        true_types = {c.get("type") for c in status.get("conditions") or () if c.get("status") == "True"}
        gate_text = "%d/%d" % (sum(1 for g in gates if g.get("conditionType") in true_types), len(gates))
    return [_meta(obj).get("name"), "%d/%d" % (ready, len(spec.get("containers") or [])), _pod_status_reason(obj),
            restart_text, _age(obj, now), status.get("podIP") or "<none>", spec.get("nodeName") or "<none>",
            status.get("nominatedNodeName") or "<none>", gate_text]


_POD_COLUMNS = [
    _name_col(), _col("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
    _col("Status", description="The aggregate status of the containers in this pod."),
    _col("Restarts", description="The number of times the containers in this pod have been restarted and when the last "
                                 "container in this pod has restarted."),
    _age_col(), _col("IP", priority=1, description="IP address allocated to the pod. Routable at least within the cluster."),
    _col("Node", priority=1, description="NodeName indicates in which node this pod is scheduled."),
    _col("Nominated Node", priority=1, description="nominatedNodeName is set only when this pod preempts other pods on "
                                                   "the node."),
    _col("Readiness Gates", priority=1, description="If specified, all readiness gates will be evaluated for pod readiness."),
]


def _containers_images(template_spec):
    containers = template_spec.get("containers") or []
    return (",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers))


def _deployment_row(obj, now):
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    names, images = _containers_images(((spec.get("template") or {}).get("spec")) or {})
    desired = spec.get("replicas", 1)
    return [_meta(obj).get("name"), "%d/%d" % (int(status.get("readyReplicas") or 0), int(desired if desired is not None else 1)),
            int(status.get("updatedReplicas") or 0), int(status.get("availableReplicas") or 0), _age(obj, now),
            names, images, _selector_text(spec.get("selector"))]


_DEPLOYMENT_COLUMNS = [
    _name_col(), _col("Ready", description="Number of the pod with ready state"),
    _col("Up-to-date", "integer", "Total number of non-terminated pods targeted by this deployment that have the desired "
                                  "template spec."),
    _col("Available", "integer", "Total number of available pods (ready for at least minReadySeconds) targeted by this "
                                 "deployment."),
    _age_col(), _col("Containers", priority=1, description="Names of each container in the template."),
    _col("Images", priority=1, description="Images referenced by each container in the template."),
    _col("Selector", priority=1, description="Label selector for pods. Existing ReplicaSets whose pods are selected by "
                                             "this will be the ones affected by this deployment."),
]


def _daemonset_row(obj, now):
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    template_spec = ((spec.get("template") or {}).get("spec")) or {}
    names, images = _containers_images(template_spec)
    node_selector = template_spec.get("nodeSelector") or {}
    return [_meta(obj).get("name"), int(status.get("desiredNumberScheduled") or 0), int(status.get("currentNumberScheduled") or 0),
            int(status.get("numberReady") or 0), int(status.get("updatedNumberScheduled") or 0),
            int(status.get("numberAvailable") or 0),
            ",".join("%s=%s" % kv for kv in sorted(node_selector.items())) or "<none>", _age(obj, now),
            names, images, _selector_text(spec.get("selector"))]


_DAEMONSET_COLUMNS = [
    _name_col(),
    _col("Desired", "integer", "The total number of nodes that should be running the daemon pod (including nodes "
                               "correctly running the daemon pod)."),
    _col("Current", "integer", "The number of nodes that are running at least 1 daemon pod and are supposed to run the "
                               "daemon pod."),
    _col("Ready", "integer", "numberReady is the number of nodes that should be running the daemon pod and have one or "
                             "more of the daemon pod running with a Ready Condition."),
    _col("Up-to-date", "integer", "The total number of nodes that are running updated daemon pod"),
    _col("Available", "integer", "The number of nodes that should be running the daemon pod and have one or more of the "
                                 "daemon pod running and available (ready for at least spec.minReadySeconds)"),
    _col("Node Selector", description="NodeSelector is a selector which must be true for the pod to fit on a node. "
                                      "Selector which must match a node's labels for the pod to be scheduled on that node."),
    _age_col(), _col("Containers", priority=1, description="Names of each container in the template."),
    _col("Images", priority=1, description="Images referenced by each container in the template."),
    _col("Selector", priority=1, description="A label query over pods that are managed by the daemon set."),
]


def _service_external_ip(spec, status):
    kind = spec.get("type") or "ClusterIP"
    external = list(spec.get("externalIPs") or [])
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if kind == "LoadBalancer":
        ingress = [i.get("ip") or i.get("hostname") for i in ((status.get("loadBalancer") or {}).get("ingress") or [])]
        addresses = [a for a in ingress + external if a]
        return ",".join(addresses) if addresses else "<pending>"
    if kind == "ExternalName":
        return spec.get("externalName") or "<none>"
    return "<unknown>"


def _service_row(obj, now):
    spec = obj.get("spec") or {}
    ports = []
    for port in spec.get("ports") or ():
        text = str(port.get("port"))
        if port.get("nodePort"):
            text += ":%s" % port["nodePort"]
        ports.append("%s/%s" % (text, port.get("protocol") or "TCP"))
    selector = spec.get("selector") or {}
    return [_meta(obj).get("name"), spec.get("type") or "ClusterIP", spec.get("clusterIP") or "<none>",
            _service_external_ip(spec, obj.get("status") or {}), ",".join(ports) or "<none>", _age(obj, now),
            ",".join("%s=%s" % kv for kv in sorted(selector.items())) or "<none>"]


_SERVICE_COLUMNS = [
    _name_col(), _col("Type", description="type determines how the Service is exposed."),
    _col("Cluster-IP", description="clusterIP is the IP address of the service and is usually assigned randomly."),
    _col("External-IP", description="externalIPs is a list of IP addresses for which nodes in the cluster will also "
                                    "accept traffic for this service."),
    _col("Port(s)", description="The list of ports that are exposed by this service."), _age_col(),
    _col("Selector", priority=1, description="Route service traffic to pods with label keys and values matching this "
                                             "selector."),
]


def _storageclass_row(obj, now):
    annotations = _meta(obj).get("annotations") or {}
    name = _meta(obj).get("name")
    if "true" in (annotations.get("storageclass.kubernetes.io/is-default-class"),
                  annotations.get("storageclass.beta.kubernetes.io/is-default-class")):
        name = "%s (default)" % name
    return [name, obj.get("provisioner", ""), obj.get("reclaimPolicy") or "Delete",
            obj.get("volumeBindingMode") or "Immediate", bool(obj.get("allowVolumeExpansion")), _age(obj, now)]


_STORAGECLASS_COLUMNS = [
    _name_col(), _col("Provisioner", description="provisioner indicates the type of the provisioner."),
    _col("ReclaimPolicy", description="reclaimPolicy controls the reclaimPolicy for dynamically provisioned "
                                      "PersistentVolumes of this storage class. Defaults to Delete."),
    _col("VolumeBindingMode", description="volumeBindingMode indicates how PersistentVolumeClaims should be provisioned "
                                          "and bound.  When unset, VolumeBindingImmediate is used."),
    _col("AllowVolumeExpansion", description="allowVolumeExpansion shows whether the storage class allow volume expand."),
    _age_col(),
]

_ACCESS_MODES = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}


def _access_modes(modes):
    return ",".join(_ACCESS_MODES[m] for m in ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")
                    if m in (modes or ()))


def _pv_row(obj, now):
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    claim = spec.get("claimRef") or {}
    phase = "Terminating" if _meta(obj).get("deletionTimestamp") else status.get("phase", "")
    return [_meta(obj).get("name"), str((spec.get("capacity") or {}).get("storage", "")), _access_modes(spec.get("accessModes")),
            spec.get("persistentVolumeReclaimPolicy", ""), phase,
            "%s/%s" % (claim.get("namespace", ""), claim.get("name", "")) if claim else "",
            spec.get("storageClassName", ""), spec.get("volumeAttributesClassName") or "<unset>", status.get("reason", ""),
            _age(obj, now), spec.get("volumeMode") or "<unset>"]


_PV_COLUMNS = [
    _name_col(), _col("Capacity", description="capacity is the description of the persistent volume's resources and capacity."),
    _col("Access Modes", description="accessModes contains all ways the volume can be mounted."),
    _col("Reclaim Policy", description="persistentVolumeReclaimPolicy defines what happens to a persistent volume when "
                                       "released from its claim."),
    _col("Status", description="phase indicates if a volume is available, bound to a claim, or released by a claim."),
    _col("Claim", description="claimRef is part of a bi-directional binding between PersistentVolume and "
                              "PersistentVolumeClaim."),
    _col("StorageClass", description="StorageClass of the pv"),
    _col("VolumeAttributesClass", description="VolumeAttributesClass of the pv"),
    _col("Reason", description="reason is a brief CamelCase string that describes any failure and is meant for machine "
                               "parsing and tidy display in the CLI."),
    _age_col(), _col("VolumeMode", priority=1, description="volumeMode defines if a volume is intended to be used with a "
                                                           "formatted filesystem or to remain in raw block state."),
]


def _pvc_row(obj, now):
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    phase = "Terminating" if _meta(obj).get("deletionTimestamp") else status.get("phase", "")
    bound = bool(spec.get("volumeName"))
    return [_meta(obj).get("name"), phase, spec.get("volumeName", ""),
            str((status.get("capacity") or {}).get("storage", "")) if bound else "",
            _access_modes(status.get("accessModes")) if bound else "", spec.get("storageClassName", ""),
            status.get("currentVolumeAttributesClassName") or "<unset>", _age(obj, now),
            spec.get("volumeMode") or "<unset>"]


_PVC_COLUMNS = [
    _name_col(), _col("Status", description="phase represents the current phase of PersistentVolumeClaim."),
    _col("Volume", description="volumeName is the binding reference to the PersistentVolume backing this claim."),
    _col("Capacity", description="capacity represents the actual resources of the underlying volume."),
    _col("Access Modes", description="accessModes contains the actual access modes the volume backing the PVC has."),
    _col("StorageClass", description="StorageClass of the pvc"),
    _col("VolumeAttributesClass", description="VolumeAttributesClass of the pvc"), _age_col(),
    _col("VolumeMode", priority=1, description="volumeMode defines what type of volume is required by the claim."),
]


def _csr_condition(status):
    approved = denied = failed = False
    for condition in status.get("conditions") or ():
        if condition.get("status", "True") != "True":
            continue
        approved |= condition.get("type") == "Approved"
        denied |= condition.get("type") == "Denied"
        failed |= condition.get("type") == "Failed"
    parts = []
    if denied:
        parts.append("Denied")
    elif approved:
        parts.append("Approved")
    else:
        parts.append("Pending")
    if failed:
        parts.append("Failed")
    if status.get("certificate"):
        parts.append("Issued")
    return ",".join(parts)


def _csr_row(obj, now):
    spec = obj.get("spec") or {}
    duration = spec.get("expirationSeconds")
    return [_meta(obj).get("name"), _age(obj, now), spec.get("signerName") or "<none>", spec.get("username", ""),
            human_duration(duration) if duration else "<none>", _csr_condition(obj.get("status") or {})]


_CSR_COLUMNS = [
    _name_col(), _age_col(), _col("SignerName", description="Name of the signer."),
    _col("Requestor", description="Name of the user who created the CSR."),
    _col("RequestedDuration", description="Expiration seconds requested for the signed certificate."),
    _col("Condition", description="Condition of the CSR."),
]


def _namespace_row(obj, now):
    return [_meta(obj).get("name"), (obj.get("status") or {}).get("phase", "Active"), _age(obj, now)]


def _configmap_row(obj, now):
    return [_meta(obj).get("name"), len(obj.get("data") or {}) + len(obj.get("binaryData") or {}), _age(obj, now)]


def _secret_row(obj, now):
    return [_meta(obj).get("name"), obj.get("type") or "Opaque", len(obj.get("data") or {}), _age(obj, now)]


def _lease_row(obj, now):
    return [_meta(obj).get("name"), (obj.get("spec") or {}).get("holderIdentity") or "", _age(obj, now)]


def _serviceaccount_row(obj, now):
    return [_meta(obj).get("name"), len(obj.get("secrets") or []), _age(obj, now)]


def _created_at_row(obj, _now):
    return [_meta(obj).get("name"), _meta(obj).get("creationTimestamp")]


_CREATED_AT_COLUMNS = [_name_col(), _col("Created At", "date", _AGE_DOC)]


def _event_row(obj, now):
    """The real printer's columns of a core/v1 Event (pkg/printers/internalversion printEvent)."""
    involved = obj.get("involvedObject") or {}
    first = obj.get("firstTimestamp") or obj.get("eventTime") or _meta(obj).get("creationTimestamp")
    last = obj.get("lastTimestamp") or first
    source = obj.get("source") or {}
    source_text = source.get("component", "") + ((", " + source["host"]) if source.get("host") else "")
    count = obj.get("count") or 1
    return [_since(last, now) if count <= 1 else "%s (x%d over %s)" % (_since(last, now), count, _since(first, now)),
            obj.get("type", ""), obj.get("reason", ""),
            "%s/%s" % ((involved.get("kind") or "").lower(), involved.get("name", "")), involved.get("fieldPath", ""),
            source_text or (obj.get("reportingComponent") or ""), (obj.get("message") or "").strip(), _since(first, now),
            count, _meta(obj).get("name")]


_EVENT_COLUMNS = [
    _col("Last Seen"), _col("Type"), _col("Reason"), _col("Object"), _col("Subobject", priority=1),
    _col("Source", priority=1), _col("Message"), _col("First Seen", priority=1), _col("Count", priority=1),
    _col("Name", priority=1),
]

_PRINTERS = {
    ("", "Node"): (_NODE_COLUMNS, _node_row),
    ("", "Pod"): (_POD_COLUMNS, _pod_row),
    ("", "Namespace"): ([_name_col(), _col("Status", description="The status of the namespace"), _age_col()], _namespace_row),
    ("", "ConfigMap"): ([_name_col(), _col("Data", "integer", "Number of data in the configmap"), _age_col()], _configmap_row),
    ("", "Secret"): ([_name_col(), _col("Type", description="The type of the secret"),
                      _col("Data", "integer", "Number of data in the secret"), _age_col()], _secret_row),
    ("apps", "Deployment"): (_DEPLOYMENT_COLUMNS, _deployment_row),
    ("apps", "DaemonSet"): (_DAEMONSET_COLUMNS, _daemonset_row),
    ("", "Service"): (_SERVICE_COLUMNS, _service_row),
    ("storage.k8s.io", "StorageClass"): (_STORAGECLASS_COLUMNS, _storageclass_row),
    ("", "PersistentVolume"): (_PV_COLUMNS, _pv_row),
    ("", "PersistentVolumeClaim"): (_PVC_COLUMNS, _pvc_row),
    ("", "Event"): (_EVENT_COLUMNS, _event_row),
    ("certificates.k8s.io", "CertificateSigningRequest"): (_CSR_COLUMNS, _csr_row),
    ("coordination.k8s.io", "Lease"): ([_name_col(), _col("Holder", description="The holder of the lease"), _age_col()],
                                       _lease_row),
    ("", "ServiceAccount"): ([_name_col(), _col("Secrets", "integer", "Secrets is a list of the secrets in the same "
                                                "namespace that pods running using this ServiceAccount are allowed to use."),
                              _age_col()], _serviceaccount_row),
    ("apiextensions.k8s.io", "CustomResourceDefinition"): (_CREATED_AT_COLUMNS, _created_at_row),
}

_BUILTIN_GROUPS = frozenset(("", "apps", "batch", "autoscaling", "policy", "storage.k8s.io", "rbac.authorization.k8s.io",
                             "networking.k8s.io", "coordination.k8s.io", "certificates.k8s.io", "discovery.k8s.io",
                             "events.k8s.io", "scheduling.k8s.io", "node.k8s.io", "apiextensions.k8s.io",
                             "admissionregistration.k8s.io", "apiregistration.k8s.io", "flowcontrol.apiserver.k8s.io",
                             "authentication.k8s.io", "authorization.k8s.io", "resource.k8s.io", "storagemigration.k8s.io"))


# --------------------------------------------------------------------------------------------------
# JSONPath for additionalPrinterColumns (the simple subset CRDs use)
# --------------------------------------------------------------------------------------------------

_FILTER = re.compile(r"""^\?\(@((?:\.[^.=!<>\s]+)+)\s*(?:(==|!=)\s*(?:"([^"]*)"|'([^']*)'|(\S+)))?\s*\)$""")


def _tokens(text, expression):
    position = 0
    while position < len(text):
        if text[position] == ".":
            end = position + 1
            while end < len(text) and text[end] not in ".[":
                end += 1
            if end == position + 1:
                raise ValueError("JSONPath %r is not supported by the stand-in" % expression)
            yield "name", text[position + 1:end]
            position = end
        elif text[position] == "[":
            end, quote = position + 1, None
            while end < len(text) and (quote or text[end] != "]"):
                if text[end] in "'\"":
                    quote = None if quote == text[end] else (quote or text[end])
                end += 1
            if end >= len(text):
                raise ValueError("JSONPath %r is not supported by the stand-in" % expression)
            yield "bracket", text[position + 1:end].strip()
            position = end + 1
        else:
            raise ValueError("JSONPath %r is not supported by the stand-in" % expression)


def jsonpath(obj, expression):
    """Evaluate a CRD column's JSONPath (``.spec.x``, ``.a[0].b``, ``.a[*].b``, ``.a['k.io/x']``,
    ``.status.conditions[?(@.type=="Ready")].status``); returns the list of results.  Unsupported syntax
    raises ValueError."""
    text = expression.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if text.startswith("$"):
        text = text[1:]
    current = [obj]
    for kind, token in _tokens(text, expression):
        current = _step(current, kind, token)
    return current


def _step(values, kind, token):
    result = []
    if kind == "name":
        for value in values:
            if isinstance(value, dict) and token in value:
                result.append(value[token])
        return result
    filt = _FILTER.match(token)
    for value in values:
        if token == "*":
            result.extend(value.values() if isinstance(value, dict) else value if isinstance(value, list) else [])
        elif filt:
            result.extend(v for v in (value if isinstance(value, list) else []) if _filter_matches(v, filt))
        elif re.fullmatch(r"-?\d+", token):
            if isinstance(value, list) and -len(value) <= int(token) < len(value):
                result.append(value[int(token)])
        elif len(token) >= 2 and token[0] == token[-1] and token[0] in "'\"":
            if isinstance(value, dict) and token[1:-1] in value:
                result.append(value[token[1:-1]])
        else:
            raise ValueError("JSONPath [%s] is not supported by the stand-in" % token)
    return result


def _filter_matches(value, filt):
    found = [value]
    for name in filt.group(1).split(".")[1:]:
        found = [v[name] for v in found if isinstance(v, dict) and name in v]
    if filt.group(2) is None:
        return bool(found)
    expected = next(g for g in (filt.group(3), filt.group(4), filt.group(5), "") if g is not None)
    actual = _cell_text(found[0]) if found else None
    return (actual == expected) if filt.group(2) == "==" else (actual != expected)


def _cell_text(value):
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def _custom_cell(kind, value, now):
    if kind == "string":
        return _cell_text(value)
    if kind == "integer":
        return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if kind == "number":
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    if kind == "date":
        return _since(value, now) if parse_time(value) else None
    return None


def _custom_printer(crd_columns):
    columns = list(crd_columns or [])
    if not columns:
        columns = [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]
    definitions = [_name_col()] + [
        _col(c.get("name", ""), c.get("type", "string"), c.get("description", ""), int(c.get("priority") or 0),
             c.get("format", "")) for c in columns]

    def row(obj, now):
        cells = [_meta(obj).get("name")]
        for column in columns:
            try:
                found = jsonpath(obj, column.get("jsonPath", ""))
            except ValueError:
                found = []
            cells.append(_custom_cell(column.get("type", "string"), found[0], now) if found else None)
        return cells
    return definitions, row


# --------------------------------------------------------------------------------------------------

def _partial_metadata(obj):
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": _meta(obj)}


def to_table(kind, group, objects, wide, crd_columns, now):
    """A ``meta.k8s.io/v1`` Table of ``objects`` (all of kind ``kind`` in API group ``group``, "" = core).

    ``crd_columns``: the served CRD version's ``additionalPrinterColumns`` for a custom resource (None for
    built-in kinds; a kind of a non-built-in group without columns gets the CRD default, Age).  ``now``: a
    datetime for the AGE cells.  Rows carry the objects' metadata as PartialObjectMetadata (the real
    server's default ``includeObject=Metadata``).  The caller sets ``metadata.resourceVersion``.
    """
    if crd_columns is not None or group not in _BUILTIN_GROUPS:
        definitions, row = _custom_printer(crd_columns)
    else:
        definitions, row = _PRINTERS.get((group, kind), ([_name_col(), _age_col()],
                                                         lambda obj, now_: [_meta(obj).get("name"), _age(obj, now_)]))
    keep = [i for i, d in enumerate(definitions) if wide or not d["priority"]]
    rows = []
    for obj in objects:
        cells = row(obj, now)
        rows.append({"cells": [cells[i] for i in keep], "object": _partial_metadata(obj)})
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {},
            "columnDefinitions": [dict(definitions[i]) for i in keep], "rows": rows}
