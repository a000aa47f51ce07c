"""STAND-IN persistent-volume controller: what kube-controller-manager's PV binder does for statically provisioned
volumes, reduced to what the collection's local volumes need.

- A PersistentVolumeClaim whose StorageClass binds `WaitForFirstConsumer` is not bound at once. Until a scheduler has
  picked a node for its first pod (the `volume.kubernetes.io/selected-node` annotation), it stays `Pending` and
  gets one Normal event: `WaitForFirstConsumer` ("waiting for first consumer to be created before binding") while no
  pod uses it, `WaitForPodScheduled` ("waiting for pod NAME to be scheduled") once one does. The stand-in runs NO
  scheduler, so a pod that uses such a claim stays Pending, and the claim with it, unless something else sets the
  annotation (the tests do, in the scheduler's place).
- A claim with a selected node, or of an `Immediate` class, is bound to the smallest Available volume of its class
  whose node affinity admits that node (Immediate: any node), whose capacity covers the request, and whose volume
  mode and access modes fit: the volume gets `spec.claimRef` and phase Bound, the claim `spec.volumeName`, the
  bind annotations and phase Bound. No volume fits: the claim stays Pending (event `ProvisioningFailed` is the real
  controller's for dynamic classes; for `kubernetes.io/no-provisioner` it waits, as here).
- A bound volume whose claim is gone becomes Released (reclaim policy Retain; the stand-in never deletes or recycles).

Pure functions here; the controllers' loop (controllers.py) reads the objects and writes what they return.
"""

import re

SELECTED_NODE = "volume.kubernetes.io/selected-node"
NO_CONSUMER = ("WaitForFirstConsumer", "waiting for first consumer to be created before binding")
NO_NODE_YET = "WaitForPodScheduled"

_UNITS = {"": 1, "k": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12, "P": 10 ** 15, "E": 10 ** 18,
          "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60}
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")


def quantity_bytes(text):
    """Bytes of a storage quantity ("320Mi", "1G", "1048576"); None when it is not one."""
    match = _QUANTITY.match(str(text or "").strip())
    if not match:
        return None
    return int(float(match.group(1)) * _UNITS[match.group(2) or ""])


def _class_of(claim):
    return (claim.get("spec") or {}).get("storageClassName") or ""


def claims_used_by(pods):
    """{(namespace, claim name): first pod name (by name) that mounts it, and that pod's node or None}."""
    used = {}
    for pod in sorted(pods, key=lambda p: (p["metadata"].get("namespace", ""), p["metadata"]["name"])):
        meta, spec = pod["metadata"], pod.get("spec") or {}
        for volume in spec.get("volumes") or ():
            source = volume.get("persistentVolumeClaim") or {}
            if source.get("claimName"):
                used.setdefault((meta.get("namespace", ""), source["claimName"]), (meta["name"], spec.get("nodeName")))
    return used


def waiting_reason(claim, classes, used):
    """(reason, message) of a Pending claim that waits for its first consumer, or None when it does not wait.

    classes: {name: StorageClass}; used: claims_used_by(pods)."""
    meta = claim["metadata"]
    if (claim.get("spec") or {}).get("volumeName") or (meta.get("annotations") or {}).get(SELECTED_NODE):
        return None
    storage_class = classes.get(_class_of(claim))
    if not storage_class or storage_class.get("volumeBindingMode") != "WaitForFirstConsumer":
        return None
    user = used.get((meta.get("namespace", ""), meta["name"]))
    if user is None:
        return NO_CONSUMER
    return NO_NODE_YET, f"waiting for pod {user[0]} to be scheduled"


def _node_admits(volume, node):
    from .. import scheduling  # pylint: disable=import-outside-toplevel
    required = (((volume.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {})
    terms = required.get("nodeSelectorTerms") or ()
    if not terms:
        return True
    return node is not None and any(scheduling._term_matches(term, node) for term in terms)  # pylint: disable=protected-access


def volume_for(claim, volumes, classes, nodes):
    """The volume the claim binds to now, or None (not its turn yet, or nothing fits).

    nodes: {name: Node}."""
    meta, spec = claim["metadata"], claim.get("spec") or {}
    if spec.get("volumeName"):
        return None
    storage_class = classes.get(_class_of(claim))
    node_name = (meta.get("annotations") or {}).get(SELECTED_NODE)
    if storage_class is None or (storage_class.get("volumeBindingMode") == "WaitForFirstConsumer" and not node_name):
        return None
    wanted = quantity_bytes(((spec.get("resources") or {}).get("requests") or {}).get("storage")) or 0
    modes = set(spec.get("accessModes") or ())
    mode = spec.get("volumeMode") or "Filesystem"
    node = nodes.get(node_name) if node_name else None
    fitting = []
    for volume in volumes:
        vspec = volume.get("spec") or {}
        size = quantity_bytes((vspec.get("capacity") or {}).get("storage"))
        if (vspec.get("storageClassName") or "") != _class_of(claim) or vspec.get("claimRef"):
            continue
        if (volume.get("status") or {}).get("phase") not in (None, "Available") or volume["metadata"].get("deletionTimestamp"):
            continue
        if size is None or size < wanted or (vspec.get("volumeMode") or "Filesystem") != mode:
            continue
        if not modes <= set(vspec.get("accessModes") or ()):
            continue
        if node_name and not _node_admits(volume, node):
            continue
        fitting.append((size, volume["metadata"]["name"], volume))
    return min(fitting, key=lambda item: item[:2])[2] if fitting else None


def claim_ref(claim):
    meta = claim["metadata"]
    return {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": meta.get("namespace", ""), "name": meta["name"],
            "uid": meta.get("uid", ""), "resourceVersion": meta.get("resourceVersion", "")}


def volume_phase(volume, claims_by_uid):
    """The phase a volume should have: Available (no claimRef), Bound (its claim exists), Released (claim gone)."""
    ref = (volume.get("spec") or {}).get("claimRef")
    if not ref:
        return "Available"
    return "Bound" if ref.get("uid") in claims_by_uid else "Released"


def event_name(claim, reason):
    """A stable event name per claim and reason, so that each is written once (the real recorder counts repeats)."""
    return f"{claim['metadata']['name']}.{claim['metadata'].get('uid', '')[:8]}.{reason.lower()}"


def claim_event(claim, reason, message, now):
    meta = claim["metadata"]
    return {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": event_name(claim, reason), "namespace": meta.get("namespace", "")},
        "involvedObject": claim_ref(claim),
        "reason": reason, "message": message, "type": "Normal", "count": 1,
        "source": {"component": "persistentvolume-controller"},
        "reportingComponent": "persistentvolume-controller",
        "firstTimestamp": now, "lastTimestamp": now,
    }
