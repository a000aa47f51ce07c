# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: node_prereqs
short_description: Prepare a Linux host for Kubernetes (kernel modules, sysctls, swap) in one call
version_added: 0.1.0
author: ironstone.k8s contributors (@ironstone)
description:
  - Does in one module call what otherwise takes about ten tasks, so a node needs one round-trip.
  - Kernel modules. A module counts as present when C(/proc/modules) lists it, when C(/sys/module/<name>) exists, when
    C(/lib/modules/<release>/modules.builtin) names it, or (for C(br_netfilter) and C(overlay), which can be built in
    without a C(/sys/module) entry) when C(/proc/sys/net/bridge) exists or C(/proc/filesystems) lists C(overlay).
    Otherwise, when C(/proc/modules) exists and C(modprobe) is installed, C(modprobe <name>) is run and the module is checked
    again. A module that is still absent is handled as O(missing_module_policy) says.
  - The module list is persisted in O(modules_load_file), one name a line under the header C(# Managed by ironstone.k8s).
  - Sysctls. Each value is written live to C(/proc/sys/<key with dots as slashes>) only when it differs (runs of whitespace
    compare equal). A key without a C(/proc/sys) entry, such as C(net.bridge.*) while C(br_netfilter) is not loaded, is skipped
    with a warning. A write refused for lack of permission (for example a read-only C(/proc/sys)) is a warning in a container
    and an error on a real host. All keys are persisted, sorted, as C(key = value) lines under the header in O(sysctl_file),
    so skipped keys apply at boot once they exist.
  - >-
    Swap, with O(swap=off). C(swapoff -a) runs only when C(/proc/swaps) lists active swap (a failure is a warning in a
    container, whose swap belongs to the host, and an error on a real host). In C(/etc/fstab) every line whose file system
    type is C(swap) is commented out with the prefix C(# ironstone.k8s: ); no line is deleted.
  - Files are written only when their content differs, atomically (a temporary file in the same directory, then a rename).
    When the rename fails because the path is a bind mount (C(EBUSY) or C(EXDEV), common in containers), the file is written
    in place instead. An existing file keeps its mode; a new one gets C(0644).
options:
  kernel_modules:
    description:
      - Kernel modules that must be loaded, and that are persisted in O(modules_load_file).
    type: list
    elements: str
    default: [overlay, br_netfilter]
  modules_load_file:
    description:
      - File (below O(root)) that lists O(kernel_modules) for C(systemd-modules-load) at boot.
    type: path
    default: /etc/modules-load.d/ironstone-k8s.conf
  sysctls:
    description:
      - Sysctl keys and the values they must have, set live and persisted in O(sysctl_file).
      - Keys use dots; like C(sysctl), a C(/) in a key stands for a dot in a name (C(net.ipv4.conf.eth0/100.rp_filter)).
    type: dict
    default:
      net.ipv4.ip_forward: "1"
      net.bridge.bridge-nf-call-iptables: "1"
      net.bridge.bridge-nf-call-ip6tables: "1"
  sysctl_file:
    description:
      - File (below O(root)) that persists O(sysctls) for C(systemd-sysctl) at boot.
    type: path
    default: /etc/sysctl.d/99-ironstone-k8s.conf
  swap:
    description:
      - V(off) turns active swap off now and comments out the swap lines of C(/etc/fstab).
      - V(ignore) leaves swap alone (RV(swap.active_before) is still reported).
    type: str
    choices: ['off', ignore]
    default: 'off'
  missing_module_policy:
    description:
      - What to do when a kernel module is absent and cannot be loaded.
      - V(auto) warns and carries on when the host is a container and fails on a real host. A container is recognised by
        C(/run/.containerenv), C(/.dockerenv), C(container=) in the environment of process 1, or (with O(root=/))
        C(systemd-detect-virt -c) succeeding.
      - V(warn) always warns and carries on; V(fail) always fails.
    type: str
    choices: [auto, warn, fail]
    default: auto
  root:
    description:
      - Root of the file system whose C(/proc), C(/sys) and C(/etc) are used, including O(modules_load_file), O(sysctl_file)
        and C(/etc/fstab). Meant for tests against a copy of those trees; commands still act on the running system.
    type: path
    default: /
attributes:
  check_mode:
    support: full
    description:
      - Reports what would change and changes nothing; no modprobe or swapoff runs. A module C(modprobe) would be asked for is
        reported as V(loaded_now), and sysctls its loading would create are reported as V(absent).
  diff_mode:
    support: full
    description: Returns the before and after content of O(modules_load_file), O(sysctl_file) and C(/etc/fstab) when they change.
  platform:
    platforms: posix
    support: full
    description: Linux only (C(/proc), C(/sys), C(modprobe), C(swapoff)).
notes:
  - Only C(/etc/fstab) swap entries are handled; swap that systemd starts from C(.swap) units or zram is not disabled at boot.
  - >-
    Writing C(/proc/sys), loading modules and changing C(/etc) need root, so use C(become: true).
'''

EXAMPLES = r'''
- name: Prepare the node for Kubernetes
  ironstone.k8s.node_prereqs:
  become: true

- name: Extra modules and sysctls, swap left alone, never fail on a missing module
  ironstone.k8s.node_prereqs:
    kernel_modules: [overlay, br_netfilter, ip_vs, ip_vs_rr]
    sysctls:
      net.ipv4.ip_forward: "1"
      net.bridge.bridge-nf-call-iptables: "1"
      net.bridge.bridge-nf-call-ip6tables: "1"
      fs.inotify.max_user_instances: "8192"
    swap: ignore
    missing_module_policy: warn
  become: true
'''

RETURN = r'''
modules:
  description: State of each kernel module in O(kernel_modules).
  returned: always
  type: dict
  sample:
    overlay: {state: loaded}
    br_netfilter: {state: loaded_now}
  contains:
    state:
      description:
        - V(loaded) (listed in C(/proc/modules)), V(builtin) (present without a C(/proc/modules) line),
          V(loaded_now) (loaded by this run, or would be in check mode) or V(missing).
      type: str
sysctls:
  description: Live state of each key in O(sysctls).
  returned: always
  type: dict
  sample:
    net.ipv4.ip_forward: {before: "0", after: "1", state: set}
    net.bridge.bridge-nf-call-iptables: {before: null, after: null, state: absent}
  contains:
    before:
      description: Value read before the run; null when the key does not exist.
      type: str
    after:
      description: Value after the run (the one that would be set, in check mode); null when the key does not exist.
      type: str
    state:
      description:
        - V(set) (changed), V(unchanged), V(absent) (no C(/proc/sys) entry, skipped) or V(failed) (writing was refused in a
          container; a warning says why).
      type: str
swap:
  description: What was found and done about swap.
  returned: always
  type: dict
  sample: {active_before: true, fstab_lines_commented: 1}
  contains:
    active_before:
      description: Whether C(/proc/swaps) listed active swap before the run.
      type: bool
    fstab_lines_commented:
      description: Number of C(/etc/fstab) lines commented out by this run (or that would be, in check mode).
      type: int
container:
  description: Whether the host was recognised as a container.
  returned: always
  type: bool
  sample: false
warnings:
  description: Modules that are missing, sysctls that were skipped and other things that did not stop the run.
  returned: when there are any
  type: list
  elements: str
  sample:
    - >-
      br_netfilter is not loaded and cannot be loaded here (no loadable-module support in this kernel: /proc/modules is missing);
      running in a container, so carrying on. Kubernetes networking needs it on real hosts.
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ironstone.k8s.plugins.module_utils.node_prereqs import (
    DEFAULT_KERNEL_MODULES, DEFAULT_MODULES_LOAD_FILE, DEFAULT_SYSCTL_FILE, DEFAULT_SYSCTLS, POLICY_CHOICES, SWAP_CHOICES,
    NodePrereqsError, ensure_prereqs,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            kernel_modules=dict(type='list', elements='str', default=list(DEFAULT_KERNEL_MODULES)),
            modules_load_file=dict(type='path', default=DEFAULT_MODULES_LOAD_FILE),
            sysctls=dict(type='dict', default=dict(DEFAULT_SYSCTLS)),
            sysctl_file=dict(type='path', default=DEFAULT_SYSCTL_FILE),
            swap=dict(type='str', choices=list(SWAP_CHOICES), default='off'),
            missing_module_policy=dict(type='str', choices=list(POLICY_CHOICES), default='auto'),
            root=dict(type='path', default='/'),
        ),
        supports_check_mode=True,
    )

    def runner(argv):
        return module.run_command(argv)

    def which(name):
        return module.get_bin_path(name)

    params = module.params
    try:
        result = ensure_prereqs(
            kernel_modules=params['kernel_modules'],
            modules_load_file=params['modules_load_file'],
            sysctls=params['sysctls'],
            sysctl_file=params['sysctl_file'],
            swap=params['swap'],
            missing_module_policy=params['missing_module_policy'],
            root=params['root'],
            check_mode=module.check_mode,
            diff_mode=module._diff,
            runner=runner,
            which=which,
        )
    except NodePrereqsError as exc:
        partial = dict(exc.result)
        for warning in partial.pop('warnings', []):
            module.warn(warning)
        partial.pop('diff', None)
        module.fail_json(msg=str(exc), **partial)

    # Passing warnings to exit_json is deprecated; module.warn puts them in the result's "warnings".
    for warning in result.pop('warnings'):
        module.warn(warning)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
