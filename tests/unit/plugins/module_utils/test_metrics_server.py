# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE)
"""metrics-server's objects and the PodRestarts PrometheusRule as the monitoring stage renders them.

The built-in kinds are checked with kubernetes-validate's strict schemas of the lab's Kubernetes minor
(unknown fields refused, as the API server refuses them with fieldValidation=Strict); the PrometheusRule
against the fields of prometheus-operator's CRD (written out here; the CRD is not in the repository)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

import pytest
import yaml

from ansible_collections.ironstone.k8s.plugins.module_utils import metrics_server as ms

kubernetes_validate = pytest.importorskip('kubernetes_validate')
jsonschema = pytest.importorskip('jsonschema')

SETTINGS = {'version': '0.8.1', 'registry': 'registry.k8s.io', 'kubelet_insecure_tls': False}
DURATION = r'^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$'


def by_kind(objects):
    return dict(('%s/%s' % (o['kind'], o['metadata']['name']), o) for o in objects)


def test_the_objects_of_components_yaml_in_apply_order():
    objects = ms.objects(SETTINGS)
    assert ['%s/%s' % (o['kind'], o['metadata']['name']) for o in objects] == [
        'ServiceAccount/metrics-server',
        'ClusterRole/system:aggregated-metrics-reader',
        'ClusterRole/system:metrics-server',
        'RoleBinding/metrics-server-auth-reader',
        'ClusterRoleBinding/metrics-server:system:auth-delegator',
        'ClusterRoleBinding/system:metrics-server',
        'Service/metrics-server',
        'APIService/v1beta1.metrics.k8s.io',
        'Deployment/metrics-server',
    ]
    for obj in objects:
        if obj['kind'] not in ('ClusterRole', 'ClusterRoleBinding', 'APIService'):
            assert obj['metadata']['namespace'] == 'kube-system', obj['kind']
        else:
            assert 'namespace' not in obj['metadata']
        assert obj['metadata']['labels']['k8s-app'] == 'metrics-server'


@pytest.mark.parametrize('insecure', [False, True])
def test_every_object_is_valid_for_the_real_api(insecure):
    for obj in ms.objects(dict(SETTINGS, kubelet_insecure_tls=insecure)):
        kubernetes_validate.validate(obj, '1.36.0', strict=True)


def test_rbac_and_apiservice():
    objects = by_kind(ms.objects(SETTINGS))
    reader = objects['ClusterRole/system:aggregated-metrics-reader']
    for verb in ('admin', 'edit', 'view'):
        assert reader['metadata']['labels']['rbac.authorization.k8s.io/aggregate-to-' + verb] == 'true'
    assert reader['rules'] == [{'apiGroups': ['metrics.k8s.io'], 'resources': ['pods', 'nodes'], 'verbs': ['get', 'list', 'watch']}]
    own = objects['ClusterRole/system:metrics-server']['rules']
    assert {'apiGroups': [''], 'resources': ['nodes/metrics'], 'verbs': ['get']} in own
    auth = objects['RoleBinding/metrics-server-auth-reader']
    assert auth['roleRef'] == {'apiGroup': 'rbac.authorization.k8s.io', 'kind': 'Role', 'name': 'extension-apiserver-authentication-reader'}
    assert objects['ClusterRoleBinding/metrics-server:system:auth-delegator']['roleRef']['name'] == 'system:auth-delegator'
    for name in ('RoleBinding/metrics-server-auth-reader', 'ClusterRoleBinding/metrics-server:system:auth-delegator',
                 'ClusterRoleBinding/system:metrics-server'):
        assert objects[name]['subjects'] == [{'kind': 'ServiceAccount', 'name': 'metrics-server', 'namespace': 'kube-system'}]
    api = objects['APIService/v1beta1.metrics.k8s.io']['spec']
    assert api['service'] == {'name': 'metrics-server', 'namespace': 'kube-system'}
    assert (api['group'], api['version']) == ('metrics.k8s.io', 'v1beta1')
    service = objects['Service/metrics-server']['spec']
    assert service['selector'] == {'k8s-app': 'metrics-server'} and service['ports'][0]['targetPort'] == 'https'


def test_the_deployment_is_pinned_and_secure_by_default():
    deployment = by_kind(ms.objects(SETTINGS))['Deployment/metrics-server']
    pod = deployment['spec']['template']['spec']
    container = pod['containers'][0]
    assert container['image'] == 'registry.k8s.io/metrics-server/metrics-server:v0.8.1'
    assert '--kubelet-insecure-tls' not in container['args']
    assert '--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname' in container['args']
    assert '--secure-port=10250' in container['args'] and container['ports'][0]['containerPort'] == 10250
    assert container['securityContext']['readOnlyRootFilesystem'] is True
    assert container['securityContext']['capabilities'] == {'drop': ['ALL']}
    assert pod['serviceAccountName'] == 'metrics-server' and pod['priorityClassName'] == 'system-cluster-critical'
    assert deployment['spec']['selector']['matchLabels'] == deployment['spec']['template']['metadata']['labels']


def test_insecure_tls_is_an_explicit_opt_in():
    deployment = ms.objects(dict(SETTINGS, kubelet_insecure_tls=True))[-1]
    assert deployment['spec']['template']['spec']['containers'][0]['args'][-1] == '--kubelet-insecure-tls'
    with pytest.raises(ms.MonitoringError, match='metrics_server_kubelet_insecure_tls'):
        ms.objects(dict(SETTINGS, kubelet_insecure_tls='yes'))


@pytest.mark.parametrize('registry, expected', [
    ('registry.k8s.io', 'registry.k8s.io/metrics-server/metrics-server:v0.8.0'),
    ('mirror.example.com:5000/k8s/', 'mirror.example.com:5000/k8s/metrics-server/metrics-server:v0.8.0'),
    ('localhost:5000', 'localhost:5000/metrics-server/metrics-server:v0.8.0'),
])
def test_the_image_comes_from_the_mirror(registry, expected):
    assert ms.image(registry, 'v0.8.0') == expected
    assert ms.objects(dict(SETTINGS, registry=registry, version='0.8.0'))[-1]['spec']['template']['spec']['containers'][0]['image'] == expected


@pytest.mark.parametrize('registry', ['', 'https://registry.k8s.io', 'mirror.example.com/k8s:v1', 'Mirror Host', None])
def test_a_bad_registry_is_refused(registry):
    with pytest.raises(ms.MonitoringError, match='metrics_server_registry'):
        ms.image(registry, '0.8.1')


@pytest.mark.parametrize('version', ['0.6.4', '0.8', 'latest', '', None])
def test_an_unknown_release_is_refused(version):
    with pytest.raises(ms.MonitoringError, match='metrics_server_version'):
        ms.release(version)


# --- the PodRestarts alert -------------------------------------------------------------------------------------

RULE = {'namespaces': '.*', 'namespace': 'monitoring', 'labels': {}}

# The PrometheusRule fields the rule uses, from prometheus-operator's CRD (v1), undeclared fields refused.
RULE_SCHEMA = {
    'type': 'object', 'required': ['spec'], 'additionalProperties': False,
    'properties': {
        'apiVersion': {'type': 'string'}, 'kind': {'type': 'string'}, 'metadata': {'type': 'object'},
        'spec': {'type': 'object', 'additionalProperties': False, 'properties': {'groups': {'type': 'array', 'items': {
            'type': 'object', 'required': ['name'], 'additionalProperties': False,
            'properties': {'name': {'type': 'string', 'minLength': 1}, 'rules': {'type': 'array', 'items': {
                'type': 'object', 'required': ['expr'], 'additionalProperties': False,
                'properties': {'alert': {'type': 'string'}, 'expr': {'type': 'string'}, 'for': {'type': 'string', 'pattern': DURATION},
                               'labels': {'type': 'object', 'additionalProperties': {'type': 'string'}},
                               'annotations': {'type': 'object', 'additionalProperties': {'type': 'string'}}}}}}}}}},
    },
}


def test_the_rule_is_the_seeds_alert():
    rule = ms.pod_restart_rule(dict(RULE, namespaces='prod'))
    jsonschema.validate(rule, RULE_SCHEMA)
    assert rule['apiVersion'] == 'monitoring.coreos.com/v1' and rule['kind'] == 'PrometheusRule'
    assert rule['metadata'] == {'name': 'ironstone-pod-restarts', 'namespace': 'monitoring',
                                'labels': {'app.kubernetes.io/managed-by': 'ironstone'}}
    group = rule['spec']['groups'][0]
    assert group['name'] == 'pod.rules'
    assert group['rules'] == [{
        'alert': 'PodRestarts',
        'expr': 'increase(kube_pod_container_status_restarts_total{namespace=~"prod"}[1h]) > 3',
        'for': '5m',
        'labels': {'severity': 'critical'},
        'annotations': {'summary': 'Pod {{ $labels.pod }} in namespace {{ $labels.namespace }} restarted {{ $value }} times in last hour'},
    }]


def test_rule_labels_for_a_rule_selector():
    rule = ms.pod_restart_rule(dict(RULE, labels={'release': 'kube-prometheus-stack', 'example.com/team': 'ops'}))
    assert rule['metadata']['labels'] == {'app.kubernetes.io/managed-by': 'ironstone', 'release': 'kube-prometheus-stack',
                                          'example.com/team': 'ops'}


@pytest.mark.parametrize('labels', [{'bad key': 'x'}, {'a': 'no spaces'}, {'a': 1}, ['release']])
def test_bad_rule_labels_are_refused(labels):
    with pytest.raises(ms.MonitoringError, match='alerts_rule_labels'):
        ms.pod_restart_rule(dict(RULE, labels=labels))


@pytest.mark.parametrize('namespace', ['', 'Monitoring', 'a/b', None, 'x' * 64])
def test_a_bad_rule_namespace_is_refused(namespace):
    with pytest.raises(ms.MonitoringError, match='alerts_rule_namespace'):
        ms.pod_restart_rule(dict(RULE, namespace=namespace))


@pytest.mark.parametrize('value', ['.*', 'prod', 'prod|staging', 'team-[a-z]+', '(?i)prod', 'kube-.*|default', '(?P<x>a)b{2}'])
def test_good_namespace_regexes(value):
    assert ms.namespace_regex_problem(value) is None
    assert ('namespace=~"%s"' % value) in ms.pod_restart_expr(value)


@pytest.mark.parametrize('value, why', [
    ('prod"} or vector(1) or {x="', 'cannot go into the PromQL string'),
    ('prod\\d', 'backslash'),
    ('prod\n', 'cannot go into the PromQL string'),
    ('(prod', 'not a regular expression'),
    ('prod(?=x)', 'lookaround'),
    ('(a)(?P=a)', 'backreference'),
    ('', 'non-empty'),
    (None, 'non-empty'),
])
def test_bad_namespace_regexes_are_refused(value, why):
    problem = ms.namespace_regex_problem(value)
    assert problem and (why in problem or why == 'backslash' and 'backslash' in problem), problem
    with pytest.raises(ms.MonitoringError, match='alerts_pod_restart_namespaces'):
        ms.pod_restart_rule(dict(RULE, namespaces=value))


def test_the_expression_is_one_selector_whatever_the_regex():
    # Whatever passes the check stays inside the one string of the one selector.
    for value in ['.*', 'a|b', '[{}]', "it's", 'x{1,3}']:
        expr = ms.pod_restart_expr(value)
        assert re.fullmatch(r'increase\(kube_pod_container_status_restarts_total\{namespace=~"[^"\\]*"\}\[1h\]\) > 3', expr), expr


def crd(established=True, versions=(('v1', True),), name=ms.RULE_CRD):
    return {'metadata': {'name': name},
            'spec': {'versions': [{'name': v, 'served': s} for v, s in versions]},
            'status': {'conditions': [{'type': 'Established', 'status': 'True' if established else 'False'}]}}


def test_crd_serves():
    assert ms.crd_serves([crd()]) is True
    assert ms.crd_serves([crd(name='other.example.com'), crd()]) is True
    assert ms.crd_serves([crd(established=False)]) is False
    assert ms.crd_serves([crd(versions=(('v1', False),))]) is False
    assert ms.crd_serves([crd(versions=(('v1beta1', True),))]) is False
    assert ms.crd_serves([]) is False and ms.crd_serves(None) is False


def test_rule_file_says_how_to_apply_it_and_keeps_the_template():
    rule = ms.pod_restart_rule(RULE)
    text = ms.rule_file(rule, '/home/ops/.ironstone/kubeconfig/c.conf')
    assert 'kubectl --kubeconfig /home/ops/.ironstone/kubeconfig/c.conf apply --server-side' in text
    assert ms.RULE_CRD in text
    documents = [d for d in yaml.safe_load_all(text) if d]
    assert documents == [rule]
    assert '{{ $labels.pod }}' in text
