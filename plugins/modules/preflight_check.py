#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: preflight_check
short_description: Check every input of the enabled stages before any host is touched
version_added: 0.1.0
author: ironstone.k8s contributors (@ironstone)
description:
  - Runs on the controller only (it is an action plugin) and never connects to a host. Run it once
    (C(run_once)); it reads the variables of every inventory host itself.
  - Validates each host's variables against the argument specs of the roles that the enabled stages run on that
    host, strictly, without Ansible's conversions. A list where a string is expected is refused, and so is a string
    where a list is expected. A boolean must be C(true) or C(false), or one of yes/no/on/off/1/0 when given with
    C(-e). Numbers must be whole numbers in range, and choices must be one of those listed.
  - Checks the nested inputs that a spec cannot describe, such as each registry mirror's C(url), C(skip_verify)
    and C(ca_file) (which must exist on the controller), the sysctls, the extra runtimes, and C(etcd_extra_config)
    with etcd's own start-up rules.
  - Reports variables that carry a role's prefix but that no role declares, with the closest declared name.
    It also reports inventory groups that look like misspellings of C(etcd), C(kube_control_plane), C(kube_node)
    or C(edge), and hosts that are in none of those groups. These are errors in the C(production) profile and
    warnings in C(lab), unless O(unknown_variables) says otherwise.
  - Refuses host names that cannot be Kubernetes node names (unless the host sets C(kube_node_name)), engine
    combinations that cannot work, downloads without a sha256, an even or empty etcd group, shared etcd
    addresses or names, and an etcd PKI directory inside a git work tree that git does not ignore.
  - All problems are reported together, one sentence each, naming the variable, its value, the host or hosts and
    what to do.
options:
  stages:
    description: The enabled stages (C(runtime), C(etcd), C(storage)); each adds the specs of its roles.
    type: list
    elements: str
    required: true
  profile:
    description: C(lab) or C(production); decides how unknown variables and groups are reported by default.
    type: str
    default: production
  unknown_variables:
    description:
      - C(fail) or C(warn) for unknown variables, misspelt groups and hosts in no group; C(auto) fails in the
        C(production) profile and warns in C(lab).
    type: str
    choices: [auto, fail, warn]
    default: auto
attributes:
  check_mode:
    support: full
    description: The plugin only reads; it runs the same in check mode.
  diff_mode:
    support: none
    description: Nothing is changed, so there is nothing to diff.
  platform:
    platforms: posix
    support: full
    description: Runs on the controller.
"""

EXAMPLES = r"""
- name: Check the inventory and every input of the enabled stages
  ironstone.k8s.preflight_check:
    stages: [runtime, etcd, storage]
    profile: "{{ ironstone_profile | default('production') }}"
  run_once: true
"""

RETURN = r"""
errors:
  description: The problems found, one sentence each; the task fails when there is any.
  returned: always
  type: list
  elements: str
  sample: ["etcd_instal_source is set on cp1, cp2 and cp3 but is not a variable of any role; did you mean etcd_install_source?"]
hosts:
  description: How many inventory hosts were checked.
  returned: always
  type: int
  sample: 5
variables:
  description: How many host variables were validated against a role's argument spec.
  returned: always
  type: int
  sample: 42
kube_versions:
  description: Each Kubernetes node's kube_version (its value, else the default), for the version-skew check.
  returned: always
  type: dict
  sample: {"cp1": "1.32.3"}
seconds:
  description: How long the checks took on the controller.
  returned: always
  type: float
  sample: 0.31
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec=dict(
            stages=dict(type="list", elements="str", required=True),
            profile=dict(type="str", default="production"),
            unknown_variables=dict(type="str", choices=["auto", "fail", "warn"], default="auto"),
        ),
        supports_check_mode=True,
    )
    module.fail_json(msg="ironstone.k8s.preflight_check runs on the controller as an action plugin; it cannot run on a host.")


if __name__ == "__main__":
    main()
