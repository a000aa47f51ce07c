# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: kubelet_serving_csr
short_description: Approve the kubelets' serving-certificate requests that name only their own node's addresses
version_added: 0.1.0
author: ironstone.k8s contributors (@ironstone)
description:
  - A kubelet with C(serverTLSBootstrap) asks for its serving certificate with a CertificateSigningRequest of the signer
    C(kubernetes.io/kubelet-serving). Kubernetes signs approved ones with the cluster CA, but never approves them itself;
    this module is the approver.
  - It lists the CertificateSigningRequests and the Nodes (two API calls), and approves a pending request of that signer
    only when its requester is C(system:node:<name>) for a O(nodes) entry whose Node exists, in the group
    C(system:nodes); its x509 request is validly signed with the subject exactly C(O=system:nodes, CN=system:node:<name>);
    it asks for no extension but subjectAltName, holding only DNS names and IP addresses (at least one), each reported
    by that Node in C(status.addresses); and its usages are exactly C(digital signature) and C(server auth), with
    C(key encipherment) optional.
  - Every other pending request of that signer is left as it is (neither approved nor denied) and reported in
    RV(refused) with the reason. Requests of other signers are not looked at.
  - Runs where the kubeconfig is (usually the controller), with the Python C(kubernetes) client that
    P(kubernetes.core.k8s#module) needs too.
options:
  kubeconfig:
    description:
      - Path of the kubeconfig to reach the API server with; its user must be allowed to list CertificateSigningRequests
        and Nodes and to update C(certificatesigningrequests/approval) for the signer (a cluster admin is).
    type: path
    required: true
  context:
    description:
      - The kubeconfig context to use; its current context when not set.
    type: str
  nodes:
    description:
      - The node names whose requests may be approved (normally every node of the inventory). A request of any other
        requester is refused.
    type: list
    elements: str
    required: true
attributes:
  check_mode:
    support: full
    description: Reads and decides as in a real run and reports what it would approve; it approves nothing.
  diff_mode:
    support: none
    description: There is no file to show a diff of; RV(approved) lists what changes.
  platform:
    platforms: posix
    support: full
    description: Needs network access to the API server from where it runs.
requirements:
  - kubernetes (the Python client)
  - cryptography
notes:
  - Approved requests are signed by kube-controller-manager (the C(kubernetes.io/kubelet-serving) signer, with the
    cluster CA); the kubelet then writes C(kubelet-server-current.pem) in its certificate directory and serves with it.
  - A second run finds nothing pending and changes nothing. A refused request stays pending until Kubernetes removes it
    (after 24 hours) or someone denies or deletes it.
seealso:
  - name: Kubelet serving certificates
    description: Kubernetes' description of the kubelet-serving signer and serverTLSBootstrap.
    link: https://kubernetes.io/docs/reference/access-authn-authz/kubelet-tls-bootstrapping/#certificate-rotation
'''

EXAMPLES = r'''
- name: Approve the nodes' kubelet serving certificates
  ironstone.k8s.kubelet_serving_csr:
    kubeconfig: ~/.ironstone/kubeconfig/kubernetes.conf
    nodes: "{{ groups['all'] | map('extract', hostvars, 'kube_node_name') | list }}"
  delegate_to: localhost
  register: serving

- name: Say which requests were refused
  ansible.builtin.debug:
    msg: "{{ serving.refused | map(attribute='name') | zip(serving.refused | map(attribute='reason')) | map('join', ': ') | list }}"
  when: serving.refused | length > 0
'''

RETURN = r'''
approved:
  description: The requests approved by this run (in check mode, those it would approve).
  returned: always
  type: list
  elements: dict
  sample:
    - name: csr-7hx2k
      node: w1
      requester: system:node:w1
      usages: [digital signature, server auth]
      sans: {dns: [w1], ip: [172.30.95.21]}
  contains:
    name:
      description: The CertificateSigningRequest's name.
      type: str
    node:
      description: The node it is for.
      type: str
    requester:
      description: Its C(spec.username).
      type: str
    usages:
      description: Its C(spec.usages).
      type: list
      elements: str
    sans:
      description: The DNS names (C(dns)) and IP addresses (C(ip)) it asks for.
      type: dict
refused:
  description: The pending requests of the signer that were not approved, each with the reason; they are left pending.
  returned: always
  type: list
  elements: dict
  sample:
    - name: csr-forged
      node: null
      requester: kubernetes-admin
      usages: [digital signature, server auth]
      sans: {dns: [w1], ip: [10.0.0.9]}
      reason: its requester kubernetes-admin is not a node (system:node:<name>)
  contains:
    reason:
      description: Why it was not approved.
      type: str
done:
  description: The requests of the signer that were no longer pending when the module looked (approved, issued, denied or failed).
  returned: always
  type: list
  elements: dict
  contains:
    state:
      description: C(approved) (not signed yet), C(issued), C(denied) or C(failed).
      type: str
nodes_without_certificate:
  description:
    - The O(nodes) with no approved or issued kubelet-serving request after this run. Kubernetes removes issued requests
      after an hour, so a node listed here may still hold a valid certificate; a node whose kubelet never asks
      (C(serverTLSBootstrap) off) is always listed.
  returned: always
  type: list
  elements: str
api_server:
  description: What the API server says it is (C(/version)).
  returned: always
  type: dict
  contains:
    git_version:
      description: Its C(gitVersion).
      type: str
    standin:
      description: True when it is the ironstone.k8s lab's stand-in kube-apiserver (its C(/version) says so), not the real one.
      type: bool
'''

import datetime
import json
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.ironstone.k8s.plugins.module_utils import kubelet_csr

try:
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes.client.rest import ApiException
    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError:
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = traceback.format_exc()

    class ApiException(Exception):
        """Stands in for the client's exception when the client is missing (never raised then)."""


def _json(response):
    return json.loads(response.data or b'{}')


def _api_error(exc, what):
    body = {}
    try:
        body = json.loads(exc.body or '{}')
    except (TypeError, ValueError):
        pass
    message = body.get('message') if isinstance(body, dict) else None
    return 'The API server refused to %s: %s %s%s' % (what, exc.status, exc.reason, (': ' + message) if message else '')


def run(module, api):
    """Read, decide and (outside check mode) approve; returns the module's result."""
    certificates = k8s_client.CertificatesV1Api(api)
    version = _json(k8s_client.VersionApi(api).get_code(_preload_content=False))
    csrs = _json(certificates.list_certificate_signing_request(_preload_content=False)).get('items') or []
    node_list = _json(k8s_client.CoreV1Api(api).list_node(_preload_content=False)).get('items') or []
    nodes = dict(((n.get('metadata') or {}).get('name'), n) for n in node_list)
    allowed = [n for n in module.params['nodes'] if n]
    decided = kubelet_csr.plan(csrs, nodes, allowed)
    by_name = dict(((c.get('metadata') or {}).get('name'), c) for c in csrs)
    approved = []
    for entry in decided['approve']:
        if not module.check_mode:
            now = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
            body = kubelet_csr.approved(by_name[entry['name']], now)
            try:
                certificates.replace_certificate_signing_request_approval(entry['name'], body, _preload_content=False)
            except ApiException as exc:
                if exc.status not in (404, 409):
                    raise
                # Changed or removed since it was listed: read it again and decide once more.
                try:
                    fresh = _json(certificates.read_certificate_signing_request(entry['name'], _preload_content=False))
                except ApiException as again:
                    if again.status != 404:
                        raise
                    continue
                ok, _reason = kubelet_csr.decide(fresh, nodes, allowed)
                if not ok:
                    continue
                certificates.replace_certificate_signing_request_approval(
                    entry['name'], kubelet_csr.approved(fresh, now), _preload_content=False)
        approved.append(entry)
    served = set(e['node'] for e in approved)
    without = [n for n in kubelet_csr.nodes_without_certificate(csrs, allowed) if n not in served]
    return {
        'changed': bool(approved),
        'approved': approved,
        'refused': decided['refuse'],
        'done': decided['done'],
        'nodes_without_certificate': without,
        'api_server': {'git_version': version.get('gitVersion', ''), 'standin': 'standIn' in version},
    }


def main():
    module = AnsibleModule(
        argument_spec=dict(
            kubeconfig=dict(type='path', required=True),
            context=dict(type='str'),
            nodes=dict(type='list', elements='str', required=True),
        ),
        supports_check_mode=True,
    )
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib('kubernetes'), exception=KUBERNETES_IMPORT_ERROR)
    if not kubelet_csr.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib('cryptography'), exception=kubelet_csr.CRYPTOGRAPHY_IMPORT_ERROR)
    try:
        api = k8s_config.new_client_from_config(config_file=module.params['kubeconfig'], context=module.params['context'])
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg='Cannot load the kubeconfig %s: %s; give the controller kubeconfig the control_plane stage wrote.'
                         % (module.params['kubeconfig'], to_native(exc)), exception=traceback.format_exc())
    try:
        result = run(module, api)
    except ApiException as exc:
        module.fail_json(msg=_api_error(exc, 'list or approve CertificateSigningRequests'), exception=traceback.format_exc())
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg='Cannot reach the API server with %s: %s' % (module.params['kubeconfig'], to_native(exc)),
                         exception=traceback.format_exc())
    module.exit_json(**result)


if __name__ == '__main__':
    main()
