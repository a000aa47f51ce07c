# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
"""The monitoring stage's Kubernetes objects, rendered from the collection's variables.

- metrics-server (the seed's resource metrics for the HorizontalPodAutoscaler and ``kubectl top``): the
  objects of the release's ``components.yaml`` (ServiceAccount, the aggregated reader ClusterRole, its
  own ClusterRole and bindings, the RoleBinding to ``extension-apiserver-authentication-reader``, the
  Service, the Deployment and the APIService ``v1beta1.metrics.k8s.io``), written here field by field
  so that nothing is downloaded: the release pins only the image. The image comes from
  ``<registry>/metrics-server/metrics-server:v<version>`` so that a mirror can serve it.
- the seed's PodRestarts alert (§3.3) as a prometheus-operator ``PrometheusRule``.

Every problem is raised as MonitoringError naming the variable.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

# Releases whose components.yaml has the objects rendered here (the same for all of them).
RELEASES = ('0.8.0', '0.8.1')
IMAGE_PATH = 'metrics-server/metrics-server'
DEFAULT_REGISTRY = 'registry.k8s.io'
NAMESPACE = 'kube-system'
NAME = 'metrics-server'
LABELS = {'k8s-app': NAME}
APISERVICE = 'v1beta1.metrics.k8s.io'
# The Deployment's flags, as components.yaml has them; --kubelet-insecure-tls only on request.
ARGS = (
    '--cert-dir=/tmp',
    '--secure-port=10250',
    '--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname',
    '--kubelet-use-node-status-port',
    '--metric-resolution=15s',
)
INSECURE_TLS = '--kubelet-insecure-tls'

# The PodRestarts alert of the seed (§3.3); only the namespaces are a variable.
RULE_API = 'monitoring.coreos.com/v1'
RULE_CRD = 'prometheusrules.monitoring.coreos.com'
RULE_NAME = 'ironstone-pod-restarts'
RULE_GROUP = 'pod.rules'
ALERT = 'PodRestarts'
RULE_SUMMARY = 'Pod {{ $labels.pod }} in namespace {{ $labels.namespace }} restarted {{ $value }} times in last hour'
MANAGED_BY = {'app.kubernetes.io/managed-by': 'ironstone'}

_VERSION = re.compile(r'^v?(\d+\.\d+\.\d+)$')
# A registry host (with an optional port) and optional path, no scheme, no tag.
_REGISTRY = re.compile(r'^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?(/[a-z0-9]+([._-][a-z0-9]+)*)*$')
_DNS_LABEL = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')
_LABEL_NAME = re.compile(r'^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$')
_DNS_SUBDOMAIN = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')


class MonitoringError(Exception):
    """A setting the monitoring stage cannot render; the message names the variable."""


def _show(value):
    return "'%s'" % value if isinstance(value, str) else repr(value)


def release(version):
    """The normalised version ('0.8.1') of a release in RELEASES, or MonitoringError."""
    match = _VERSION.match(str(version or ''))
    if not match or match.group(1) not in RELEASES:
        raise MonitoringError("metrics_server_version %s is not one of the releases the collection renders (%s); their "
                              "objects are written out in plugins/module_utils/metrics_server.py, so only those are used."
                              % (_show(version), ', '.join(RELEASES)))
    return match.group(1)


def image(registry, version):
    """``<registry>/metrics-server/metrics-server:v<version>``; the registry without a scheme or trailing slash."""
    registry = str(registry if registry is not None else '').strip().rstrip('/')
    if not registry or not _REGISTRY.match(registry):
        raise MonitoringError("metrics_server_registry is %s; give a registry host, optionally with a port and path and "
                              "without a scheme, such as registry.k8s.io or mirror.example.com:5000/k8s." % _show(registry))
    return '%s/%s:v%s' % (registry, IMAGE_PATH, release(version))


def _binding(kind, name, role_kind, role, namespace=None):
    meta = {'name': name, 'labels': dict(LABELS)}
    if namespace:
        meta['namespace'] = namespace
    return {
        'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': kind, 'metadata': meta,
        'roleRef': {'apiGroup': 'rbac.authorization.k8s.io', 'kind': role_kind, 'name': role},
        'subjects': [{'kind': 'ServiceAccount', 'name': NAME, 'namespace': NAMESPACE}],
    }


def _deployment(image_ref, insecure_tls):
    args = list(ARGS) + ([INSECURE_TLS] if insecure_tls else [])
    probe = {'httpGet': {'path': '/livez', 'port': 'https', 'scheme': 'HTTPS'}, 'periodSeconds': 10, 'failureThreshold': 3}
    readiness = {'httpGet': {'path': '/readyz', 'port': 'https', 'scheme': 'HTTPS'}, 'initialDelaySeconds': 20,
                 'periodSeconds': 10, 'failureThreshold': 3}
    container = {
        'name': NAME,
        'image': image_ref,
        'imagePullPolicy': 'IfNotPresent',
        'args': args,
        'ports': [{'name': 'https', 'containerPort': 10250, 'protocol': 'TCP'}],
        'livenessProbe': probe,
        'readinessProbe': readiness,
        'resources': {'requests': {'cpu': '100m', 'memory': '200Mi'}},
        'securityContext': {
            'allowPrivilegeEscalation': False,
            'capabilities': {'drop': ['ALL']},
            'readOnlyRootFilesystem': True,
            'runAsNonRoot': True,
            'runAsUser': 1000,
            'seccompProfile': {'type': 'RuntimeDefault'},
        },
        'volumeMounts': [{'name': 'tmp-dir', 'mountPath': '/tmp'}],
    }
    return {
        'apiVersion': 'apps/v1', 'kind': 'Deployment',
        'metadata': {'name': NAME, 'namespace': NAMESPACE, 'labels': dict(LABELS)},
        'spec': {
            # components.yaml leaves replicas to the API server's default (1); said here, so that the wait for the
            # Deployment compares the same number whatever defaults the server applies.
            'replicas': 1,
            'selector': {'matchLabels': dict(LABELS)},
            'strategy': {'rollingUpdate': {'maxUnavailable': 0}},
            'template': {
                'metadata': {'labels': dict(LABELS)},
                'spec': {
                    'containers': [container],
                    'nodeSelector': {'kubernetes.io/os': 'linux'},
                    'priorityClassName': 'system-cluster-critical',
                    'serviceAccountName': NAME,
                    'volumes': [{'name': 'tmp-dir', 'emptyDir': {}}],
                },
            },
        },
    }


def objects(p):
    """metrics-server's objects, in apply order (the Deployment last, so that a wait on it comes after the rest).

    ``p``: ``version``, ``registry`` and ``kubelet_insecure_tls`` (a bool: adds ``--kubelet-insecure-tls``).
    """
    insecure = p.get('kubelet_insecure_tls', False)
    if not isinstance(insecure, bool):
        raise MonitoringError('metrics_server_kubelet_insecure_tls is %s; it is true or false.' % _show(insecure))
    image_ref = image(p.get('registry', DEFAULT_REGISTRY), p.get('version'))
    reader_labels = dict(LABELS)
    reader_labels.update({'rbac.authorization.k8s.io/aggregate-to-admin': 'true',
                          'rbac.authorization.k8s.io/aggregate-to-edit': 'true',
                          'rbac.authorization.k8s.io/aggregate-to-view': 'true'})
    return [
        {'apiVersion': 'v1', 'kind': 'ServiceAccount', 'metadata': {'name': NAME, 'namespace': NAMESPACE, 'labels': dict(LABELS)}},
        {'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'ClusterRole',
         'metadata': {'name': 'system:aggregated-metrics-reader', 'labels': reader_labels},
         'rules': [{'apiGroups': ['metrics.k8s.io'], 'resources': ['pods', 'nodes'], 'verbs': ['get', 'list', 'watch']}]},
        {'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'ClusterRole',
         'metadata': {'name': 'system:metrics-server', 'labels': dict(LABELS)},
         'rules': [{'apiGroups': [''], 'resources': ['nodes/metrics'], 'verbs': ['get']},
                   {'apiGroups': [''], 'resources': ['pods', 'nodes'], 'verbs': ['get', 'list', 'watch']}]},
        _binding('RoleBinding', 'metrics-server-auth-reader', 'Role', 'extension-apiserver-authentication-reader', NAMESPACE),
        _binding('ClusterRoleBinding', 'metrics-server:system:auth-delegator', 'ClusterRole', 'system:auth-delegator'),
        _binding('ClusterRoleBinding', 'system:metrics-server', 'ClusterRole', 'system:metrics-server'),
        {'apiVersion': 'v1', 'kind': 'Service',
         'metadata': {'name': NAME, 'namespace': NAMESPACE, 'labels': dict(LABELS)},
         'spec': {'ports': [{'name': 'https', 'port': 443, 'protocol': 'TCP', 'targetPort': 'https'}],
                  'selector': dict(LABELS)}},
        {'apiVersion': 'apiregistration.k8s.io/v1', 'kind': 'APIService',
         'metadata': {'name': APISERVICE, 'labels': dict(LABELS)},
         'spec': {'group': 'metrics.k8s.io', 'version': 'v1beta1', 'groupPriorityMinimum': 100, 'versionPriority': 100,
                  'insecureSkipTLSVerify': True, 'service': {'name': NAME, 'namespace': NAMESPACE}}},
        _deployment(image_ref, insecure),
    ]


# --------------------------------------------------------------------------------------------------
# The PodRestarts alert
# --------------------------------------------------------------------------------------------------
def namespace_regex_problem(value):
    """Why ``value`` cannot be the namespace matcher of the alert's PromQL string, or None.

    The value goes between the double quotes of ``namespace=~"..."``: a double quote would end the
    string, and a backslash starts an escape in PromQL's strings (so ``\\d`` would be refused by
    Prometheus); both are refused, as are control characters. The rest must compile as a regular
    expression without lookaround or backreferences (Prometheus uses RE2, which has neither).
    """
    if not isinstance(value, str) or not value:
        return 'it must be a non-empty regular expression such as prod or prod|staging (.* for every namespace)'
    for char in value:
        if char in '"\\' or ord(char) < 32 or ord(char) == 127:
            return ('it holds %s, which cannot go into the PromQL string namespace=~"..." unescaped; write character '
                    'classes such as [0-9] instead of backslash escapes' % _show(char))
    if re.search(r'\(\?(<=|<!|=|!|P=|#|>|\()', value):
        return ('it uses lookaround, a backreference, an atomic or conditional group or a comment, which Prometheus\' '
                'regular expressions (RE2) do not have')
    try:
        re.compile(value)
    except re.error as exc:
        return 'it is not a regular expression (%s)' % exc
    return None


def pod_restart_expr(namespaces):
    """The alert's PromQL expression."""
    problem = namespace_regex_problem(namespaces)
    if problem:
        raise MonitoringError('alerts_pod_restart_namespaces is %s: %s.' % (_show(namespaces), problem))
    return 'increase(kube_pod_container_status_restarts_total{namespace=~"%s"}[1h]) > 3' % namespaces


def pod_restart_rule(p):
    """The PrometheusRule of the PodRestarts alert.

    ``p``: ``namespaces`` (the regex), ``namespace`` (where the rule object lives) and ``labels`` (extra labels of
    the object, for a Prometheus ruleSelector such as ``release: kube-prometheus-stack``).
    """
    namespace = p.get('namespace')
    if not isinstance(namespace, str) or len(namespace) > 63 or not _DNS_LABEL.match(namespace):
        raise MonitoringError('alerts_rule_namespace is %s; it is a namespace name (a DNS label: lower-case letters, '
                              'digits and -).' % _show(namespace))
    labels = dict(MANAGED_BY)
    extra = p.get('labels') or {}
    if not isinstance(extra, dict):
        raise MonitoringError('alerts_rule_labels is %s; it is a mapping of label names to values.' % _show(extra))
    for key, value in extra.items():
        prefix, _sep, name = str(key).rpartition('/')
        if (not isinstance(key, str) or (prefix and not _DNS_SUBDOMAIN.match(prefix)) or len(name) > 63
                or not _LABEL_NAME.match(name)):
            raise MonitoringError('alerts_rule_labels has the key %s, which is not a label name.' % _show(key))
        if not isinstance(value, str) or len(value) > 63 or (value and not _LABEL_NAME.match(value)):
            raise MonitoringError('alerts_rule_labels.%s is %s; a label value is a string of at most 63 letters, digits, '
                                  '-, _ and ., starting and ending with a letter or digit.' % (key, _show(value)))
        labels[key] = value
    return {
        'apiVersion': RULE_API, 'kind': 'PrometheusRule',
        'metadata': {'name': RULE_NAME, 'namespace': namespace, 'labels': labels},
        'spec': {'groups': [{'name': RULE_GROUP, 'rules': [{
            'alert': ALERT,
            'expr': pod_restart_expr(p.get('namespaces')),
            'for': '5m',
            'labels': {'severity': 'critical'},
            'annotations': {'summary': RULE_SUMMARY},
        }]}]},
    }


def crd_serves(crds, version='v1'):
    """True when one of ``crds`` (k8s_info resources) is the PrometheusRule CRD, Established, serving ``version``."""
    for crd in crds or []:
        if (crd.get('metadata') or {}).get('name') != RULE_CRD:
            continue
        established = any(c.get('type') == 'Established' and c.get('status') == 'True'
                          for c in (crd.get('status') or {}).get('conditions') or [])
        served = any(v.get('name') == version and v.get('served') for v in (crd.get('spec') or {}).get('versions') or [])
        return bool(established and served)
    return False


def rule_file(rule, kubeconfig_hint=''):
    """The text of the rule file written on the controller when the cluster has no PrometheusRule CRD."""
    import yaml  # PyYAML, on the controller

    head = ('# The PodRestarts alert (ironstone.k8s alerts role), as a prometheus-operator PrometheusRule.\n'
            '# The cluster had no %s CRD when it was written. Once prometheus-operator runs, apply it with\n'
            '#   kubectl%s apply --server-side --field-manager=ironstone -f <this file>\n'
            '# or run playbooks/monitoring.yml again. For a Prometheus without the operator, .spec is a rule file.\n'
            % (RULE_CRD, (' --kubeconfig ' + kubeconfig_hint) if kubeconfig_hint else ''))
    return head + '---\n' + yaml.safe_dump(_plain(rule), sort_keys=False, default_flow_style=False, width=4096)


def _plain(value):
    """Plain dicts, lists and strings (Ansible hands filters subclasses that yaml.safe_dump refuses)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, dict):
        return dict((_plain(k), _plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
