"""STAND-IN support: on which Nodes a pod template may run, decided as the kube-scheduler's predicates and the
DaemonSet controller's `NodeShouldRunDaemonPod` decide it: the node name, `nodeSelector`, required node affinity,
and the node's NoSchedule/NoExecute taints against the pod's tolerations.

No pod is scheduled anywhere by the stand-ins: this module only answers "would it run there?" for the simulated
Deployment and DaemonSet status of the kube-apiserver stand-in and for the kubelet stand-in's simulation of
calico-node's install-cni container, so that both use one toleration implementation.

The node lifecycle controller (part of kube-controller-manager, not run) is simulated here only as far as the
taints it keeps on a Node are concerned: a Node whose Ready condition is not True counts as tainted
`node.kubernetes.io/not-ready` (NoSchedule and NoExecute; `unreachable` when the condition is Unknown), and an
unschedulable (cordoned) Node as tainted `node.kubernetes.io/unschedulable:NoSchedule`.  Those taints are not
written to the Node.
"""

REPELLING_EFFECTS = ("NoSchedule", "NoExecute")
NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"

# What the DaemonSet controller adds to every daemon pod (util.AddOrUpdateDaemonPodTolerations).
DAEMON_TOLERATIONS = (
    {"key": NOT_READY, "operator": "Exists", "effect": "NoExecute"},
    {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": UNSCHEDULABLE, "operator": "Exists", "effect": "NoSchedule"},
)
HOST_NETWORK_DAEMON_TOLERATION = {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists", "effect": "NoSchedule"}


def tolerates(toleration, taint):
    """Toleration.ToleratesTaint: an empty effect matches every effect, an empty key (with Exists) every key;
    the operator is Exists (any value) or Equal (the default: the same value); any other operator matches nothing."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    if operator == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def untolerated(tolerations, taints):
    """The NoSchedule/NoExecute taints that no toleration tolerates (PreferNoSchedule never keeps a pod away)."""
    return [t for t in taints or () if t.get("effect") in REPELLING_EFFECTS and not any(tolerates(tol, t) for tol in tolerations or ())]


def node_ready(node):
    """The status of the Node's Ready condition: "True", "False", "Unknown", or None when it has none yet."""
    for condition in (node.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Ready":
            return condition.get("status")
    return None


def node_taints(node):
    """spec.taints plus the taints the (simulated) node lifecycle controller keeps on this Node."""
    taints = [dict(t) for t in (node.get("spec") or {}).get("taints") or ()]
    ready = node_ready(node)
    implied = []
    if ready == "Unknown":
        implied += [{"key": UNREACHABLE, "effect": "NoSchedule"}, {"key": UNREACHABLE, "effect": "NoExecute"}]
    elif ready != "True":
        implied += [{"key": NOT_READY, "effect": "NoSchedule"}, {"key": NOT_READY, "effect": "NoExecute"}]
    if (node.get("spec") or {}).get("unschedulable"):
        implied.append({"key": UNSCHEDULABLE, "effect": "NoSchedule"})
    present = {(t.get("key"), t.get("effect")) for t in taints}
    return taints + [t for t in implied if (t["key"], t["effect"]) not in present]


def _number(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def _requirement_matches(requirement, value, present):
    """One NodeSelectorRequirement (In, NotIn, Exists, DoesNotExist, Gt, Lt) against a label's value."""
    operator = requirement.get("operator")
    values = requirement.get("values") or []
    if operator == "In":
        return present and value in values
    if operator == "NotIn":
        return not present or value not in values
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and present and len(values) == 1:
        have, bound = _number(value), _number(values[0])
        if have is None or bound is None:
            return False
        return have > bound if operator == "Gt" else have < bound
    return False


def _term_matches(term, node):
    """A NodeSelectorTerm: its matchExpressions (labels) and matchFields (metadata.name) all hold; an empty term
    matches no node."""
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False
    labels = (node.get("metadata") or {}).get("labels") or {}
    for requirement in expressions:
        key = requirement.get("key")
        if not _requirement_matches(requirement, labels.get(key), key in labels):
            return False
    for requirement in fields:
        if requirement.get("key") != "metadata.name":
            return False
        if not _requirement_matches(requirement, (node.get("metadata") or {}).get("name"), True):
            return False
    return True


def node_selector_matches(selector, node):
    """spec.nodeSelector: every key present with the same value."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    return all(key in labels and labels[key] == value for key, value in (selector or {}).items())


def node_affinity_matches(pod_spec, node):
    """requiredDuringSchedulingIgnoredDuringExecution: at least one nodeSelectorTerm matches (none required: true)."""
    required = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if not required:
        return True
    return any(_term_matches(term, node) for term in required.get("nodeSelectorTerms") or ())


def fits(pod_spec, node, extra_tolerations=()):
    """Would a pod with this spec be placed on this Node (name, selector, affinity, taints)?"""
    pod_spec = pod_spec or {}
    name = (node.get("metadata") or {}).get("name")
    if pod_spec.get("nodeName") and pod_spec["nodeName"] != name:
        return False
    if not node_selector_matches(pod_spec.get("nodeSelector"), node) or not node_affinity_matches(pod_spec, node):
        return False
    tolerations = list(pod_spec.get("tolerations") or ()) + list(extra_tolerations)
    return not untolerated(tolerations, node_taints(node))


def daemon_tolerations(pod_spec):
    """The DaemonSet controller's default tolerations for a daemon pod of this spec."""
    extra = list(DAEMON_TOLERATIONS)
    if (pod_spec or {}).get("hostNetwork"):
        extra.append(HOST_NETWORK_DAEMON_TOLERATION)
    return extra


def daemon_pod_fits(pod_spec, node):
    """NodeShouldRunDaemonPod: the pod template, with the daemon tolerations added, fits the Node."""
    return fits(pod_spec, node, daemon_tolerations(pod_spec))


def pod_ready_on(pod_spec, node):
    """STAND-IN: a simulated pod placed on this Node counts as ready when it uses the host's network or the Node is
    Ready (a pod on the pod network needs the CNI configuration a NotReady node lacks)."""
    return bool((pod_spec or {}).get("hostNetwork")) or node_ready(node) == "True"
