# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: gpu_info
short_description: Detect NVIDIA GPUs and compute Kubernetes node labels for them
version_added: 0.1.0
author: ironstone.k8s contributors (@ironstone)
description:
  - Detects NVIDIA GPUs on the host and returns them with the Kubernetes node labels a GPU node should carry.
  - When C(nvidia-smi) exists it is run as
    C(nvidia-smi --query-gpu=index,name,uuid,memory.total,driver_version,compute_cap,pci.bus_id,pci.device_id --format=csv,noheader,nounits).
    C(pci.bus_id) is asked so that its rows can be matched with the sysfs scan; C(pci.device_id) gives the raw PCI device ID.
    Drivers older than 510 do not know C(compute_cap); the query is then repeated without it.
  - A sysfs PCI scan of O(sysfs_root)C(/bus/pci/devices/*/{vendor,device,class}) always runs. It finds devices with vendor
    C(0x10de) and class VGA (C(0x0300xx)) or 3D controller (C(0x0302xx)); NVSwitches and audio functions are not GPUs,
    and SR-IOV virtual functions (a C(physfn) entry) are skipped. Known device IDs are named from a built-in table;
    an unknown device ID is reported with C(product=null) and its raw C(device_id), never guessed.
  - If nvidia-smi works, its rows are used and any GPU that only sysfs sees is appended with C(source=sysfs) and C(index=null).
    If nvidia-smi is missing or fails, the sysfs result is returned and the failure is reported in RV(driver.error);
    the module does not fail for that.
  - No GPUs is not an error; RV(gpus) and RV(labels) are then empty.
  - The module only reads; it never changes anything.
options:
  sysfs_root:
    description:
      - Root of the sysfs tree to scan, for example a captured copy of C(/sys).
    type: path
    default: /sys
  nvidia_smi_path:
    description:
      - Path of the C(nvidia-smi) binary.
      - When not set, C(nvidia-smi) is looked up on E(PATH) (and the sbin directories); if it is not found the driver is
        reported as absent and only sysfs is used.
    type: path
  timeout:
    description:
      - Seconds to wait for C(nvidia-smi) before giving up on it (a hung driver can block it).
      - Enforced with the C(timeout) command (coreutils) when it is installed.
    type: int
    default: 30
attributes:
  check_mode:
    support: full
    description: The module only reads, so check mode returns the same result as a normal run.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
  platform:
    platforms: posix
    support: full
    description: Needs a Linux sysfs; nvidia-smi is optional.
notes:
  - >-
    Labels set when at least one GPU is found: C(nvidia.com/gpu.present=true), C(nvidia.com/gpu.count) (all GPUs),
    C(nvidia.com/gpu.product) (product name with spaces replaced by C(-), as GPU Feature Discovery does),
    C(nvidia.com/gpu.memory) (MiB of one GPU) and C(accelerator). Product, memory and accelerator are left out when
    the product is unknown. Every key and value is checked against the Kubernetes label syntax and the module fails
    if one does not pass.
  - >-
    Mixed GPU models on one node: the product, memory and accelerator labels describe the model most GPUs have; on a tie,
    the model of the first GPU (lowest index, i.e. lowest PCI address). C(nvidia.com/gpu.count) counts all GPUs and
    RV(mixed) is V(true).
  - "Table of C(accelerator) values and the product names (as nvidia-smi prints them) that get them; the name matches with
    or without a leading C(NVIDIA); other products get no C(accelerator) label. Values are the ones GKE uses; those marked *
    have no GKE equivalent and follow the same pattern."
  - "C(nvidia-tesla-t4): Tesla T4."
  - "C(nvidia-tesla-v100): Tesla V100-SXM2-16GB, Tesla V100-SXM2-32GB, Tesla V100-PCIE-16GB, Tesla V100-PCIE-32GB."
  - "C(nvidia-a10)*: NVIDIA A10. C(nvidia-a30)*: NVIDIA A30. C(nvidia-a40)*: NVIDIA A40."
  - "C(nvidia-tesla-a100): NVIDIA A100-PCIE-40GB, NVIDIA A100-SXM4-40GB."
  - "C(nvidia-a100-80gb): NVIDIA A100 80GB PCIe, NVIDIA A100-SXM4-80GB."
  - "C(nvidia-l4): NVIDIA L4. C(nvidia-l40s)*: NVIDIA L40S."
  - "C(nvidia-h100-80gb): NVIDIA H100 PCIe, NVIDIA H100 80GB HBM3."
  - "C(nvidia-h200-141gb): NVIDIA H200."
  - >-
    PCI device IDs known without a driver (product, MiB): 0x1eb8 Tesla T4 15360; 0x1db1 Tesla V100-SXM2-16GB 16384;
    0x1db4 Tesla V100-PCIE-16GB 16384; 0x1db5 Tesla V100-SXM2-32GB 32768; 0x1db6 Tesla V100-PCIE-32GB 32768;
    0x2236 NVIDIA A10 23028; 0x20b7 NVIDIA A30 24576; 0x2235 NVIDIA A40 46068; 0x20f1 NVIDIA A100-PCIE-40GB 40960;
    0x20b0 NVIDIA A100-SXM4-40GB 40960; 0x20b5 NVIDIA A100 80GB PCIe 81920; 0x20b2 NVIDIA A100-SXM4-80GB 81920;
    0x27b8 NVIDIA L4 23034; 0x26b9 NVIDIA L40S 46068; 0x2331 NVIDIA H100 PCIe 81559; 0x2330 NVIDIA H100 80GB HBM3 81559;
    0x2335 NVIDIA H200 143771. The memory is the nominal value; when nvidia-smi answers, its value is used.
'''

EXAMPLES = r'''
- name: Detect GPUs
  ironstone.k8s.gpu_info:
  register: gpu

- name: Show the node labels a GPU node gets
  ansible.builtin.debug:
    var: gpu.labels
  when: gpu.count > 0

- name: Scan a captured sysfs tree with a specific nvidia-smi
  ironstone.k8s.gpu_info:
    sysfs_root: /srv/capture/sys
    nvidia_smi_path: /usr/bin/nvidia-smi
    timeout: 10
'''

RETURN = r'''
gpus:
  description: The GPUs found, nvidia-smi rows first (in its index order), then GPUs only sysfs saw (in PCI address order).
  returned: always
  type: list
  elements: dict
  sample:
    - index: 0
      product: NVIDIA H100 80GB HBM3
      memory_mib: 81559
      uuid: GPU-6f1c3a2e-0d4b-4a57-9c1e-2b8d7f0a9e31
      pci_address: "0000:18:00.0"
      device_id: "0x2330"
      driver_version: 550.90.07
      compute_cap: "9.0"
      accelerator: nvidia-h100-80gb
      source: nvidia-smi
  contains:
    index:
      description: nvidia-smi index; for sysfs-only results, the position in PCI address order; null for a GPU nvidia-smi did not list.
      type: int
    product:
      description: Product name as nvidia-smi prints it; null when only sysfs saw the GPU and its device ID is unknown.
      type: str
    memory_mib:
      description: Total memory in MiB; null when unknown.
      type: int
    uuid:
      description: GPU UUID; null without nvidia-smi.
      type: str
    pci_address:
      description: PCI address, C(domain:bus:device.function) with a 4-digit domain.
      type: str
    device_id:
      description: Raw PCI device ID, for example C(0x2330).
      type: str
    driver_version:
      description: Driver version nvidia-smi reported; null without nvidia-smi.
      type: str
    compute_cap:
      description: CUDA compute capability, from nvidia-smi or the built-in table.
      type: str
    accelerator:
      description: The C(accelerator) label value for this GPU; null when the product is not mapped.
      type: str
    source:
      description: Where the row came from, C(nvidia-smi) or C(sysfs).
      type: str
count:
  description: Number of GPUs in RV(gpus).
  returned: always
  type: int
  sample: 8
mixed:
  description: Whether the GPUs are of more than one model (see the notes for how the labels are chosen then).
  returned: always
  type: bool
  sample: false
driver:
  description: State of the NVIDIA driver.
  returned: always
  type: dict
  sample:
    present: true
    version: 550.90.07
    error: null
  contains:
    present:
      description: Whether nvidia-smi exists or the nvidia kernel module is loaded.
      type: bool
    version:
      description: Driver version from nvidia-smi, else from the loaded kernel module; null when neither is known.
      type: str
    error:
      description: Why nvidia-smi gave no GPU list (its message and exit code, a timeout, a missing path); null when it worked or was not found.
      type: str
labels:
  description: Kubernetes node labels for the GPUs; empty when there are none. Every key and value passes the label syntax check.
  returned: always
  type: dict
  sample:
    nvidia.com/gpu.present: "true"
    nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3
    nvidia.com/gpu.count: "8"
    nvidia.com/gpu.memory: "81559"
    accelerator: nvidia-h100-80gb
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ironstone.k8s.plugins.module_utils.gpu import GpuFactsError, command_runner, gather_gpu_facts


def main():
    module = AnsibleModule(
        argument_spec=dict(
            sysfs_root=dict(type='path', default='/sys'),
            nvidia_smi_path=dict(type='path'),
            timeout=dict(type='int', default=30),
        ),
        supports_check_mode=True,
    )
    if module.params['timeout'] < 1:
        module.fail_json(msg='timeout must be at least 1 second, got %s; set a positive number of seconds.' % module.params['timeout'])

    nvidia_smi_path = module.params['nvidia_smi_path']
    if nvidia_smi_path is None:
        nvidia_smi_path = module.get_bin_path('nvidia-smi')

    try:
        result = gather_gpu_facts(
            sysfs_root=module.params['sysfs_root'],
            nvidia_smi_path=nvidia_smi_path,
            runner=command_runner(module.run_command, module.get_bin_path('timeout')),
            timeout=module.params['timeout'],
        )
    except GpuFactsError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
