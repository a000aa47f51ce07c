# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE)
"""plugins/filter/monitoring.py: registered, documented one file per filter, errors as AnsibleFilterError, and
Prometheus' {{ $labels.pod }} left alone when Ansible templates the rule (set_fact, to_nice_yaml, copy content)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from ansible_collections.ironstone.k8s.plugins.filter import monitoring

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
NAMES = ['metrics_server_objects', 'metrics_server_image', 'metrics_server_csr_summary', 'alerts_pod_restart_rule',
         'alerts_crd_served', 'alerts_rule_file']
SUMMARY = 'Pod {{ $labels.pod }} in namespace {{ $labels.namespace }} restarted {{ $value }} times in last hour'


def test_registered_and_documented():
    filters = monitoring.FilterModule().filters()
    assert sorted(filters) == sorted(NAMES)
    for name in NAMES:
        path = os.path.join(ROOT, 'plugins', 'filter', name + '.yml')
        with open(path, encoding='utf-8') as handle:
            doc = yaml.safe_load(handle)
        assert doc['DOCUMENTATION']['name'] == name
        assert 'plugins/filter/monitoring.py' in ' '.join(doc['DOCUMENTATION']['description'])


def test_errors_are_filter_errors():
    with pytest.raises(AnsibleFilterError, match='metrics_server_version'):
        monitoring.metrics_server_objects({'version': '9.9.9', 'registry': 'registry.k8s.io'})
    with pytest.raises(AnsibleFilterError, match='metrics_server_registry'):
        monitoring.metrics_server_image('https://x', '0.8.1')
    with pytest.raises(AnsibleFilterError, match='alerts_pod_restart_namespaces'):
        monitoring.alerts_pod_restart_rule({'namespaces': 'a"b', 'namespace': 'monitoring'})


def test_image():
    assert monitoring.metrics_server_image('mirror.local/', '0.8.1') == 'mirror.local/metrics-server/metrics-server:v0.8.1'


def templar(**variables):
    return Templar(loader=DataLoader(), variables=variables)


def render(t, text):
    return t.template(trust_as_template(text))


def test_the_prometheus_template_survives_ansible_templating():
    rule = monitoring.alerts_pod_restart_rule({'namespaces': 'prod', 'namespace': 'monitoring', 'labels': {}})
    # As the role uses it: a fact holding the rule, templated into a task argument and into a file's content.
    t = templar(alerts_rule=rule)
    again = render(t, '{{ alerts_rule }}')
    assert again['spec']['groups'][0]['rules'][0]['annotations']['summary'] == SUMMARY
    nice = yaml.safe_load(render(t, '{{ alerts_rule | to_nice_yaml }}'))
    assert nice['spec']['groups'][0]['rules'][0]['annotations']['summary'] == SUMMARY
    text = monitoring.alerts_rule_file(again, '/k.conf')
    t = templar(content=text)
    written = render(t, '{{ content }}')
    assert SUMMARY in written
    assert [d for d in yaml.safe_load_all(written) if d][0]['spec']['groups'][0]['rules'][0]['annotations']['summary'] == SUMMARY


def test_crd_served():
    crd = {'metadata': {'name': 'prometheusrules.monitoring.coreos.com'}, 'spec': {'versions': [{'name': 'v1', 'served': True}]},
           'status': {'conditions': [{'type': 'Established', 'status': 'True'}]}}
    assert monitoring.alerts_crd_served([crd]) is True
    assert monitoring.alerts_crd_served([]) is False


def test_csr_summary():
    result = {'approved': [{'name': 'csr-a', 'node': 'w1'}],
              'refused': [{'name': 'csr-f', 'reason': 'its requester kubernetes-admin is not a node (system:node:<name>)'}],
              'nodes_without_certificate': ['e1']}
    text = monitoring.metrics_server_csr_summary(result)
    assert text == ('Kubelet serving certificates: approved 1 (csr-a for w1); left pending 1: csr-f: its requester '
                    'kubernetes-admin is not a node (system:node:<name>); no approved or issued request from e1.')
    assert 'would approve 1' in monitoring.metrics_server_csr_summary(result, True)
    assert monitoring.metrics_server_csr_summary({'approved': [], 'refused': []}) == 'Kubelet serving certificates: approved 0 (none).'
    assert 'not approved by this stage' in monitoring.metrics_server_csr_summary({'skipped': True})
