# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# NVIDIA GPU discovery and Kubernetes node-label computation for gpu_info.
#
# Plain Python (no Ansible imports) so it can be unit-tested directly. Two
# sources are used:
# * nvidia-smi (when the binary exists), which knows the exact product name,
#   memory, UUID, driver version and compute capability;
# * a sysfs PCI scan of <sysfs_root>/bus/pci/devices/*/{vendor,device,class},
#   which works without any driver and complements nvidia-smi (GPUs that the
#   driver does not list are still reported, with source "sysfs").

import csv
import os
import re

NVIDIA_VENDOR_ID = 0x10de

# PCI base class 0x03 (display controller); sub-classes 0x00 (VGA compatible)
# and 0x02 (3D controller). NVSwitches (0x0680), HDMI audio (0x0403) and USB-C
# controllers on consumer boards are therefore not counted as GPUs.
GPU_PCI_CLASSES = (0x0300, 0x0302)

# Fields asked from nvidia-smi, in this order. The first six are the ones the
# brief names; pci.bus_id lets the nvidia-smi rows be matched with the sysfs
# scan and pci.device_id gives the raw PCI device ID for every GPU.
NVIDIA_SMI_FIELDS = (
    'index', 'name', 'uuid', 'memory.total', 'driver_version', 'compute_cap',
    'pci.bus_id', 'pci.device_id',
)
# compute_cap only exists in nvidia-smi from driver 510 on; older drivers
# reject the whole query, so it is retried without it.
NVIDIA_SMI_OPTIONAL_FIELDS = ('compute_cap',)

# PCI device ID -> (product name as nvidia-smi prints it, memory.total in MiB
# as current drivers print it, accelerator label value, compute capability).
# Memory is the nominal value used when only sysfs is available; when
# nvidia-smi answers, its own value is used.
GPU_MODELS = {
    0x1eb8: ('Tesla T4', 15360, 'nvidia-tesla-t4', '7.5'),
    0x1db1: ('Tesla V100-SXM2-16GB', 16384, 'nvidia-tesla-v100', '7.0'),
    0x1db4: ('Tesla V100-PCIE-16GB', 16384, 'nvidia-tesla-v100', '7.0'),
    0x1db5: ('Tesla V100-SXM2-32GB', 32768, 'nvidia-tesla-v100', '7.0'),
    0x1db6: ('Tesla V100-PCIE-32GB', 32768, 'nvidia-tesla-v100', '7.0'),
    0x2236: ('NVIDIA A10', 23028, 'nvidia-a10', '8.6'),
    0x20b7: ('NVIDIA A30', 24576, 'nvidia-a30', '8.0'),
    0x2235: ('NVIDIA A40', 46068, 'nvidia-a40', '8.6'),
    0x20f1: ('NVIDIA A100-PCIE-40GB', 40960, 'nvidia-tesla-a100', '8.0'),
    0x20b0: ('NVIDIA A100-SXM4-40GB', 40960, 'nvidia-tesla-a100', '8.0'),
    0x20b5: ('NVIDIA A100 80GB PCIe', 81920, 'nvidia-a100-80gb', '8.0'),
    0x20b2: ('NVIDIA A100-SXM4-80GB', 81920, 'nvidia-a100-80gb', '8.0'),
    0x27b8: ('NVIDIA L4', 23034, 'nvidia-l4', '8.9'),
    0x26b9: ('NVIDIA L40S', 46068, 'nvidia-l40s', '8.9'),
    0x2331: ('NVIDIA H100 PCIe', 81559, 'nvidia-h100-80gb', '9.0'),
    0x2330: ('NVIDIA H100 80GB HBM3', 81559, 'nvidia-h100-80gb', '9.0'),
    0x2335: ('NVIDIA H200', 143771, 'nvidia-h200-141gb', '9.0'),
}

LABEL_PRESENT = 'nvidia.com/gpu.present'
LABEL_PRODUCT = 'nvidia.com/gpu.product'
LABEL_COUNT = 'nvidia.com/gpu.count'
LABEL_MEMORY = 'nvidia.com/gpu.memory'
LABEL_ACCELERATOR = 'accelerator'

_NOT_AVAILABLE = ('', 'n/a', '[n/a]', '[not supported]', 'not supported', '[unknown error]', '[insufficient permissions]')

_DNS_LABEL = r'[a-z0-9](?:[-a-z0-9]*[a-z0-9])?'
_LABEL_PREFIX_RE = re.compile(r'%s(?:\.%s)*' % (_DNS_LABEL, _DNS_LABEL))
_LABEL_NAME_RE = re.compile(r'(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')


class GpuFactsError(Exception):
    """Raised when the facts cannot be turned into valid output (e.g. a bad label)."""


# --------------------------------------------------------------------------
# Kubernetes label syntax
# --------------------------------------------------------------------------

def label_key_error(key):
    """Return why ``key`` is not a valid Kubernetes label key, or None if it is."""
    if not isinstance(key, str):
        return 'label key %r is not a string' % (key,)
    if key.count('/') > 1:
        return 'label key %r has more than one "/"' % (key,)
    if '/' in key:
        prefix, name = key.split('/', 1)
        if not prefix:
            return 'label key %r has an empty prefix before "/"' % (key,)
        if len(prefix) > 253:
            return 'label key %r has a prefix longer than 253 characters' % (key,)
        if not _LABEL_PREFIX_RE.fullmatch(prefix):
            return 'label key %r has a prefix that is not a lowercase DNS subdomain' % (key,)
        if any(len(part) > 63 for part in prefix.split('.')):
            return 'label key %r has a DNS label longer than 63 characters in its prefix' % (key,)
    else:
        name = key
    if not name:
        return 'label key %r has an empty name' % (key,)
    if len(name) > 63:
        return 'label key %r has a name longer than 63 characters' % (key,)
    if not _LABEL_NAME_RE.fullmatch(name):
        return ('label key %r has a name that is not alphanumerics, "-", "_" or "." '
                'beginning and ending with an alphanumeric' % (key,))
    return None


def label_value_error(value):
    """Return why ``value`` is not a valid Kubernetes label value, or None if it is."""
    if not isinstance(value, str):
        return 'label value %r is not a string' % (value,)
    if value == '':
        return None
    if len(value) > 63:
        return 'label value %r is longer than 63 characters' % (value,)
    if not _LABEL_NAME_RE.fullmatch(value):
        return ('label value %r is not alphanumerics, "-", "_" or "." '
                'beginning and ending with an alphanumeric' % (value,))
    return None


def validate_labels(labels):
    """Raise GpuFactsError naming every invalid key or value in ``labels``."""
    problems = []
    for key in sorted(labels, key=str):
        for problem in (label_key_error(key), label_value_error(labels[key])):
            if problem:
                problems.append(problem)
    if problems:
        raise GpuFactsError('Refusing to return invalid Kubernetes node labels: %s; '
                            'report the GPU product so the label mapping can be fixed.' % '; '.join(problems))


# --------------------------------------------------------------------------
# Product tables
# --------------------------------------------------------------------------

def _product_key(name):
    """Normalise a product name: old drivers print 'A100-SXM4-40GB', new ones 'NVIDIA A100-SXM4-40GB'."""
    key = ' '.join(name.split()).lower()
    if key.startswith('nvidia '):
        key = key[len('nvidia '):]
    return key


_ACCELERATOR_BY_PRODUCT = dict((_product_key(model[0]), model[2]) for model in GPU_MODELS.values())


def accelerator_for_product(product):
    """Return the ``accelerator`` label value for an nvidia-smi product name, or None when unmapped."""
    if not product:
        return None
    return _ACCELERATOR_BY_PRODUCT.get(_product_key(product))


def product_label_value(product):
    """Product label value as GPU Feature Discovery writes it: spaces become '-'."""
    return '-'.join(product.split())


def format_pci_id(value):
    return '0x%04x' % value


def normalize_pci_address(address):
    """'00000000:17:00.0' (nvidia-smi) and '0000:17:00.0' (sysfs) -> '0000:17:00.0'."""
    if not address:
        return None
    address = address.strip().lower()
    match = re.match(r'^([0-9a-f]+):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$', address)
    if not match:
        return address
    return '%04x:%s:%s.%s' % (int(match.group(1), 16), match.group(2), match.group(3), match.group(4))


# --------------------------------------------------------------------------
# sysfs
# --------------------------------------------------------------------------

def _read_hex(path):
    try:
        with open(path) as handle:
            return int(handle.read().strip(), 16)
    except (IOError, OSError, ValueError):
        return None


def scan_sysfs(sysfs_root):
    """Return NVIDIA GPUs found under ``<sysfs_root>/bus/pci/devices``, in PCI address order.

    SR-IOV virtual functions (entries with a ``physfn`` link, e.g. vGPU VFs of
    an A100) are skipped: they are slices of a GPU already counted.
    ``index`` is the position in PCI address order, which is the order
    nvidia-smi uses by default.
    """
    devices_dir = os.path.join(sysfs_root, 'bus', 'pci', 'devices')
    try:
        entries = sorted(os.listdir(devices_dir))
    except (IOError, OSError):
        return []
    gpus = []
    for entry in entries:
        path = os.path.join(devices_dir, entry)
        if _read_hex(os.path.join(path, 'vendor')) != NVIDIA_VENDOR_ID:
            continue
        pci_class = _read_hex(os.path.join(path, 'class'))
        if pci_class is None or (pci_class >> 8) not in GPU_PCI_CLASSES:
            continue
        if os.path.lexists(os.path.join(path, 'physfn')):
            continue
        device_id = _read_hex(os.path.join(path, 'device'))
        model = GPU_MODELS.get(device_id)
        gpus.append({
            'index': len(gpus),
            'product': model[0] if model else None,
            'memory_mib': model[1] if model else None,
            'uuid': None,
            'pci_address': normalize_pci_address(entry),
            'device_id': format_pci_id(device_id) if device_id is not None else None,
            'driver_version': None,
            'compute_cap': model[3] if model else None,
            'accelerator': model[2] if model else None,
            'source': 'sysfs',
        })
    return gpus


def read_kernel_module_version(sysfs_root):
    """Version of the loaded nvidia kernel module (``<sysfs_root>/module/nvidia/version``), or None."""
    try:
        with open(os.path.join(sysfs_root, 'module', 'nvidia', 'version')) as handle:
            return handle.read().strip() or None
    except (IOError, OSError):
        return None


# --------------------------------------------------------------------------
# nvidia-smi
# --------------------------------------------------------------------------

def command_runner(run_command, timeout_path=None):
    """Build the ``runner(args, timeout) -> (rc, stdout, stderr)`` gather_gpu_facts uses.

    ``run_command`` is AnsibleModule.run_command (or anything with its
    signature). A hung driver can block nvidia-smi forever, so when the
    coreutils ``timeout`` binary is given the command runs under it; its exit
    status 124 is reported as a timeout with rc None.
    """
    def runner(args, timeout):
        command = list(args)
        if timeout_path:
            command = [timeout_path, str(timeout)] + command
        rc, out, err = run_command(command, environ_update={'LC_ALL': 'C', 'LANG': 'C'})
        if timeout_path and rc == 124:
            return None, '', '%s did not answer within %s seconds' % (args[0], timeout)
        return rc, out, err
    return runner


def nvidia_smi_args(nvidia_smi_path, fields):
    return [nvidia_smi_path, '--query-gpu=%s' % ','.join(fields), '--format=csv,noheader,nounits']


def _clean(value):
    value = value.strip()
    if value.lower() in _NOT_AVAILABLE:
        return None
    return value


def _to_int(value):
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def parse_nvidia_smi_csv(text, fields=NVIDIA_SMI_FIELDS):
    """Parse ``--format=csv,noheader,nounits`` output into GPU dicts (source nvidia-smi)."""
    gpus = []
    for row in csv.reader(text.splitlines(), skipinitialspace=True):
        if not row or not ''.join(row).strip():
            continue
        if len(row) != len(fields):
            raise GpuFactsError('nvidia-smi printed a line with %d fields where %d were asked for: %r; '
                                'check that nvidia_smi_path points at nvidia-smi.' % (len(row), len(fields), ','.join(row)))
        raw = dict(zip(fields, (_clean(value) for value in row)))
        device_id = None
        # nvidia-smi prints device and vendor IDs together: 0x20B210DE.
        if raw.get('pci.device_id') and re.match(r'^0x[0-9a-fA-F]{8}$', raw['pci.device_id']):
            device_id = int(raw['pci.device_id'], 16) >> 16
        product = raw.get('name')
        gpus.append({
            'index': _to_int(raw.get('index')),
            'product': product,
            'memory_mib': _to_int(raw.get('memory.total')),
            'uuid': raw.get('uuid'),
            'pci_address': normalize_pci_address(raw.get('pci.bus_id')),
            'device_id': format_pci_id(device_id) if device_id is not None else None,
            'driver_version': raw.get('driver_version'),
            'compute_cap': raw.get('compute_cap'),
            'accelerator': accelerator_for_product(product),
            'source': 'nvidia-smi',
        })
    return gpus


def _message(rc, out, err):
    text = ' '.join(line.strip() for line in (out + '\n' + err).splitlines() if line.strip())
    if rc is None:
        return text
    return 'nvidia-smi exited with %s: %s' % (rc, text or '(no output)')


def query_nvidia_smi(nvidia_smi_path, runner, timeout):
    """Return (gpus, error). ``gpus`` is None when nvidia-smi failed; ``error`` is its message."""
    fields = NVIDIA_SMI_FIELDS
    rc, out, err = runner(nvidia_smi_args(nvidia_smi_path, fields), timeout)
    if rc not in (0, None) and 'is not a valid field' in (out + err):
        fields = tuple(f for f in NVIDIA_SMI_FIELDS if f not in NVIDIA_SMI_OPTIONAL_FIELDS)
        rc, out, err = runner(nvidia_smi_args(nvidia_smi_path, fields), timeout)
    if rc != 0:
        return None, _message(rc, out, err)
    gpus = parse_nvidia_smi_csv(out, fields)
    return gpus, None


# --------------------------------------------------------------------------
# Putting it together
# --------------------------------------------------------------------------

def _merge(smi_gpus, sysfs_gpus):
    """nvidia-smi rows first; sysfs GPUs whose PCI address nvidia-smi did not list are appended."""
    by_address = dict((gpu['pci_address'], gpu) for gpu in sysfs_gpus)
    merged = []
    for gpu in smi_gpus:
        seen = by_address.pop(gpu['pci_address'], None) if gpu['pci_address'] else None
        if seen:
            for key in ('device_id', 'compute_cap'):
                if gpu[key] is None:
                    gpu[key] = seen[key]
        merged.append(gpu)
    if any(gpu['pci_address'] for gpu in smi_gpus) or not smi_gpus:
        for gpu in sysfs_gpus:
            if gpu['pci_address'] in by_address:
                extra = dict(gpu)
                # The driver has no index for a GPU it does not list.
                extra['index'] = None
                merged.append(extra)
    return merged


def _model_key(gpu):
    if gpu['product']:
        return _product_key(gpu['product'])
    return 'unknown:%s' % gpu['device_id']


def primary_model(gpus):
    """Pick the GPU whose model labels the node, and whether the node is mixed.

    Policy: the model most GPUs have wins; on a tie, the model of the GPU
    listed first (lowest index / PCI address) wins.
    """
    if not gpus:
        return None, False
    counts = {}
    first_seen = {}
    for position, gpu in enumerate(gpus):
        key = _model_key(gpu)
        counts[key] = counts.get(key, 0) + 1
        first_seen.setdefault(key, position)
    best = sorted(counts, key=lambda k: (-counts[k], first_seen[k]))[0]
    return gpus[first_seen[best]], len(counts) > 1


def compute_labels(gpus):
    """Node labels for ``gpus``; {} when there are none. Validated before being returned."""
    if not gpus:
        return {}
    primary, _mixed = primary_model(gpus)
    labels = {
        LABEL_PRESENT: 'true',
        LABEL_COUNT: str(len(gpus)),
    }
    if primary['product']:
        labels[LABEL_PRODUCT] = product_label_value(primary['product'])
    if primary['memory_mib']:
        labels[LABEL_MEMORY] = str(primary['memory_mib'])
    if primary['accelerator']:
        labels[LABEL_ACCELERATOR] = primary['accelerator']
    validate_labels(labels)
    return labels


def gather_gpu_facts(sysfs_root='/sys', nvidia_smi_path=None, runner=None, timeout=30):
    """Return the gpu_info result (without ``changed``).

    ``nvidia_smi_path`` None means nvidia-smi was not found; a path that does
    not exist is reported in ``driver.error``. ``runner(args, timeout)``
    returns (rc, stdout, stderr), see command_runner(); it is needed only
    when ``nvidia_smi_path`` is set.
    """
    sysfs_gpus = scan_sysfs(sysfs_root)
    kernel_version = read_kernel_module_version(sysfs_root)
    driver = {'present': kernel_version is not None, 'version': kernel_version, 'error': None}

    smi_gpus = None
    if nvidia_smi_path:
        if os.path.isfile(nvidia_smi_path) and os.access(nvidia_smi_path, os.X_OK):
            driver['present'] = True
            smi_gpus, driver['error'] = query_nvidia_smi(nvidia_smi_path, runner, timeout)
        else:
            driver['error'] = ('nvidia-smi was not found or is not executable at %s; '
                               'fix nvidia_smi_path or install the NVIDIA driver.' % nvidia_smi_path)

    if smi_gpus is None:
        gpus = sysfs_gpus
    else:
        gpus = _merge(smi_gpus, sysfs_gpus)
        versions = [gpu['driver_version'] for gpu in smi_gpus if gpu['driver_version']]
        if versions:
            driver['version'] = versions[0]

    _primary, mixed = primary_model(gpus)
    return {
        'gpus': gpus,
        'count': len(gpus),
        'mixed': mixed,
        'driver': driver,
        'labels': compute_labels(gpus),
    }
