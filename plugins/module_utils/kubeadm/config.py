# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# kubeadm's kubeadm.k8s.io/v1beta4 configuration files, rendered from a flat dict
# of parameters.  Pure functions: a dict in, dicts or YAML text out; every
# parameter is validated first and a KubeadmConfigError names the parameter.
# Messages never carry the bootstrap token or the certificate key.

import ipaddress
import re

KUBEADM_API = 'kubeadm.k8s.io/v1beta4'
KUBELET_API = 'kubelet.config.k8s.io/v1beta1'
KUBE_PROXY_API = 'kubeproxy.config.k8s.io/v1alpha1'
HEADER = '# Rendered by ironstone.k8s (control_plane role); do not edit: the next run rewrites it.\n'
TAINT_EFFECTS = ('NoSchedule', 'PreferNoSchedule', 'NoExecute')
REDACTED = '<redacted>'
# A certificate key on a line of its own (64 hex digits, perhaps quoted or indented).
_BARE_KEY_LINE_RE = re.compile(r'(?m)^(\W*)[0-9a-f]{64}(?=\W*$)')

DNS1123_LABEL = r'[a-z0-9]([-a-z0-9]*[a-z0-9])?'
DNS1123_SUBDOMAIN_RE = re.compile(r'^%s(\.%s)*$' % (DNS1123_LABEL, DNS1123_LABEL))
WILDCARD_DNS_RE = re.compile(r'^\*\.%s(\.%s)*$' % (DNS1123_LABEL, DNS1123_LABEL))
QUALIFIED_NAME_RE = re.compile(r'^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$')
LABEL_VALUE_RE = re.compile(r'^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$')
TOKEN_RE = re.compile(r'^[a-z0-9]{6}\.[a-z0-9]{16}$')
CA_HASH_RE = re.compile(r'^sha256:[0-9a-fA-F]{64}$')
CERT_KEY_RE = re.compile(r'^[0-9a-fA-F]{64}$')
VERSION_RE = re.compile(r'^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$')
ARG_NAME_RE = re.compile(r'^[A-Za-z0-9][-A-Za-z0-9_.]*$')

# for redact(): tokens anywhere, certificate keys after their field or flag
_TOKEN_ANYWHERE_RE = re.compile(r'(?<![a-z0-9])[a-z0-9]{6}\.[a-z0-9]{16}(?![a-z0-9])')
_CERT_KEY_AFTER_RE = re.compile(
    r'''((?:certificateKey|certificate-key)["']?\s*[:=]?\s*["']?)[0-9a-fA-F]{64}(?![0-9a-fA-F])''')


class KubeadmConfigError(ValueError):
    """A parameter is missing or malformed; ``str(error)`` names it (never a secret's value)."""

    def __init__(self, message):
        super(KubeadmConfigError, self).__init__(message)
        self.message = message

    def __str__(self):
        return self.message


def _fail(name, message):
    raise KubeadmConfigError('kubeadm configuration parameter %s: %s' % (name, message))


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


# --------------------------------------------------------------------------
# Checks of single values (each returns the normalized value or raises)
# --------------------------------------------------------------------------
def _string(name, value):
    if not isinstance(value, str) or not value:
        _fail(name, 'must be a non-empty string, got %r' % (value,))
    return value


def _dns_subdomain(name, value):
    _string(name, value)
    if len(value) > 253 or not DNS1123_SUBDOMAIN_RE.match(value):
        _fail(name, '%r is not a DNS-1123 subdomain (lower-case letters, digits, "-" and ".", starting and ending '
                    'with a letter or digit, at most 253 characters)' % (value,))
    return value


def _ip(name, value):
    _string(name, value)
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        _fail(name, '%r is not an IPv4 or IPv6 address' % (value,))


def _port(name, value):
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not _is_int(value) or not 0 < value < 65536:
        _fail(name, '%r is not a port number (1-65535)' % (value,))
    return value


def _host_port(name, value):
    """"host:port" with host a DNS name, an IPv4 address or [IPv6]."""
    _string(name, value)
    match = re.match(r'^\[([^\]]+)\]:([0-9]+)$', value) or re.match(r'^([^:\[\]]+):([0-9]+)$', value)
    if not match:
        _fail(name, '%r is not of the form host:port (an IPv6 address in brackets: [fd00::1]:6443)' % (value,))
    host, port = match.group(1), match.group(2)
    if value.startswith('['):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            _fail(name, '%r: %r is not an IPv6 address' % (value, host))
    else:
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            if len(host) > 253 or not DNS1123_SUBDOMAIN_RE.match(host):
                _fail(name, '%r: %r is neither an IPv4 address nor a DNS-1123 subdomain' % (value, host))
    if not 0 < int(port) < 65536:
        _fail(name, '%r: %s is not a port number (1-65535)' % (value, port))
    return value


def _cidrs(name, value):
    """One CIDR or a dual-stack pair "v4,v6" -> list of ip_network."""
    _string(name, value)
    nets = []
    for part in value.split(','):
        try:
            nets.append(ipaddress.ip_network(part.strip(), strict=True))
        except ValueError as exc:
            _fail(name, '%r is not a CIDR (or a comma-separated IPv4,IPv6 pair): %s' % (value, exc))
    if len(nets) > 2 or (len(nets) == 2 and nets[0].version == nets[1].version):
        _fail(name, '%r: at most one IPv4 and one IPv6 CIDR' % (value,))
    return nets


def _abs_path(name, value):
    _string(name, value)
    if not value.startswith('/'):
        _fail(name, '%r is not an absolute path' % (value,))
    return value


def _bool(name, value):
    if not isinstance(value, bool):
        _fail(name, 'must be true or false, got %r' % (value,))
    return value


def _string_list(name, value):
    if not isinstance(value, (list, tuple)):
        _fail(name, 'must be a list of strings, got %r' % (value,))
    for item in value:
        if not isinstance(item, str) or not item:
            _fail(name, 'must be a list of non-empty strings, got the item %r' % (item,))
    return list(value)


def _mapping(name, value):
    if not isinstance(value, dict):
        _fail(name, 'must be a mapping, got %r' % (value,))
    for key in value:
        if not isinstance(key, str) or not key:
            _fail(name, 'the keys must be non-empty strings, got %r' % (key,))
    return value


def _label_key_problem(key):
    """The reason ``key`` is not a qualified name (label or taint key), or None."""
    if not isinstance(key, str) or not key:
        return 'must be a non-empty string'
    prefix, sep, rest = key.rpartition('/')
    if sep:
        if '/' in prefix:
            return 'has more than one "/"'
        if not prefix or len(prefix) > 253 or not DNS1123_SUBDOMAIN_RE.match(prefix):
            return 'the prefix %r is not a DNS-1123 subdomain of at most 253 characters' % (prefix,)
    if len(rest) > 63 or not QUALIFIED_NAME_RE.match(rest):
        return ('the name %r must be at most 63 characters of letters, digits, "-", "_" and ".", '
                'starting and ending with a letter or digit' % (rest,))
    return None


def _label_value_problem(value):
    if not isinstance(value, str):
        return 'must be a string'
    if len(value) > 63 or not LABEL_VALUE_RE.match(value):
        return ('must be empty or at most 63 characters of letters, digits, "-", "_" and ".", '
                'starting and ending with a letter or digit')
    return None


def _taints(name, value):
    """None (omit the field) or a list of {key, value?, effect} -> rendered list."""
    if value is None:
        return None
    if not isinstance(value, (list, tuple)):
        _fail(name, 'must be a list of {key, value, effect} (or null for kubeadm\'s default), got %r' % (value,))
    out, seen = [], set()
    for index, taint in enumerate(value):
        where = '%s[%d]' % (name, index)
        if not isinstance(taint, dict):
            _fail(where, 'must be a mapping {key, value, effect}, got %r' % (taint,))
        unknown = sorted(str(k) for k in taint if k not in ('key', 'value', 'effect'))
        if unknown:
            _fail(where, 'unknown field(s) %s (known: key, value, effect)' % ', '.join(unknown))
        key, tvalue, effect = taint.get('key'), taint.get('value'), taint.get('effect')
        problem = _label_key_problem(key)
        if problem:
            _fail(where, 'key %r: %s' % (key, problem))
        if tvalue is not None:
            problem = _label_value_problem(tvalue)
            if problem:
                _fail(where, 'value %r: %s' % (tvalue, problem))
        if effect not in TAINT_EFFECTS:
            _fail(where, 'effect %r is not one of %s' % (effect, ', '.join(TAINT_EFFECTS)))
        if (key, effect) in seen:
            _fail(where, 'the taint %s:%s is given twice' % (key, effect))
        seen.add((key, effect))
        item = {'key': key}
        if tvalue:
            item['value'] = tvalue
        item['effect'] = effect
        out.append(item)
    return out


def _extra_args(name, value):
    """dict flag -> value -> v1beta4's list of {name, value}, sorted by name."""
    _mapping(name, value)
    out = []
    for key in sorted(value):
        if not ARG_NAME_RE.match(key):
            _fail(name, 'the flag name %r must be given without leading "--" (letters, digits, "-", "_", ".")' % (key,))
        item = value[key]
        if _is_int(item):
            item = str(item)
        if not isinstance(item, str):
            _fail(name, 'the value of %s must be a string (quote true/false and lists), got %r' % (key, item))
        out.append({'name': key, 'value': item})
    return out


def _check_keys(kind, p, required, optional):
    if not isinstance(p, dict):
        raise KubeadmConfigError('kubeadm %s parameters must be a mapping, got %s' % (kind, type(p).__name__))
    unknown = sorted(str(k) for k in p if k not in required and k not in optional)
    if unknown:
        raise KubeadmConfigError('kubeadm %s parameters: unknown parameter(s) %s (known: %s)'
                                 % (kind, ', '.join(unknown), ', '.join(sorted(list(required) + list(optional)))))
    missing = [k for k in required if p.get(k) is None]
    if missing:
        raise KubeadmConfigError('kubeadm %s parameters: missing parameter(s) %s' % (kind, ', '.join(missing)))
    out = dict(optional)
    out.update((k, v) for k, v in p.items() if v is not None or k == 'node_taints')
    return out


def _node_ip_args(name, extra_args, node_ip):
    """kubeletExtraArgs with node-ip: given node-ip must name ``node_ip`` (dual-stack: "v4,v6")."""
    args = _extra_args(name, extra_args)
    for arg in args:
        if arg['name'] == 'node-ip':
            given = [part.strip() for part in arg['value'].split(',')]
            normalized = []
            for part in given:
                try:
                    normalized.append(str(ipaddress.ip_address(part)))
                except ValueError:
                    _fail(name, 'node-ip %r is not a comma-separated list of IP addresses' % (arg['value'],))
            if node_ip not in normalized:
                _fail(name, 'node-ip %r does not include the node address %s' % (arg['value'], node_ip))
            return args
    args.append({'name': 'node-ip', 'value': node_ip})
    return sorted(args, key=lambda a: a['name'])


def _node_registration(name, cri_socket, kubelet_args, taints, ignore=None):
    nro = {'name': name, 'criSocket': cri_socket}
    if taints is not None:
        nro['taints'] = taints
    nro['kubeletExtraArgs'] = kubelet_args
    if ignore:
        nro['ignorePreflightErrors'] = ignore
    return nro


def _preflight_errors(name, value):
    """kubeadm preflight check names to ignore (such as Port-6443); 'all' is refused."""
    names = _string_list(name, value)
    for check in names:
        if check.lower() == 'all':
            _fail(name, "'all' would hide every preflight check; name the checks to ignore")
        if not re.match(r'^[A-Za-z0-9][A-Za-z0-9._/-]*$', check):
            _fail(name, '%r is not a kubeadm preflight check name (such as Port-6443)' % (check,))
    return sorted(set(names))


def _cri_socket(name, value):
    _string(name, value)
    if not value.startswith('unix:///') or len(value) <= len('unix:///'):
        _fail(name, '%r must be a unix:// URL with an absolute path (unix:///run/containerd/containerd.sock)'
              % (value,))
    return value


def _component_config(name, value, api):
    _mapping(name, value)
    for key in ('apiVersion', 'kind'):
        if key in value:
            _fail(name, 'must not set %s (it is %s)' % (key, api))
    return value


# --------------------------------------------------------------------------
# kubeadm init
# --------------------------------------------------------------------------
# The cluster's KubeletConfiguration before kubelet_configuration is merged over it: the systemd
# cgroup driver (containerd is configured for it), and serverTLSBootstrap, so that each kubelet asks
# for a serving certificate signed by the cluster CA (a kubernetes.io/kubelet-serving
# CertificateSigningRequest, approved by the monitoring stage's kubelet_serving_csr) instead of
# serving with a self-signed one; metrics-server can then verify the kubelets without
# --kubelet-insecure-tls. kubeadm init uploads this document to the kube-system/kubelet-config
# ConfigMap, and every kubeadm join writes it to the joining node's /var/lib/kubelet/config.yaml.
KUBELET_DEFAULTS = {'apiVersion': KUBELET_API, 'kind': 'KubeletConfiguration', 'cgroupDriver': 'systemd',
                    'serverTLSBootstrap': True}
INIT_REQUIRED = ('node_name', 'advertise_address', 'cri_socket', 'kubernetes_version', 'control_plane_endpoint',
                 'pod_subnet', 'service_subnet', 'etcd_endpoints', 'etcd_ca_file', 'etcd_cert_file', 'etcd_key_file')
INIT_OPTIONAL = {
    'bind_port': 6443, 'cluster_name': 'kubernetes', 'dns_domain': 'cluster.local', 'cert_sans': [],
    'node_taints': None, 'kubelet_extra_args': {}, 'apiserver_extra_args': {}, 'controller_manager_extra_args': {},
    'scheduler_extra_args': {}, 'image_repository': '', 'kubelet_configuration': {},
    'kube_proxy_configuration': {}, 'skip_phases': [], 'upload_certs': False, 'ignore_preflight_errors': [],
    'patches_dir': '',
}


def kubernetes_version(value, name='kubernetes_version'):
    """"1.32.3" or "v1.32.3" -> "v1.32.3"."""
    if not isinstance(value, str) or not VERSION_RE.match(value.strip()):
        _fail(name, '%r is not a release version such as 1.32.3' % (value,))
    return 'v' + value.strip().lstrip('v')


def _etcd_endpoint(name, url):
    match = re.match(r'^https://(\[[^\]]+\]|[^:/\[\]]+):([0-9]+)/?$', url) if isinstance(url, str) else None
    if not match:
        _fail(name, '%r is not an https://host:port URL' % (url,))
    host = match.group(1)
    if host.startswith('['):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            _fail(name, '%r: %s is not an IPv6 address' % (url, host))
    else:
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            if not DNS1123_SUBDOMAIN_RE.match(host):
                _fail(name, '%r: %r is neither an IPv4 address nor a DNS-1123 subdomain' % (url, host))
    if not 0 < int(match.group(2)) < 65536:
        _fail(name, '%r: %s is not a port number (1-65535)' % (url, match.group(2)))
    return url


def _cert_sans(name, value):
    sans = _string_list(name, value)
    for san in sans:
        try:
            ipaddress.ip_address(san)
            continue
        except ValueError:
            pass
        if len(san) > 253 or not (DNS1123_SUBDOMAIN_RE.match(san) or WILDCARD_DNS_RE.match(san)):
            _fail(name, '%r is neither an IP address nor a DNS name' % (san,))
    return sorted(set(sans))


def init_documents(p):
    """[InitConfiguration, ClusterConfiguration, KubeletConfiguration, KubeProxyConfiguration] of ``p``."""
    p = _check_keys('init', p, INIT_REQUIRED, INIT_OPTIONAL)
    node_name = _dns_subdomain('node_name', p['node_name'])
    address = _ip('advertise_address', p['advertise_address'])
    bind_port = _port('bind_port', p['bind_port'])
    cri_socket = _cri_socket('cri_socket', p['cri_socket'])
    version = kubernetes_version(p['kubernetes_version'])
    cluster_name = _dns_subdomain('cluster_name', p['cluster_name'])
    endpoint = _host_port('control_plane_endpoint', p['control_plane_endpoint'])
    pods = _cidrs('pod_subnet', p['pod_subnet'])
    services = _cidrs('service_subnet', p['service_subnet'])
    for pod_net in pods:
        for service_net in services:
            if pod_net.version == service_net.version and pod_net.overlaps(service_net):
                _fail('service_subnet', '%s overlaps pod_subnet %s' % (service_net, pod_net))
    dns_domain = _dns_subdomain('dns_domain', p['dns_domain'])
    cert_sans = _cert_sans('cert_sans', p['cert_sans'])
    endpoints = p['etcd_endpoints']
    if not isinstance(endpoints, (list, tuple)) or not endpoints:
        _fail('etcd_endpoints', 'must be a non-empty list of https://host:port URLs, got %r' % (endpoints,))
    endpoints = [_etcd_endpoint('etcd_endpoints', url) for url in endpoints]
    if len(set(endpoints)) != len(endpoints):
        _fail('etcd_endpoints', 'lists an endpoint twice: %r' % (endpoints,))
    etcd_files = dict((key, _abs_path(name, p[name])) for key, name in (
        ('caFile', 'etcd_ca_file'), ('certFile', 'etcd_cert_file'), ('keyFile', 'etcd_key_file')))
    taints = _taints('node_taints', p['node_taints'])
    kubelet_args = _node_ip_args('kubelet_extra_args', p['kubelet_extra_args'], address)
    component_args = dict((name, _extra_args(name, p[name])) for name in (
        'apiserver_extra_args', 'controller_manager_extra_args', 'scheduler_extra_args'))
    image_repository = p['image_repository']
    if not isinstance(image_repository, str):
        _fail('image_repository', 'must be a string, got %r' % (image_repository,))
    kubelet_cfg = _component_config('kubelet_configuration', p['kubelet_configuration'], KUBELET_API)
    if kubelet_cfg.get('cgroupDriver', 'systemd') != 'systemd':
        _fail('kubelet_configuration', 'cgroupDriver %r: the collection configures containerd for the systemd '
                                       'cgroup driver; the kubelet must use it too' % (kubelet_cfg['cgroupDriver'],))
    if not isinstance(kubelet_cfg.get('serverTLSBootstrap', True), bool):
        _fail('kubelet_configuration', 'serverTLSBootstrap must be true or false, got %r' % (kubelet_cfg['serverTLSBootstrap'],))
    proxy_cfg = _component_config('kube_proxy_configuration', p['kube_proxy_configuration'], KUBE_PROXY_API)
    skip_phases = _string_list('skip_phases', p['skip_phases'])
    ignore = _preflight_errors('ignore_preflight_errors', p['ignore_preflight_errors'])
    _bool('upload_certs', p['upload_certs'])  # a flag of kubeadm init, not a field

    init = {
        'apiVersion': KUBEADM_API,
        'kind': 'InitConfiguration',
        'localAPIEndpoint': {'advertiseAddress': address, 'bindPort': bind_port},
        'nodeRegistration': _node_registration(node_name, cri_socket, kubelet_args, taints, ignore),
    }
    if skip_phases:
        init['skipPhases'] = skip_phases
    if p['patches_dir']:
        init['patches'] = {'directory': _abs_path('patches_dir', p['patches_dir'])}
    cluster = {
        'apiVersion': KUBEADM_API,
        'kind': 'ClusterConfiguration',
        'clusterName': cluster_name,
        'kubernetesVersion': version,
        'controlPlaneEndpoint': endpoint,
    }
    if image_repository:
        cluster['imageRepository'] = image_repository
    cluster['networking'] = {
        'podSubnet': ','.join(str(n) for n in pods),
        'serviceSubnet': ','.join(str(n) for n in services),
        'dnsDomain': dns_domain,
    }
    cluster['apiServer'] = {'certSANs': cert_sans}
    if component_args['apiserver_extra_args']:
        cluster['apiServer']['extraArgs'] = component_args['apiserver_extra_args']
    if component_args['controller_manager_extra_args']:
        cluster['controllerManager'] = {'extraArgs': component_args['controller_manager_extra_args']}
    if component_args['scheduler_extra_args']:
        cluster['scheduler'] = {'extraArgs': component_args['scheduler_extra_args']}
    external = {'endpoints': endpoints}
    external.update(etcd_files)
    cluster['etcd'] = {'external': external}
    kubelet = dict(KUBELET_DEFAULTS)
    kubelet.update(kubelet_cfg)
    proxy = {'apiVersion': KUBE_PROXY_API, 'kind': 'KubeProxyConfiguration'}
    proxy.update(proxy_cfg)
    return [init, cluster, kubelet, proxy]


# --------------------------------------------------------------------------
# kubeadm join
# --------------------------------------------------------------------------
JOIN_REQUIRED = ('node_name', 'node_address', 'cri_socket', 'api_server_endpoint', 'token', 'ca_cert_hashes')
JOIN_OPTIONAL = {
    'control_plane': False, 'certificate_key': None, 'advertise_address': None, 'bind_port': 6443,
    'node_taints': None, 'kubelet_extra_args': {}, 'ignore_preflight_errors': [], 'patches_dir': '',
}


def join_document(p):
    """The JoinConfiguration of ``p`` (a control-plane join when ``control_plane``)."""
    p = _check_keys('join', p, JOIN_REQUIRED, JOIN_OPTIONAL)
    node_name = _dns_subdomain('node_name', p['node_name'])
    node_address = _ip('node_address', p['node_address'])
    cri_socket = _cri_socket('cri_socket', p['cri_socket'])
    endpoint = _host_port('api_server_endpoint', p['api_server_endpoint'])
    token = p['token']
    if not isinstance(token, str) or not TOKEN_RE.match(token):
        _fail('token', 'the token is not of the form [a-z0-9]{6}.[a-z0-9]{16}')
    hashes = p['ca_cert_hashes']
    if isinstance(hashes, str):
        hashes = [hashes]
    if not isinstance(hashes, (list, tuple)) or not hashes:
        _fail('ca_cert_hashes', 'must be a non-empty list of sha256:<64 hex digits>, got %r' % (hashes,))
    for pin in hashes:
        if not isinstance(pin, str) or not CA_HASH_RE.match(pin):
            _fail('ca_cert_hashes', '%r is not of the form sha256:<64 hex digits>' % (pin,))
    unique_hashes = []
    for pin in hashes:
        if pin not in unique_hashes:
            unique_hashes.append(pin)
    control_plane = _bool('control_plane', p['control_plane'])
    key = p['certificate_key']
    if control_plane:
        if key is None:
            _fail('certificate_key', 'is required to join a control-plane node (control_plane is true)')
        if not isinstance(key, str) or not CERT_KEY_RE.match(key):
            _fail('certificate_key', 'the certificate key is not 64 hexadecimal digits')
    elif key is not None:
        _fail('certificate_key', 'is only for a control-plane join (control_plane is false); '
                                 'a worker must not receive it')
    # validated on workers too, rendered for control-plane nodes only
    advertise = _ip('advertise_address', p['advertise_address']) if p['advertise_address'] is not None else None
    bind_port = _port('bind_port', p['bind_port'])
    taints = _taints('node_taints', p['node_taints'])
    kubelet_args = _node_ip_args('kubelet_extra_args', p['kubelet_extra_args'], node_address)
    ignore = _preflight_errors('ignore_preflight_errors', p['ignore_preflight_errors'])

    doc = {
        'apiVersion': KUBEADM_API,
        'kind': 'JoinConfiguration',
        'nodeRegistration': _node_registration(node_name, cri_socket, kubelet_args, taints, ignore),
        'discovery': {'bootstrapToken': {
            'token': token, 'apiServerEndpoint': endpoint, 'caCertHashes': unique_hashes}},
    }
    if p['patches_dir']:
        doc['patches'] = {'directory': _abs_path('patches_dir', p['patches_dir'])}
    if control_plane:
        doc['controlPlane'] = {
            'localAPIEndpoint': {'advertiseAddress': advertise or node_address, 'bindPort': bind_port},
            'certificateKey': key,
        }
    return doc


# --------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------
def _plain(value):
    """``value`` with only plain dict, list, str, int, float, bool and None, which yaml.safe_dump represents.

    Ansible hands filters str/dict/list subclasses (unsafe or tagged values);
    safe_dump refuses those.
    """
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bytes):
        return value.decode('utf-8')
    if isinstance(value, dict) or hasattr(value, 'items'):
        return dict((_plain(k), _plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    raise KubeadmConfigError('a %s value cannot be written to a kubeadm configuration file' % type(value).__name__)


def dump(docs):
    """YAML text of one document or a list of them: a header comment, then ``---`` before each."""
    import yaml  # PyYAML: on the controller; imported here so the checks work without it

    if isinstance(docs, dict):
        docs = [docs]
    parts = [HEADER]
    for doc in docs:
        parts.append('---\n')
        parts.append(yaml.safe_dump(_plain(doc), sort_keys=False, default_flow_style=False, width=4096))
    return ''.join(parts)


def redact(text):
    """``text`` with bootstrap tokens and certificate keys replaced by <redacted>."""
    if text is None:
        return ''
    text = str(text)
    text = _CERT_KEY_AFTER_RE.sub(lambda m: m.group(1) + REDACTED, text)
    # kubeadm init --upload-certs prints the key alone on the line after "Using certificate key:".
    text = _BARE_KEY_LINE_RE.sub(lambda m: m.group(1) + REDACTED, text)
    return _TOKEN_ANYWHERE_RE.sub(REDACTED, text)
