# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
"""Calico through the tigera operator: the release table, the manifests, and the operator's
``Installation`` and ``APIServer`` resources rendered from the collection's variables.

The Calico version is fixed by the operator release (an ``Installation`` has no
``spec.calicoVersion``; only its status reports one), so ``calico_version`` is mapped to the
operator release that ships it, through RELEASES.  A version missing there is refused rather
than guessed.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import ipaddress
import re

# Calico release -> the tigera operator release that installs it (from the operator's release
# notes, "Included Calico versions").  Every release here ships its CRDs in operator-crds.yaml and
# the operator in tigera-operator.yaml (the layout since Calico 3.30).
RELEASES = {
    '3.31.2': {'operator': '1.40.2'},
    '3.31.3': {'operator': '1.40.3'},
    '3.31.6': {'operator': '1.40.14'},
    '3.32.1': {'operator': '1.42.4'},
}
MANIFESTS = ('operator-crds.yaml', 'tigera-operator.yaml')
OPERATOR_IMAGE = 'quay.io/tigera/operator'

# calico_network_mode -> (calicoNetwork.bgp, the IP pools' encapsulation).
NETWORK_MODES = {
    'bgp': ('Enabled', 'None'),
    'ipip': ('Enabled', 'IPIP'),
    'ipip-crosssubnet': ('Enabled', 'IPIPCrossSubnet'),
    'vxlan': ('Disabled', 'VXLAN'),
    'vxlan-crosssubnet': ('Disabled', 'VXLANCrossSubnet'),
}
ENCAPSULATIONS = ('IPIP', 'IPIPCrossSubnet', 'VXLAN', 'VXLANCrossSubnet', 'None')
NAT_OUTGOING = ('Enabled', 'Disabled')
BGP = ('Enabled', 'Disabled')
LINUX_DATAPLANES = ('Iptables', 'Nftables', 'BPF', 'VPP')
POOL_KEYS = ('name', 'cidr', 'blockSize', 'encapsulation', 'natOutgoing', 'nodeSelector', 'disableBGPExport')
AUTODETECTION_KEYS = ('kubernetes', 'canReach', 'cidrs', 'firstFound', 'interface', 'skipInterface')
# Fields the seed's example sets that the operator's CRD does not have, with what to do instead.
NOT_FIELDS = {
    'calicoVersion': 'there is no spec.calicoVersion in the Installation CRD (only status.calicoVersion): '
                     'the operator release fixes the Calico version; set calico_version instead.',
}
_VERSION = re.compile(r'^v?(\d+\.\d+\.\d+)$')
_NAME = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')


class CalicoError(Exception):
    """A Calico setting the collection cannot render; the message names the variable."""


def calico_release(version):
    """The table entry of a Calico version, with its normalised version."""
    match = _VERSION.match(str(version or ''))
    if not match or match.group(1) not in RELEASES:
        raise CalicoError("calico_version %r is not in the collection's release table (%s); each Calico release is "
                          "installed by one tigera operator release, so only known pairs are used. Choose one of those."
                          % (version, ', '.join(sorted(RELEASES, key=_version_key))))
    release = dict(RELEASES[match.group(1)])
    release['calico'] = match.group(1)
    release['manifests'] = list(MANIFESTS)
    return release


def sources(version, base_url, standin_url=''):
    """The manifests' URLs, in preflight's source-check form."""
    release = calico_release(version)
    out = []
    for name in release['manifests']:
        source = {'stage': 'calico', 'variable': 'calico_manifest_base_url', 'name': name,
                  'url': base_url.rstrip('/') + '/' + name, 'standin_url': ''}
        if standin_url:
            source['standin_url'] = '%s/calico/v%s/manifests/%s' % (standin_url.rstrip('/'), release['calico'], name)
        out.append(source)
    return out


def _version_key(version):
    return tuple(int(x) for x in version.split('.'))


def _show(value):
    return "'%s'" % value if isinstance(value, str) else repr(value)


def _find_not_fields(value, path, out):
    if isinstance(value, dict):
        for key, item in value.items():
            if key in NOT_FIELDS:
                out.append('%s.%s: %s' % (path, key, NOT_FIELDS[key]))
            _find_not_fields(item, '%s.%s' % (path, key), out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _find_not_fields(item, '%s[%d]' % (path, index), out)


def _network(value, name):
    try:
        return ipaddress.ip_network(str(value), strict=True)
    except ValueError as exc:
        raise CalicoError('%s: %s is not a network address with a prefix length (%s).' % (name, _show(value), exc))


def problems(p):
    """Every reason the settings cannot be rendered, as messages naming the variable."""
    out = []
    try:
        calico_release(p.get('version'))
    except CalicoError as exc:
        out.append(str(exc))
    mode = p.get('network_mode')
    if mode not in NETWORK_MODES:
        out.append('calico_network_mode is %s; choose one of %s.' % (_show(mode), ', '.join(NETWORK_MODES)))
    pod_subnet = None
    try:
        pod_subnet = _network(p.get('pod_subnet'), 'kube_pod_subnet')
    except CalicoError as exc:
        out.append(str(exc))
    pools = p.get('ip_pools')
    if not isinstance(pools, list) or not pools:
        out.append('calico_ip_pools must be a list of at least one pool (an empty cidr means kube_pod_subnet).')
        pools = []
    names = []
    for index, pool in enumerate(pools):
        where = 'calico_ip_pools[%d]' % index
        if not isinstance(pool, dict):
            out.append('%s is %s; each pool is a mapping such as {cidr: 10.244.0.0/16}.' % (where, _show(pool)))
            continue
        unknown = sorted(set(pool) - set(POOL_KEYS))
        if unknown:
            out.append('%s has %s, which the Installation CRD does not know (a pool has %s).'
                       % (where, ', '.join(unknown), ', '.join(POOL_KEYS)))
        cidr = pool.get('cidr') or (str(pod_subnet) if pod_subnet and index == 0 else None)
        if not cidr:
            out.append('%s has no cidr; only the first pool defaults to kube_pod_subnet.' % where)
        else:
            try:
                network = _network(cidr, where + '.cidr')
                if pod_subnet and network.version == pod_subnet.version and not network.subnet_of(pod_subnet):
                    out.append('%s.cidr %s is outside kube_pod_subnet %s; the operator refuses pools outside the pod '
                               'network kubeadm was given.' % (where, cidr, pod_subnet))
                size = pool.get('blockSize')
                if size is not None:
                    low, high = (20, 32) if network.version == 4 else (116, 128)
                    if isinstance(size, bool) or not isinstance(size, int) or not low <= size <= high:
                        out.append('%s.blockSize is %s; it must be an integer from %d to %d.' % (where, _show(size), low, high))
                    elif size < network.prefixlen:
                        out.append('%s.blockSize %d is larger than the pool (%s).' % (where, size, cidr))
            except CalicoError as exc:
                out.append(str(exc))
        if pool.get('encapsulation') is not None and pool['encapsulation'] not in ENCAPSULATIONS:
            out.append('%s.encapsulation is %s; choose one of %s.' % (where, _show(pool['encapsulation']), ', '.join(ENCAPSULATIONS)))
        if pool.get('natOutgoing') is not None and pool['natOutgoing'] not in NAT_OUTGOING:
            out.append('%s.natOutgoing is %s; choose Enabled or Disabled.' % (where, _show(pool['natOutgoing'])))
        if pool.get('nodeSelector') is not None and not isinstance(pool['nodeSelector'], str):
            out.append("%s.nodeSelector is %s; it is a Calico selector string such as \"all()\"." % (where, _show(pool['nodeSelector'])))
        name = pool.get('name', _pool_name(index))
        if not isinstance(name, str) or not _NAME.match(name):
            out.append('%s.name is %s; a pool name is a DNS label (lower-case letters, digits, -).' % (where, _show(name)))
        names.append(name)
    for name in sorted(set(n for n in names if names.count(n) > 1)):
        out.append('calico_ip_pools names the pool %s more than once.' % _show(name))
    bgp = p.get('bgp')
    if bgp not in (None, '') and bgp not in BGP:
        out.append('calico_bgp is %s; choose Enabled or Disabled (empty: what calico_network_mode implies).' % _show(bgp))
    if mode in NETWORK_MODES and (bgp or NETWORK_MODES[mode][0]) == 'Disabled':
        for index, pool in enumerate(pools):
            encapsulation = (pool.get('encapsulation') if isinstance(pool, dict) else None) or NETWORK_MODES[mode][1]
            if encapsulation in ('IPIP', 'IPIPCrossSubnet', 'None'):
                out.append('calico_ip_pools[%d] uses %s encapsulation with BGP disabled; IP-in-IP and unencapsulated pools need '
                           'BGP routes (the operator refuses this): use a vxlan mode, or calico_bgp Enabled.' % (index, encapsulation))
    mtu = p.get('mtu')
    if mtu not in (None, 0) and (isinstance(mtu, bool) or not isinstance(mtu, int) or not 576 <= mtu <= 9000):
        out.append('calico_mtu is %s; 0 lets Calico detect it, otherwise give an MTU from 576 to 9000.' % _show(mtu))
    if p.get('linux_dataplane') not in LINUX_DATAPLANES:
        out.append('calico_linux_dataplane is %s; choose one of %s.' % (_show(p.get('linux_dataplane')), ', '.join(LINUX_DATAPLANES)))
    registry = p.get('registry') or ''
    if not isinstance(registry, str) or (registry and not registry.endswith('/')):
        out.append("calico_registry is %s; the operator needs a registry that ends in '/' (for example "
                   "mirror.example.com/), or empty for the default registries." % _show(registry))
    auto = p.get('node_address_autodetection_v4')
    if not isinstance(auto, dict) or len(auto) != 1 or set(auto) - set(AUTODETECTION_KEYS):
        out.append('calico_node_address_autodetection_v4 is %s; give exactly one method of %s, for example '
                   '{kubernetes: NodeInternalIP}.' % (_show(auto), ', '.join(AUTODETECTION_KEYS)))
    extra = p.get('installation_spec') or {}
    if not isinstance(extra, dict):
        out.append('calico_installation_spec is %s; it is a mapping of Installation spec fields.' % _show(extra))
    else:
        found = []
        _find_not_fields(extra, 'calico_installation_spec', found)
        out.extend(found)
    return out


def _pool_name(index):
    return 'default-ipv4-ippool' if index == 0 else 'ipv4-ippool-%d' % index


def _merge(base, extra):
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def installation(p):
    """The ``Installation`` named ``default``.  Raises CalicoError listing every problem."""
    found = problems(p)
    if found:
        raise CalicoError(' '.join(found))
    bgp, encapsulation = NETWORK_MODES[p['network_mode']]
    pools = []
    for index, pool in enumerate(p['ip_pools']):
        rendered = {
            'name': pool.get('name', _pool_name(index)),
            'cidr': pool.get('cidr') or str(ipaddress.ip_network(str(p['pod_subnet']))),
            'blockSize': pool.get('blockSize', 26),
            'encapsulation': pool.get('encapsulation', encapsulation),
            'natOutgoing': pool.get('natOutgoing', 'Enabled'),
            'nodeSelector': pool.get('nodeSelector', 'all()'),
        }
        if 'disableBGPExport' in pool:
            rendered['disableBGPExport'] = bool(pool['disableBGPExport'])
        pools.append(rendered)
    network = {
        'bgp': p.get('bgp') or bgp,
        'linuxDataplane': p['linux_dataplane'],
        'ipPools': pools,
        'nodeAddressAutodetectionV4': dict(p['node_address_autodetection_v4']),
    }
    if p.get('mtu'):
        network['mtu'] = p['mtu']
    spec = {'variant': 'Calico', 'calicoNetwork': network}
    if p.get('registry'):
        spec['registry'] = p['registry']
    if p.get('flex_volume_path'):
        spec['flexVolumePath'] = p['flex_volume_path']
    spec = _merge(spec, p.get('installation_spec') or {})
    return {'apiVersion': 'operator.tigera.io/v1', 'kind': 'Installation', 'metadata': {'name': 'default'}, 'spec': spec}


def apiserver():
    """The ``APIServer`` named ``default`` (Calico's own API server, for projectcalico.org/v3 through kubectl)."""
    return {'apiVersion': 'operator.tigera.io/v1', 'kind': 'APIServer', 'metadata': {'name': 'default'}, 'spec': {}}


def manifest_objects(documents, registry=''):
    """The objects of the operator's manifests, in order, with the operator's image under ``registry``.

    ``documents`` is a list of parsed YAML documents (None for empty ones).  Only the operator
    Deployment's images are rewritten: the operator itself pulls Calico's images from the
    Installation's ``spec.registry``.
    """
    out = []
    for doc in documents:
        if not doc:
            continue
        if not isinstance(doc, dict) or not doc.get('apiVersion') or not doc.get('kind'):
            raise CalicoError('the operator manifest holds a document that is not a Kubernetes object: %s' % _show(str(doc)[:80]))
        doc = copy.deepcopy(doc)
        if registry and doc['kind'] == 'Deployment':
            for container in doc.get('spec', {}).get('template', {}).get('spec', {}).get('containers', []) or []:
                container['image'] = mirror_image(container.get('image', ''), registry)
        out.append(doc)
    return out


def split_by_namespace(objects, namespaces):
    """(objects that can be sent now, objects in a namespace that does not exist yet).

    A server-side dry run of an object in a namespace that is not there yet fails, although the
    real apply would create the namespace first; check mode reports those objects instead.
    """
    ready, pending = [], []
    present = set(namespaces or [])
    created = set(o['metadata']['name'] for o in objects if o.get('kind') == 'Namespace' and o.get('apiVersion') == 'v1')
    for obj in objects:
        namespace = (obj.get('metadata') or {}).get('namespace')
        if namespace and namespace not in present and namespace in created:
            pending.append(obj)
        else:
            ready.append(obj)
    return ready, pending


def mirror_image(image, registry):
    """``image`` pulled from ``registry`` (which ends in '/'): the registry host of the image is replaced."""
    first, _sep, rest = image.partition('/')
    if rest and ('.' in first or ':' in first or first == 'localhost'):
        image = rest
    return registry + image
