# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# Kubernetes node prerequisites (kernel modules, sysctls, swap) for the
# node_prereqs module, in one pass. Kernel modules: kernel_modules.py.
#
# Plain Python (no Ansible imports) so it can be unit-tested against a fixture
# tree: every /proc, /sys and /etc path is taken below ``root``, commands
# (modprobe, swapoff, systemd-detect-virt) only run through the injected
# ``runner`` and are looked up through the injected ``which``, and container
# detection and rename can be injected as well.

import errno
import os
import re

from ansible_collections.ironstone.k8s.plugins.module_utils.common.files import atomic_write, file_mode, read_if_exists, under_root
from ansible_collections.ironstone.k8s.plugins.module_utils.kernel_modules import ensure_modules

HEADER = '# Managed by ironstone.k8s'
FSTAB_PREFIX = '# ironstone.k8s: '

DEFAULT_KERNEL_MODULES = ['overlay', 'br_netfilter']
DEFAULT_SYSCTLS = {
    'net.ipv4.ip_forward': '1',
    'net.bridge.bridge-nf-call-iptables': '1',
    'net.bridge.bridge-nf-call-ip6tables': '1',
}
DEFAULT_MODULES_LOAD_FILE = '/etc/modules-load.d/ironstone-k8s.conf'
DEFAULT_SYSCTL_FILE = '/etc/sysctl.d/99-ironstone-k8s.conf'

SWAP_CHOICES = ('off', 'ignore')
POLICY_CHOICES = ('auto', 'warn', 'fail')

# Sysctl states.
SET = 'set'
UNCHANGED = 'unchanged'
ABSENT = 'absent'
FAILED = 'failed'

# A module name as modprobe takes it; it must not start with "-" so that it can
# never be read as an option.
_MODULE_NAME_RE = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_-]*$')
_SYSCTL_KEY_RE = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_./:@+-]*$')

# Errors that mean "this process may not write here" (EROFS: /proc/sys is
# mounted read-only in most container runtimes).
_PERMISSION_ERRNOS = (errno.EACCES, errno.EPERM, errno.EROFS)


class NodePrereqsError(Exception):
    """A prerequisite cannot be met; ``result`` holds what was done before."""

    def __init__(self, msg, result=None):
        super(NodePrereqsError, self).__init__(msg)
        self.result = result or {}


def _read(path):
    """Return the file's text, or None when it does not exist."""
    return read_if_exists(path, binary=False)


def sysctl_path(root, key):
    """Path of ``key`` under <root>/proc/sys; like sysctl(8), "." and "/" swap places (net.ipv4.conf.eth0/100.rp_filter)."""
    swapped = ''.join('/' if char == '.' else '.' if char == '/' else char for char in key)
    return os.path.join(root, 'proc', 'sys', swapped)


def normalize_value(value):
    """Sysctl values compare with runs of whitespace collapsed (tcp_rmem reads back tab-separated)."""
    return ' '.join(str(value).split())


def validate(kernel_modules, sysctls, swap, missing_module_policy, root, modules_load_file, sysctl_file):
    for name in kernel_modules:
        if not isinstance(name, str) or not _MODULE_NAME_RE.match(name):
            raise NodePrereqsError(
                'kernel_modules contains %r, which is not a kernel module name; use names such as br_netfilter '
                '(letters, digits, "_" and "-", not starting with "-").' % (name,))
    for key, value in sysctls.items():
        if not _SYSCTL_KEY_RE.match(key) or '..' in key or key.endswith('.') or '//' in key:
            raise NodePrereqsError(
                'sysctls contains the key %r, which is not a sysctl name; use dotted names such as net.ipv4.ip_forward.' % (key,))
        if value is None or '\n' in str(value) or not normalize_value(value):
            raise NodePrereqsError(
                'sysctls[%r] is %r, which cannot be written as a sysctl value; give a non-empty single-line value such as "1".'
                % (key, value))
    if swap not in SWAP_CHOICES:
        raise NodePrereqsError('swap is %r; use one of %s.' % (swap, ', '.join(SWAP_CHOICES)))
    if missing_module_policy not in POLICY_CHOICES:
        raise NodePrereqsError('missing_module_policy is %r; use one of %s.' % (missing_module_policy, ', '.join(POLICY_CHOICES)))
    for option, path in (('root', root), ('modules_load_file', modules_load_file), ('sysctl_file', sysctl_file)):
        if not path or not os.path.isabs(path):
            raise NodePrereqsError('%s is %r, which is not an absolute path; give an absolute path.' % (option, path))


# ---------------------------------------------------------------- container

def detect_container(root, runner=None, which=None):
    """Whether the host at ``root`` is a container.

    Looks for <root>/run/.containerenv (podman), <root>/.dockerenv (docker) and
    ``container=`` in <root>/proc/1/environ (systemd-nspawn, LXC, podman); when
    ``root`` is "/" it also asks ``systemd-detect-virt -c`` (it inspects the
    running system, so it says nothing about a fixture tree).
    """
    if os.path.exists(under_root(root, '/run/.containerenv')) or os.path.exists(under_root(root, '/.dockerenv')):
        return True
    try:
        with open(under_root(root, '/proc/1/environ'), 'rb') as handle:
            environ = handle.read()
    except (IOError, OSError):
        environ = b''
    if any(item.startswith(b'container=') for item in environ.split(b'\0')):
        return True
    if os.path.realpath(root) == '/' and runner is not None and which is not None:
        detect_virt = which('systemd-detect-virt')
        if detect_virt:
            rc, _out, _err = runner([detect_virt, '-c'])
            return rc == 0
    return False


# ---------------------------------------------------------------- files

def modules_load_content(kernel_modules):
    seen = []
    for name in kernel_modules:
        if name not in seen:
            seen.append(name)
    return '\n'.join([HEADER] + seen) + '\n'


def sysctl_content(sysctls):
    lines = ['%s = %s' % (key, normalize_value(sysctls[key])) for key in sorted(sysctls)]
    return '\n'.join([HEADER] + lines) + '\n'


def comment_swap_lines(text):
    """Return (new_text, count): fstab lines whose fstype is swap commented out; nothing is deleted."""
    out = []
    count = 0
    for line in text.splitlines(True):
        fields = line.split()
        if fields and not fields[0].startswith('#') and len(fields) >= 3 and fields[2] == 'swap':
            out.append(FSTAB_PREFIX + line)
            count += 1
        else:
            out.append(line)
    return ''.join(out), count


def write_file(path, content, rename=os.rename):
    """Write ``content`` to ``path`` atomically (temp file in the same directory, then rename).

    The mode of an existing file is kept; a new file gets 0644.
    """
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    mode = file_mode(path, default=0o644)
    try:
        atomic_write(path, content, mode, rename=rename)
    except OSError as exc:
        if exc.errno not in (errno.EBUSY, errno.EXDEV):
            raise
        # The path is a bind mount (a container's /etc/fstab or a file
        # mounted in by the runtime): rename cannot replace a mount point
        # (EBUSY) or cross into it (EXDEV), so the content is written in
        # place instead. That is not atomic, but it is the only way to
        # change such a file.
        with open(path, 'w') as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(path, mode)


def _manage_file(path, label, content, check_mode, diffs, rename):
    """Write ``content`` if it differs; returns whether it differs."""
    before = _read(path)
    if before == content:
        return False
    diffs.append({
        'before': before or '',
        'after': content,
        'before_header': '%s (%s)' % (path, 'absent' if before is None else label),
        'after_header': '%s (%s)' % (path, label),
    })
    if not check_mode:
        try:
            write_file(path, content, rename=rename)
        except (IOError, OSError) as exc:
            raise NodePrereqsError('Cannot write %s: %s; check that the directory is writable by the connecting user or use become.'
                                   % (path, exc.strerror or exc))
    return True


# ---------------------------------------------------------------- sysctls

def ensure_sysctls(sysctls, root, check_mode, container, warnings, sysctl_file):
    result = {}
    changed = False
    for key in sorted(sysctls):
        wanted = normalize_value(sysctls[key])
        path = sysctl_path(root, key)
        try:
            current = _read(path)
        except (IOError, OSError) as exc:
            raise NodePrereqsError('Cannot read the sysctl %s from %s: %s; run with become.' % (key, path, exc.strerror or exc))
        if current is None:
            result[key] = {'before': None, 'after': None, 'state': ABSENT}
            hint = ''
            if key.startswith('net.bridge.'):
                hint = ' (it appears once br_netfilter is loaded%s)' % (', which check mode does not do' if check_mode else '')
            warnings.append('sysctl %s does not exist in this kernel (no %s)%s, so it was not set now; it is still written to %s '
                            'and applies at boot once it exists.' % (key, path, hint, sysctl_file))
            continue
        current = normalize_value(current)
        if current == wanted:
            result[key] = {'before': current, 'after': current, 'state': UNCHANGED}
            continue
        if check_mode:
            result[key] = {'before': current, 'after': wanted, 'state': SET}
            changed = True
            continue
        try:
            with open(path, 'w') as handle:
                handle.write(wanted + '\n')
        except (IOError, OSError) as exc:
            if exc.errno not in _PERMISSION_ERRNOS:
                raise NodePrereqsError('Cannot set the sysctl %s to %s: %s; check the value is valid for this kernel.'
                                       % (key, wanted, exc.strerror or exc))
            if not container:
                raise NodePrereqsError('Cannot set the sysctl %s to %s (%s: %s); run the task with become so it can write /proc/sys.'
                                       % (key, wanted, path, exc.strerror or exc))
            result[key] = {'before': current, 'after': current, 'state': FAILED}
            warnings.append('sysctl %s could not be set to %s (%s: %s); running in a container, so carrying on. It is written to %s '
                            'for real hosts.' % (key, wanted, path, exc.strerror or exc, sysctl_file))
            continue
        after = normalize_value(_read(path) or '')
        if after != wanted:
            warnings.append('sysctl %s was written as %s but the kernel reads back %s.' % (key, wanted, after))
        result[key] = {'before': current, 'after': after, 'state': SET}
        changed = True
    return result, changed


# ---------------------------------------------------------------- swap

def swap_active(root):
    """Whether <root>/proc/swaps lists an active swap area (the first line is the header)."""
    text = _read(under_root(root, '/proc/swaps')) or ''
    return any(line.strip() for line in text.splitlines()[1:])


# ---------------------------------------------------------------- main entry

def ensure_prereqs(kernel_modules=None, modules_load_file=DEFAULT_MODULES_LOAD_FILE, sysctls=None,
                   sysctl_file=DEFAULT_SYSCTL_FILE, swap='off', missing_module_policy='auto', root='/',
                   check_mode=False, diff_mode=False, runner=None, which=None, is_container=None, rename=os.rename):
    """Bring the node at ``root`` to the Kubernetes prerequisites; returns the module result (without ``changed`` only when failing).

    ``runner(argv)`` returns (rc, stdout, stderr); ``which(name)`` returns a path or None;
    ``is_container`` is None (detect), a bool, or a callable taking ``root``.
    Raises NodePrereqsError with a one-sentence message; its ``result`` holds what was done until then.
    """
    if kernel_modules is None:
        kernel_modules = list(DEFAULT_KERNEL_MODULES)
    if sysctls is None:
        sysctls = dict(DEFAULT_SYSCTLS)
    for key, value in sysctls.items():
        if isinstance(value, bool):
            raise NodePrereqsError('sysctls[%r] is the boolean %s, which is not a sysctl value; quote the number, for example "1".'
                                   % (key, value))
    sysctls = dict((key, str(value)) for key, value in sysctls.items())
    if runner is None or which is None:
        raise NodePrereqsError('ensure_prereqs needs a runner and a which function; pass the module\'s run_command and get_bin_path.')
    validate(kernel_modules, sysctls, swap, missing_module_policy, root, modules_load_file, sysctl_file)

    if is_container is None:
        container = detect_container(root, runner, which)
    elif callable(is_container):
        container = bool(is_container(root))
    else:
        container = bool(is_container)

    warnings = []
    diffs = []
    result = {'changed': False, 'container': container, 'modules': {}, 'sysctls': {},
              'swap': {'active_before': False, 'fstab_lines_commented': 0}, 'warnings': warnings}
    if diff_mode:
        result['diff'] = diffs
    try:
        _apply(result, diffs, kernel_modules, modules_load_file, sysctls, sysctl_file, swap, missing_module_policy, root,
               check_mode, runner, which, rename)
    except NodePrereqsError as exc:
        if not exc.result:
            exc.result = result
        raise
    return result


def _apply(result, diffs, kernel_modules, modules_load_file, sysctls, sysctl_file, swap, missing_module_policy, root,
           check_mode, runner, which, rename):
    container = result['container']
    warnings = result['warnings']
    # 1. Kernel modules (first, so that the sysctls they register exist).
    states, changed, missing = ensure_modules(kernel_modules, root, check_mode, runner, which)
    result['modules'] = states
    result['changed'] = changed
    fatal = []
    for name in kernel_modules:
        if name not in missing:
            continue
        reason = missing.pop(name)
        if missing_module_policy == 'fail' or (missing_module_policy == 'auto' and not container):
            fatal.append('%s (%s)' % (name, reason))
        elif container:
            warnings.append('%s is not loaded and cannot be loaded here (%s); running in a container, so carrying on. '
                            'Kubernetes networking needs it on real hosts.' % (name, reason))
        else:
            warnings.append('%s is not loaded and cannot be loaded here (%s); missing_module_policy=warn, so carrying on. '
                            'Kubernetes may not work on this node without it.' % (name, reason))
    if fatal:
        several = len(fatal) > 1
        raise NodePrereqsError(
            'Kernel module%s %s %s not loaded and cannot be loaded on this host; load %s with modprobe (installing the kernel '
            'modules package for the running kernel if modprobe cannot find %s), or set missing_module_policy=warn to carry on.'
            % ('s' if several else '', ', '.join(fatal), 'are' if several else 'is', 'them' if several else 'it', 'them' if several else 'it'),
            result=result)

    # 2. Persist the module list.
    load_path = under_root(root, modules_load_file)
    if _manage_file(load_path, 'kernel modules', modules_load_content(kernel_modules), check_mode, diffs, rename):
        result['changed'] = True

    # 3. Sysctls: live, then persisted.
    conf_path = under_root(root, sysctl_file)
    live, changed = ensure_sysctls(sysctls, root, check_mode, container, warnings, sysctl_file)
    result['sysctls'] = live
    result['changed'] = result['changed'] or changed
    if _manage_file(conf_path, 'sysctls', sysctl_content(sysctls), check_mode, diffs, rename):
        result['changed'] = True

    # 4. Swap.
    active = swap_active(root)
    result['swap']['active_before'] = active
    if swap == 'off':
        if active and check_mode:
            result['changed'] = True
        elif active:
            swapoff = which('swapoff')
            if not swapoff:
                raise NodePrereqsError('Swap is active but swapoff is not installed; install util-linux or set swap=ignore.', result=result)
            rc, out, err = runner([swapoff, '-a'])
            if rc == 0:
                result['changed'] = True
            else:
                detail = ' '.join((err or out or '').split()) or 'no output'
                if not container:
                    raise NodePrereqsError('swapoff -a failed with exit code %s (%s); turn swap off by hand or set swap=ignore.'
                                           % (rc, detail), result=result)
                warnings.append('Swap is active but swapoff -a failed with exit code %s (%s); running in a container, whose '
                                'swap belongs to the host, so carrying on.' % (rc, detail))
        fstab_path = under_root(root, '/etc/fstab')
        try:
            fstab = _read(fstab_path)
        except (IOError, OSError) as exc:
            raise NodePrereqsError('Cannot read %s: %s; run the task with become.' % (fstab_path, exc.strerror or exc), result=result)
        if fstab is not None:
            new_fstab, count = comment_swap_lines(fstab)
            if count:
                _manage_file(fstab_path, 'swap commented out', new_fstab, check_mode, diffs, rename)
                result['swap']['fstab_lines_commented'] = count
                result['changed'] = True
