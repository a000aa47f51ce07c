# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: cert_bundle
short_description: Create and keep a CA and a set of leaf certificates from one declarative spec
description:
  - Makes a self-signed CA and any number of leaf certificates signed by it in one directory, and keeps them matching
    the spec on later runs. Built for the external etcd PKI in kubeadm's layout, but the spec is generic.
  - Run it on the controller (C(delegate_to=localhost) and C(run_once=true) in roles), then copy the files to the hosts.
  - Every existing file that still matches its spec is reused. A leaf certificate is re-issued only when its key is
    missing, unreadable, of another type or does not match the certificate; when its CN, O, SANs or extended key usages
    differ from the spec; when it was not issued and signed by the current CA; when it expires within O(renew_before_days);
    or when O(force_leaves=true). Each re-issued file is reported with its reason.
  - When a leaf is re-issued, its existing private key is kept if it is still good (present, readable, of the spec key type
    and matching the old certificate), so that re-issuing does not rotate keys; otherwise a new key is generated.
  - The CA is never regenerated unless O(regenerate_ca=true). An expiring or expired CA, or one whose CN or key type no longer
    matches O(ca), only produces a warning. A CA certificate without its key (or the reverse), or a missing CA while leaf
    certificates exist, fails the task.
  - Files are C(<path>/<ca.name>.crt), C(<ca.name>.key), C(<ca.name>-bundle.crt) and C(<path>/<certs[].name>.crt)/C(.key).
    Keys are written with mode C(0600), certificates with C(0644), and O(path) plus each leaf sub-directory get C(0700).
    Modes of existing files are corrected. Every write goes to a temporary file in the same directory which is then renamed
    into place, so readers never see a half-written file.
  - The CA bundle C(<ca.name>-bundle.crt) holds the current CA first, followed by previous CAs kept for a trust overlap
    (see O(ca_overlap)). Previous CAs that have expired are dropped from it automatically. Point the peers' trust
    (for example etcd C(--trusted-ca-file) and C(--peer-trusted-ca-file), kube-apiserver C(--etcd-cafile)) at the bundle
    during a CA rotation.
  - Private key material is never returned, logged or shown in the diff; results only carry key types and public-key
    fingerprints.
version_added: 0.1.0
author: ironstone.k8s contributors (@ironstone)
requirements:
  - cryptography >= 3.1 (on the host the module runs on, normally the controller)
options:
  path:
    description:
      - PKI directory that holds the CA and leaf files. Created with mode C(0700) when missing.
    type: path
    required: true
  ca:
    description:
      - The CA to create, or to use when it already exists.
    type: dict
    suboptions:
      name:
        description:
          - File basename of the CA, without extension and without C(/). The files are C(<name>.crt), C(<name>.key)
            and C(<name>-bundle.crt).
        type: str
        default: ca
      common_name:
        description:
          - Subject CN of the CA. Only used when the CA is created or regenerated; a mismatch on an existing CA is a warning.
        type: str
        default: etcd-ca
      validity_days:
        description:
          - Validity of a newly created CA certificate in days.
        type: int
        default: 3650
      key_type:
        description:
          - Key algorithm of a newly created CA key.
        type: str
        default: ecdsa-p256
        choices: [ecdsa-p256, rsa-2048, rsa-4096]
  certs:
    description:
      - Leaf certificates to issue from the CA. Names must be unique (compared case-insensitively) and must not clash with
        the CA files. The list is validated as a whole before anything is written.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - File basename of the leaf relative to O(path), without extension. May contain sub-directories, for example
            C(node1/server). Must not be absolute or contain C(..); each component uses letters, digits, C(.), C(_) and C(-)
            and does not start with C(.) or C(-).
        type: str
        required: true
      common_name:
        description:
          - Subject CN (at most 64 characters).
        type: str
        required: true
      organization:
        description:
          - Optional subject O, for example C(system:masters).
        type: str
      sans:
        description:
          - Subject alternative names. Entries that parse as IPv4 or IPv6 addresses become IP SANs (so C(::1) is an IP SAN),
            all others DNS SANs (lower-cased; a leading C(*.) wildcard is allowed). Order and duplicates do not matter.
        type: list
        elements: str
        default: []
      usages:
        description:
          - Extended key usages.
        type: list
        elements: str
        required: true
        choices: [server_auth, client_auth]
      validity_days:
        description:
          - Validity of a newly issued certificate in days. Should be larger than O(renew_before_days), otherwise the
            certificate is renewed on every run (a warning says so).
        type: int
        default: 365
      key_type:
        description:
          - Key algorithm of the leaf key. An existing key of another type is replaced.
        type: str
        default: ecdsa-p256
        choices: [ecdsa-p256, rsa-2048, rsa-4096]
  renew_before_days:
    description:
      - A leaf certificate whose notAfter is within this many days from now is renewed.
      - A CA within this window only produces a warning.
    type: int
    default: 30
  force_leaves:
    description:
      - Re-issue every leaf certificate on this run (keys that are still good are kept).
    type: bool
    default: false
  regenerate_ca:
    description:
      - Generate a new CA key and certificate on this run, and re-issue every leaf from it. This is the only way the CA
        is ever replaced.
      - This is a one-shot switch, not a desired state; every run with it set makes another CA. Pass it as an extra var
        for the rotation run only.
    type: bool
    default: false
  ca_overlap:
    description:
      - When O(regenerate_ca=true), keep the replaced CA in C(<ca.name>-bundle.crt) after the new one (bundle = new + old),
        so that peers trusting the bundle still accept leaves issued by the old CA during a rolling renewal. Only the
        directly replaced CA is kept; older ones are dropped.
      - When false, the bundle holds only the new CA after a regeneration.
      - Without O(regenerate_ca) this has no effect; CAs already in the bundle stay there until they expire or
        O(prune_old_ca=true).
    type: bool
    default: true
  prune_old_ca:
    description:
      - Drop every previous CA from the bundle, leaving only the current CA. Use it once all hosts carry leaves issued by
        the new CA.
      - Cannot be combined with O(regenerate_ca=true) and O(ca_overlap=true) in one run.
    type: bool
    default: false
notes:
  - 'CA rotation flow: run with O(regenerate_ca=true) (bundle = new + old, all leaves re-issued), roll the bundle and
    the new leaves out host by host, then run once with O(prune_old_ca=true) and roll the bundle out again.'
  - Leaf certificates are not clamped to the CA notAfter.
attributes:
  check_mode:
    support: full
    description: Computes and reports what would be created or renewed, and why, without writing or generating anything.
      Serials and fingerprints of files that would be created are returned as null.
  diff_mode:
    support: full
    description: Shows a per-file summary (subject, SANs, usages, notAfter, serial; key type and public-key fingerprint for
      keys) before and after. Never shows key material.
  platform:
    platforms: posix
    support: full
    description: Runs wherever the cryptography library is installed; meant for the controller.
'''

EXAMPLES = r'''
# The kubeadm external-etcd set: etcd CA, per member server and peer certificates, and the two clients
# that kubeadm expects (healthcheck and apiserver). Copy <member>/server.* and <member>/peer.* to each
# member as /etc/kubernetes/pki/etcd/server.* and peer.*, ca.crt (or ca-bundle.crt during a rotation) as
# /etc/kubernetes/pki/etcd/ca.crt, and apiserver-etcd-client.* to the control plane as
# /etc/kubernetes/pki/apiserver-etcd-client.*.
- name: Etcd PKI on the controller
  ironstone.k8s.cert_bundle:
    path: "{{ playbook_dir }}/.pki/etcd"
    ca:
      common_name: etcd-ca
    certs:
      - name: etcd1/server
        common_name: etcd1
        sans: [etcd1, 10.0.0.11, localhost, 127.0.0.1, "::1"]
        usages: [server_auth, client_auth]
      - name: etcd1/peer
        common_name: etcd1
        sans: [etcd1, 10.0.0.11, localhost, 127.0.0.1, "::1"]
        usages: [server_auth, client_auth]
      - name: healthcheck-client
        common_name: kube-etcd-healthcheck-client
        organization: system:masters
        usages: [client_auth]
      - name: apiserver-etcd-client
        common_name: kube-apiserver-etcd-client
        organization: system:masters
        usages: [client_auth]
  delegate_to: localhost
  run_once: true
  register: etcd_pki

# The same set built from the inventory group "etcd" (per member: server and peer).
- name: Etcd PKI for every member of the etcd group
  ironstone.k8s.cert_bundle:
    path: "{{ playbook_dir }}/.pki/etcd"
    certs: "{{ member_certs + client_certs }}"
  vars:
    member_certs: >-
      {%- set out = [] -%}
      {%- for m in groups['etcd'] -%}
      {%-   set sans = [m, hostvars[m]['ansible_host'] | default(m), 'localhost', '127.0.0.1', '::1'] -%}
      {%-   for kind in ['server', 'peer'] -%}
      {%-     set _ = out.append({'name': m ~ '/' ~ kind, 'common_name': m, 'sans': sans,
                                 'usages': ['server_auth', 'client_auth']}) -%}
      {%-   endfor -%}
      {%- endfor -%}
      {{ out }}
    client_certs:
      - {name: healthcheck-client, common_name: kube-etcd-healthcheck-client,
         organization: "system:masters", usages: [client_auth]}
      - {name: apiserver-etcd-client, common_name: kube-apiserver-etcd-client,
         organization: "system:masters", usages: [client_auth]}
  delegate_to: localhost
  run_once: true

# CA rotation, step 1: new CA in ca.crt, bundle = new + old, every leaf re-issued by the new CA.
# Pass -e etcd_rotate_ca=true for this run only.
- name: Rotate the etcd CA with a trust overlap
  ironstone.k8s.cert_bundle:
    path: "{{ playbook_dir }}/.pki/etcd"
    certs: "{{ etcd_cert_specs }}"
    regenerate_ca: "{{ etcd_rotate_ca | default(false) | bool }}"
    ca_overlap: true
  delegate_to: localhost
  run_once: true

# CA rotation, step 2 (after every host runs with the new leaves): drop the old CA from the bundle.
- name: Prune the previous etcd CA from the bundle
  ironstone.k8s.cert_bundle:
    path: "{{ playbook_dir }}/.pki/etcd"
    certs: "{{ etcd_cert_specs }}"
    prune_old_ca: true
  delegate_to: localhost
  run_once: true

- name: Show what was re-issued and why
  ansible.builtin.debug:
    msg: "{{ item.name }}: {{ item.reason }}"
  loop: "{{ etcd_pki.regenerated }}"
'''

RETURN = r'''
ca:
  description: The CA after this run (predicted values in check mode when it would be created).
  returned: always
  type: dict
  contains:
    path:
      description: Path of the CA certificate.
      type: str
      sample: /home/ops/site/.pki/etcd/ca.crt
    key_path:
      description: Path of the CA private key (the content is never returned).
      type: str
      sample: /home/ops/site/.pki/etcd/ca.key
    bundle_path:
      description: Path of the CA bundle (current CA first, then CAs kept for trust overlap).
      type: str
      sample: /home/ops/site/.pki/etcd/ca-bundle.crt
    bundle_size:
      description: Number of CA certificates in the bundle.
      type: int
      sample: 2
    subject:
      description: CA subject, RFC 4514.
      type: str
      sample: CN=etcd-ca
    not_after:
      description: CA notAfter in UTC, ISO 8601.
      type: str
      sample: "2035-06-01T12:00:00Z"
    serial:
      description: CA serial number in hex; null in check mode when the CA would be created.
      type: str
      sample: 3A0F9C2B6D11E4F0A2B3C4D5E6F708192A3B4C5D
    fingerprint_sha256:
      description: SHA-256 fingerprint of the CA certificate; null in check mode when the CA would be created.
      type: str
      sample: "5C:1E:...:9A"
    action:
      description: What happened to the CA.
      type: str
      sample: unchanged
      choices: [unchanged, created, regenerated]
    regenerated:
      description: True when an existing CA was replaced because of O(regenerate_ca).
      type: bool
      sample: false
    reason:
      description: Why the CA was created or regenerated; empty when unchanged.
      type: str
      sample: regenerate_ca=true
certs:
  description: One entry per O(certs) item, in spec order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The spec name.
      type: str
      sample: etcd1/server
    cert_path:
      description: Path of the certificate.
      type: str
      sample: /home/ops/site/.pki/etcd/etcd1/server.crt
    key_path:
      description: Path of the private key (the content is never returned).
      type: str
      sample: /home/ops/site/.pki/etcd/etcd1/server.key
    subject:
      description: Subject from the spec, RFC 4514.
      type: str
      sample: CN=kube-apiserver-etcd-client,O=system:masters
    not_after:
      description: notAfter in UTC, ISO 8601 (predicted in check mode for certificates that would be issued).
      type: str
      sample: "2026-06-01T12:00:00Z"
    serial:
      description: Serial number in hex; null in check mode for certificates that would be issued.
      type: str
      sample: 6E18AD5143988E5EEB19E040AE09D713AD660986
    fingerprint_sha256:
      description: SHA-256 fingerprint of the certificate; null in check mode for certificates that would be issued.
      type: str
      sample: "2B:A1:...:BD"
    sans:
      description: SANs from the spec, normalized (IP addresses compressed, DNS names lower-cased).
      type: list
      elements: str
      sample: [etcd1, 10.0.0.11, localhost, 127.0.0.1, "::1"]
    usages:
      description: Extended key usages from the spec.
      type: list
      elements: str
      sample: [server_auth, client_auth]
    key_type:
      description: Key type from the spec.
      type: str
      sample: ecdsa-p256
    new_key:
      description: True when a new private key was (or would be) generated for this certificate.
      type: bool
      sample: false
    action:
      description: What happened to the certificate.
      type: str
      choices: [unchanged, created, renewed]
      sample: renewed
    reason:
      description: Why it was created or renewed (reasons joined with "; "), a note on corrected file modes, or empty.
      type: str
      sample: "SANs differ: +10.0.0.5 -node1-old"
regenerated:
  description: Every CA or leaf that was (or in check mode would be) created, regenerated or renewed, with the reason.
  returned: always
  type: list
  elements: dict
  sample: [{name: etcd1/server, reason: "SANs differ: +10.0.0.5 -node1-old"}]
  contains:
    name:
      description: CA name or leaf name.
      type: str
      sample: etcd1/server
    reason:
      description: Why it was (re)issued.
      type: str
      sample: "expires on 2025-07-01T00:00:00Z (within renew_before_days=30)"
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.ironstone.k8s.plugins.module_utils.pki.apply import run
from ansible_collections.ironstone.k8s.plugins.module_utils.pki.crypto import CRYPTOGRAPHY_IMPORT_ERROR, HAS_CRYPTOGRAPHY
from ansible_collections.ironstone.k8s.plugins.module_utils.pki.spec import PkiError, argument_spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib('cryptography'), exception=CRYPTOGRAPHY_IMPORT_ERROR)

    try:
        result = run(module.params, check_mode=module.check_mode)
    except PkiError as exc:
        module.fail_json(msg=str(exc))

    for warning in result.pop('warnings'):
        module.warn(warning)
    diff = result.pop('diff')
    if module._diff:
        result['diff'] = diff
    module.exit_json(**result)


if __name__ == '__main__':
    main()
