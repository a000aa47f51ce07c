"""kube-apiserver STAND-IN: the `pods/log` subresource, proxied to the kubelet as the real server does.

GET /api/v1/namespaces/<ns>/pods/<name>/log checks what the real registry checks (pkg/registry/core/pod: the pod
exists, else 404; `container` is required when the pod has several containers, and must be one of them, else 400
with the real messages), then asks the pod's node's kubelet (`/containerLogs/<ns>/<name>/<container>` on the
Node's `daemonEndpoints.kubeletEndpoint.Port`, at the first address of `--kubelet-preferred-address-types`) with
`--kubelet-client-certificate`/`--kubelet-client-key`, verifying the kubelet's certificate only when
`--kubelet-certificate-authority` is given (as the real server).  A kubelet error becomes a Status with its code and
its text as the message (400 -> BadRequest), as the real server's response checker does.  `follow` and
`insecureSkipTLSVerifyBackend` are not implemented by the stand-in (501).  Which logs exist is the kubelet
stand-in's business: see lab/standin/kubelet_crashloop.py (no container runs in the lab)."""

import http.client
import ssl
import urllib.parse

from .store import ApiError

PASSED = ("container", "previous", "tailLines", "timestamps", "sinceSeconds", "sinceTime", "limitBytes")
REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 500: "InternalError",
           501: "NotImplemented", 503: "ServiceUnavailable"}
DEFAULT_ADDRESS_TYPES = ["Hostname", "InternalDNS", "InternalIP", "ExternalDNS", "ExternalIP"]


def pick_container(pod, requested):
    """The container name to read, or ApiError 400 with the real server's message."""
    name = pod["metadata"]["name"]
    spec = pod.get("spec") or {}
    names = [c.get("name") for c in spec.get("containers") or []]
    init = [c.get("name") for c in spec.get("initContainers") or []]
    ephemeral = [c.get("name") for c in spec.get("ephemeralContainers") or []]
    if not requested:
        if len(names) == 1:
            return names[0]
        message = f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]"
        if init:
            message += f" or one of the init containers: [{' '.join(init)}]"
        if ephemeral:
            message += f" or one of the ephemeral containers: [{' '.join(ephemeral)}]"
        raise ApiError(400, "BadRequest", message)
    if requested not in names + init + ephemeral:
        raise ApiError(400, "BadRequest", f"container {requested} is not valid for pod {name}")
    return requested


def kubelet_address(node, preferred):
    addresses = (node.get("status") or {}).get("addresses") or []
    for kind in preferred or DEFAULT_ADDRESS_TYPES:
        for address in addresses:
            if address.get("type") == kind and address.get("address"):
                return address["address"]
    raise ApiError(500, "InternalError", f"no preferred addresses found; known addresses: {addresses}")


def validate_query(query):
    for key in ("tailLines", "limitBytes", "sinceSeconds"):
        if key in query:
            value = query[key][-1]
            if not value.lstrip("-").isdigit():
                raise ApiError(400, "BadRequest", f'strconv.ParseInt: parsing "{value}": invalid syntax')
            if int(value) < (0 if key == "tailLines" else 1):
                kind = "tailLines" if key == "tailLines" else key
                raise ApiError(422, "Invalid", f'PodLogOptions "" is invalid: {kind}: Invalid value: {value}: '
                                               f'{"must be greater than or equal to 0" if key == "tailLines" else "must be greater than 0"}')
    for key in ("follow", "insecureSkipTLSVerifyBackend"):
        if query.get(key, ["false"])[-1] in ("true", "1"):
            raise ApiError(501, "NotImplemented", f"pods/log with {key}=true is not implemented by the stand-in")


def fetch(options, node, namespace, name, container, query, timeout=10):
    """(code, bytes) from the kubelet."""
    host = kubelet_address(node, options.get("kubelet_preferred_address_types"))
    port = int((((node.get("status") or {}).get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or 10250)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if options.get("kubelet_certificate_authority"):
        context.load_verify_locations(options["kubelet_certificate_authority"])
    else:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if options.get("kubelet_client_certificate") and options.get("kubelet_client_key"):
        context.load_cert_chain(options["kubelet_client_certificate"], options["kubelet_client_key"])
    params = [(k, query[k][-1]) for k in PASSED if k in query and k != "container"]
    path = (f"/containerLogs/{urllib.parse.quote(namespace)}/{urllib.parse.quote(name)}/{urllib.parse.quote(container)}"
            + ("?" + urllib.parse.urlencode(params) if params else ""))
    try:
        conn = http.client.HTTPSConnection(host, port, context=context, timeout=timeout)
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        conn.close()
    except (OSError, ssl.SSLError) as err:
        raise ApiError(500, "InternalError", f'Get "https://{host}:{port}{path}": {err}') from err
    return response.status, body


def pod_log(store, pods_res, nodes_res, options, namespace, name, query):
    """The log text, or ApiError as the real server answers."""
    pod = store.must_read(pods_res, namespace, name)
    container = pick_container(pod, query.get("container", [""])[-1])
    validate_query(query)
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        return b""  # the real server returns an empty body for a pod without a host
    node = store.read(nodes_res, None, node_name)
    if node is None:
        raise ApiError(404, "NotFound", f'nodes "{node_name}" not found', {"name": node_name, "kind": "nodes"})
    code, body = fetch(options, node, namespace, name, container, query)
    if 200 <= code < 300:
        return body
    message = body.decode("utf-8", "replace").strip()
    raise ApiError(code, REASONS.get(code, ""), message)
