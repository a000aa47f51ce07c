# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# Unit tests for module_utils/node_prereqs.py.
#
# Stand-ins used here: ``FakeHost`` fabricates a host's /proc, /sys and /etc
# trees in tmp_path (the code reads them through its ``root`` option);
# ``FakeRunner`` stands in for modprobe, swapoff and systemd-detect-virt: it
# records every command and applies the effect the real command would have on
# the fabricated tree (a /sys/module directory appears, /proc/swaps empties).

import errno
import os
import stat

import pytest

from ansible_collections.ironstone.k8s.plugins.module_utils import node_prereqs as np_utils
from ansible_collections.ironstone.k8s.plugins.module_utils.node_prereqs import (
    HEADER, NodePrereqsError, comment_swap_lines, detect_container, ensure_prereqs, sysctl_path, write_file,
)

SWAPS_HEADER = 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n'
SWAPS_ACTIVE = SWAPS_HEADER + '/swap.img                               file\t\t2097148\t\t0\t\t-2\n'
FSTAB = (
    '# /etc/fstab: static file system information.\n'
    'UUID=1111-2222 / ext4 errors=remount-ro 0 1\n'
    '/swap.img none swap sw 0 0\n'
    '# /dev/sdb1 none swap sw 0 0\n'
    'UUID=3333 /boot ext4 defaults 0 2\n'
)
LOAD_FILE = '/etc/modules-load.d/ironstone-k8s.conf'
SYSCTL_FILE = '/etc/sysctl.d/99-ironstone-k8s.conf'
ALL_SYSCTLS = (
    'net.ipv4.ip_forward', 'net.bridge.bridge-nf-call-iptables', 'net.bridge.bridge-nf-call-ip6tables',
)


class FakeHost(object):
    """Stand-in host tree under tmp_path: /proc/modules, /proc/sys, /proc/swaps, /sys/module, /etc."""

    def __init__(self, root, proc_modules='', sys_modules=(), sysctls=None, swaps=SWAPS_HEADER, fstab=FSTAB):
        self.root = str(root)
        os.makedirs(self.path('/proc/sys'))
        os.makedirs(self.path('/sys/module'))
        os.makedirs(self.path('/etc'))
        if proc_modules is not None:
            self.write('/proc/modules', proc_modules)
        for name in sys_modules:
            os.makedirs(self.path('/sys/module/' + name))
        if sysctls is None:
            sysctls = {'net.ipv4.ip_forward': '0'}
        for key, value in sysctls.items():
            self.set_sysctl(key, value)
        self.write('/proc/swaps', swaps)
        if fstab is not None:
            self.write('/etc/fstab', fstab)

    def path(self, path):
        return os.path.join(self.root, path.lstrip('/'))

    def write(self, path, text):
        full = self.path(path)
        if not os.path.isdir(os.path.dirname(full)):
            os.makedirs(os.path.dirname(full))
        with open(full, 'w') as handle:
            handle.write(text)

    def read(self, path):
        with open(self.path(path)) as handle:
            return handle.read()

    def exists(self, path):
        return os.path.exists(self.path(path))

    def set_sysctl(self, key, value):
        self.write('/proc/sys/' + key.replace('.', '/'), value + '\n')

    def sysctl(self, key):
        return self.read('/proc/sys/' + key.replace('.', '/')).strip()

    def snapshot(self):
        """Every file under the tree with its content, to prove that nothing changed."""
        files = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            for name in filenames:
                full = os.path.join(dirpath, name)
                with open(full) as handle:
                    files[os.path.relpath(full, self.root)] = handle.read()
            for name in dirnames:
                files[os.path.relpath(os.path.join(dirpath, name), self.root) + '/'] = None
        return files


class FakeRunner(object):
    """Stand-in for modprobe/swapoff: records argv and changes the fake tree as the real command would."""

    def __init__(self, host, loadable=('overlay', 'br_netfilter'), modprobe_rc=0, swapoff_rc=0,
                 creates_sysctls=None):
        self.host = host
        self.loadable = loadable
        self.modprobe_rc = modprobe_rc
        self.swapoff_rc = swapoff_rc
        self.creates_sysctls = creates_sysctls or {}
        self.calls = []

    def __call__(self, argv):
        self.calls.append(list(argv))
        command = os.path.basename(argv[0])
        if command == 'modprobe':
            name = argv[1]
            if self.modprobe_rc != 0:
                return self.modprobe_rc, '', 'modprobe: FATAL: Module %s not found in directory /lib/modules/6.8.0\n' % name
            if name in self.loadable:
                os.makedirs(self.host.path('/sys/module/' + name))
                for key, value in self.creates_sysctls.get(name, {}).items():
                    self.host.set_sysctl(key, value)
            return 0, '', ''
        if command == 'swapoff':
            if self.swapoff_rc == 0:
                self.host.write('/proc/swaps', SWAPS_HEADER)
                return 0, '', ''
            return self.swapoff_rc, '', 'swapoff: /swap.img: swapoff failed: Operation not permitted\n'
        raise AssertionError('unexpected command %r' % (argv,))

    def commands(self):
        return [os.path.basename(argv[0]) for argv in self.calls]


def which(name):
    return '/usr/sbin/' + name


def no_which(name):
    return None


def run(host, runner, **kwargs):
    kwargs.setdefault('is_container', False)
    kwargs.setdefault('which', which)
    return ensure_prereqs(root=host.root, runner=runner, **kwargs)


def bridge_sysctls(value='0'):
    return dict((key, value) for key in ALL_SYSCTLS)


# ------------------------------------------------------------------ modules

def test_module_listed_in_proc_modules_is_loaded(tmp_path):
    host = FakeHost(tmp_path, proc_modules='overlay 151552 0 - Live 0x0000000000000000\n'
                                           'br_netfilter 32768 0 - Live 0x0000000000000000\n'
                                           'bridge 311296 1 br_netfilter, Live 0x0000000000000000\n',
                    sysctls=bridge_sysctls('1'))
    runner = FakeRunner(host)
    result = run(host, runner)
    assert result['modules'] == {'overlay': {'state': 'loaded'}, 'br_netfilter': {'state': 'loaded'}}
    assert 'modprobe' not in runner.commands()


def test_builtin_module_found_through_sys_module(tmp_path):
    # No /proc/modules line for either: overlay is built in (it has a /sys/module entry), and br_netfilter
    # is built in without one but its net.bridge sysctls exist.
    host = FakeHost(tmp_path, proc_modules='nf_tables 352256 0 - Live 0x0\n', sys_modules=('overlay',),
                    sysctls=bridge_sysctls('1'))
    runner = FakeRunner(host)
    result = run(host, runner)
    assert result['modules'] == {'overlay': {'state': 'builtin'}, 'br_netfilter': {'state': 'builtin'}}
    assert runner.calls == []


def test_builtin_module_found_through_modules_builtin(tmp_path):
    host = FakeHost(tmp_path, proc_modules='', sys_modules=('overlay',), sysctls={'net.ipv4.ip_forward': '1'})
    host.write('/proc/sys/kernel/osrelease', '6.8.0-45-generic\n')
    host.write('/lib/modules/6.8.0-45-generic/modules.builtin', 'kernel/net/bridge/br_netfilter.ko\n')
    runner = FakeRunner(host)
    result = run(host, runner)
    assert result['modules']['br_netfilter'] == {'state': 'builtin'}
    assert runner.calls == []


def test_missing_module_in_container_warns_and_carries_on(tmp_path):
    # Kernel without loadable-module support: no /proc/modules at all.
    host = FakeHost(tmp_path, proc_modules=None, sys_modules=('overlay',))
    runner = FakeRunner(host)
    result = run(host, runner, is_container=True)
    assert result['container'] is True
    assert result['modules'] == {'overlay': {'state': 'builtin'}, 'br_netfilter': {'state': 'missing'}}
    assert 'modprobe' not in runner.commands()
    module_warnings = [w for w in result['warnings'] if w.startswith('br_netfilter ')]
    assert module_warnings == [
        'br_netfilter is not loaded and cannot be loaded here (no loadable-module support in this kernel: /proc/modules is missing); '
        'running in a container, so carrying on. Kubernetes networking needs it on real hosts.'
    ]
    # It carried on: the files were written and ip_forward was set.
    assert host.read(LOAD_FILE) == HEADER + '\noverlay\nbr_netfilter\n'
    assert host.sysctl('net.ipv4.ip_forward') == '1'


def test_missing_module_on_real_host_fails(tmp_path):
    host = FakeHost(tmp_path, proc_modules='', sys_modules=('overlay',))
    runner = FakeRunner(host, modprobe_rc=1)
    with pytest.raises(NodePrereqsError) as excinfo:
        run(host, runner, is_container=False)
    msg = str(excinfo.value)
    assert msg.startswith('Kernel module br_netfilter (modprobe br_netfilter failed with exit code 1: modprobe: FATAL: Module br_netfilter not found')
    assert 'set missing_module_policy=warn' in msg
    assert runner.calls == [['/usr/sbin/modprobe', 'br_netfilter']]
    assert excinfo.value.result['modules']['br_netfilter'] == {'state': 'missing'}
    # It stopped before changing anything else.
    assert not host.exists(LOAD_FILE)
    assert host.sysctl('net.ipv4.ip_forward') == '0'


def test_missing_module_policy_fail_fails_in_container(tmp_path):
    host = FakeHost(tmp_path, proc_modules=None, sys_modules=('overlay',))
    with pytest.raises(NodePrereqsError, match='br_netfilter'):
        run(host, FakeRunner(host), is_container=True, missing_module_policy='fail')


def test_missing_module_policy_warn_carries_on_on_real_host(tmp_path):
    host = FakeHost(tmp_path, proc_modules='', sys_modules=('overlay',))
    result = run(host, FakeRunner(host), which=no_which, missing_module_policy='warn')
    assert result['modules']['br_netfilter'] == {'state': 'missing'}
    assert any('br_netfilter is not loaded and cannot be loaded here (modprobe is not installed); missing_module_policy=warn' in w
               for w in result['warnings'])


def test_modprobe_loads_missing_module(tmp_path):
    host = FakeHost(tmp_path, proc_modules='overlay 151552 0 - Live 0x0\n',
                    sysctls={'net.ipv4.ip_forward': '1'})
    runner = FakeRunner(host, creates_sysctls={'br_netfilter': {
        'net.bridge.bridge-nf-call-iptables': '0', 'net.bridge.bridge-nf-call-ip6tables': '0'}})
    result = run(host, runner)
    assert runner.calls == [['/usr/sbin/modprobe', 'br_netfilter']]
    assert result['modules'] == {'overlay': {'state': 'loaded'}, 'br_netfilter': {'state': 'loaded_now'}}
    assert result['changed'] is True
    # The sysctls it registers were set after it was loaded.
    assert result['sysctls']['net.bridge.bridge-nf-call-iptables'] == {'before': '0', 'after': '1', 'state': 'set'}
    assert host.sysctl('net.bridge.bridge-nf-call-ip6tables') == '1'
    assert result['warnings'] == []


def test_bad_module_name_is_refused_before_any_command(tmp_path):
    host = FakeHost(tmp_path)
    runner = FakeRunner(host)
    with pytest.raises(NodePrereqsError, match=r"kernel_modules contains '-r', which is not a kernel module name"):
        run(host, runner, kernel_modules=['-r'])
    assert runner.calls == []


# ------------------------------------------------------------------ sysctls

def test_sysctl_set_when_different_then_unchanged(tmp_path):
    host = FakeHost(tmp_path, proc_modules='overlay 1 0 - Live 0x0\nbr_netfilter 1 0 - Live 0x0\n',
                    sysctls={'net.ipv4.ip_forward': '0', 'net.bridge.bridge-nf-call-iptables': '1',
                             'net.bridge.bridge-nf-call-ip6tables': '0'})
    result = run(host, FakeRunner(host))
    assert result['changed'] is True
    assert result['sysctls'] == {
        'net.ipv4.ip_forward': {'before': '0', 'after': '1', 'state': 'set'},
        'net.bridge.bridge-nf-call-iptables': {'before': '1', 'after': '1', 'state': 'unchanged'},
        'net.bridge.bridge-nf-call-ip6tables': {'before': '0', 'after': '1', 'state': 'set'},
    }
    assert host.sysctl('net.ipv4.ip_forward') == '1'
    assert host.read(SYSCTL_FILE) == (
        HEADER + '\n'
        'net.bridge.bridge-nf-call-ip6tables = 1\n'
        'net.bridge.bridge-nf-call-iptables = 1\n'
        'net.ipv4.ip_forward = 1\n'
    )
    assert stat.S_IMODE(os.stat(host.path(SYSCTL_FILE)).st_mode) == 0o644

    runner = FakeRunner(host)
    again = run(host, runner)
    assert again['changed'] is False
    assert set(item['state'] for item in again['sysctls'].values()) == {'unchanged'}
    assert runner.calls == []


def test_multi_value_sysctl_compares_whitespace_insensitively(tmp_path):
    host = FakeHost(tmp_path, proc_modules='', sys_modules=('overlay', 'br_netfilter'),
                    sysctls={'net.ipv4.tcp_rmem': '4096\t131072\t6291456'})
    result = run(host, FakeRunner(host), sysctls={'net.ipv4.tcp_rmem': '4096 131072  6291456'})
    assert result['sysctls']['net.ipv4.tcp_rmem']['state'] == 'unchanged'


def test_absent_sysctl_is_skipped_with_warning_and_persisted(tmp_path):
    # br_netfilter is missing (container), so the net.bridge keys have no /proc/sys entry.
    host = FakeHost(tmp_path, proc_modules=None, sys_modules=('overlay',))
    result = run(host, FakeRunner(host), is_container=True)
    assert result['sysctls']['net.bridge.bridge-nf-call-iptables'] == {'before': None, 'after': None, 'state': 'absent'}
    assert not host.exists('/proc/sys/net/bridge/bridge-nf-call-iptables')
    skipped = [w for w in result['warnings'] if w.startswith('sysctl net.bridge.bridge-nf-call-iptables does not exist')]
    assert len(skipped) == 1
    assert 'br_netfilter' in skipped[0] and SYSCTL_FILE in skipped[0]
    assert 'net.bridge.bridge-nf-call-iptables = 1' in host.read(SYSCTL_FILE)


def _refuse_sysctl_writes(monkeypatch, host, err):
    real_open = open

    def fake_open(path, mode='r', *args, **kwargs):
        if 'w' in mode and str(path).startswith(host.path('/proc/sys')):
            raise OSError(err, os.strerror(err), path)
        return real_open(path, mode, *args, **kwargs)
    monkeypatch.setattr(np_utils, 'open', fake_open, raising=False)


def test_sysctl_permission_error_warns_in_container(tmp_path, monkeypatch):
    host = FakeHost(tmp_path, proc_modules=None, sys_modules=('overlay', 'br_netfilter'), sysctls=bridge_sysctls('0'))
    _refuse_sysctl_writes(monkeypatch, host, errno.EROFS)
    result = run(host, FakeRunner(host), is_container=True)
    assert result['sysctls']['net.ipv4.ip_forward'] == {'before': '0', 'after': '0', 'state': 'failed'}
    assert any(w.startswith('sysctl net.ipv4.ip_forward could not be set to 1') for w in result['warnings'])
    assert host.sysctl('net.ipv4.ip_forward') == '0'


def test_sysctl_permission_error_fails_on_real_host(tmp_path, monkeypatch):
    host = FakeHost(tmp_path, proc_modules='', sys_modules=('overlay', 'br_netfilter'), sysctls=bridge_sysctls('0'))
    _refuse_sysctl_writes(monkeypatch, host, errno.EACCES)
    with pytest.raises(NodePrereqsError, match=r'^Cannot set the sysctl net\.bridge\.bridge-nf-call-ip6tables to 1 .*run the task with become'):
        run(host, FakeRunner(host), is_container=False)


def test_sysctl_path_swaps_dots_and_slashes():
    assert sysctl_path('/', 'net.ipv4.conf.eth0/100.rp_filter') == '/proc/sys/net/ipv4/conf/eth0.100/rp_filter'


def test_bad_sysctl_key_is_refused(tmp_path):
    host = FakeHost(tmp_path)
    with pytest.raises(NodePrereqsError, match='not a sysctl name'):
        run(host, FakeRunner(host), sysctls={'net..ipv4': '1'})


def test_boolean_sysctl_value_is_refused(tmp_path):
    host = FakeHost(tmp_path)
    with pytest.raises(NodePrereqsError, match='quote the number'):
        run(host, FakeRunner(host), sysctls={'net.ipv4.ip_forward': True})


# ------------------------------------------------------------------ swap

def test_active_swap_is_turned_off_and_fstab_commented(tmp_path):
    host = FakeHost(tmp_path, proc_modules='', sys_modules=('overlay', 'br_netfilter'), sysctls=bridge_sysctls('1'),
                    swaps=SWAPS_ACTIVE)
    host.write(LOAD_FILE, HEADER + '\noverlay\nbr_netfilter\n')
    host.write(SYSCTL_FILE, np_utils.sysctl_content(np_utils.DEFAULT_SYSCTLS))
    runner = FakeRunner(host)
    result = run(host, runner)
    assert runner.calls == [['/usr/sbin/swapoff', '-a']]
    assert result['changed'] is True
    assert result['swap'] == {'active_before': True, 'fstab_lines_commented': 1}
    assert host.read('/etc/fstab') == FSTAB.replace('/swap.img none swap', '# ironstone.k8s: /swap.img none swap')

    runner = FakeRunner(host)
    again = run(host, runner)
    assert runner.calls == []
    assert again['changed'] is False
    assert again['swap'] == {'active_before': False, 'fstab_lines_commented': 0}
    assert host.read('/etc/fstab').count('# ironstone.k8s: ') == 1


def test_swapoff_failure_warns_in_container_and_fails_on_host(tmp_path):
    host = FakeHost(tmp_path, proc_modules=None, sys_modules=('overlay', 'br_netfilter'), swaps=SWAPS_ACTIVE, fstab=None)
    result = run(host, FakeRunner(host, swapoff_rc=255), is_container=True)
    assert any(w.startswith('Swap is active but swapoff -a failed with exit code 255') for w in result['warnings'])
    with pytest.raises(NodePrereqsError, match=r'^swapoff -a failed with exit code 255 .*set swap=ignore\.$'):
        run(host, FakeRunner(host, swapoff_rc=255), is_container=False)


def test_swap_ignore_leaves_swap_alone(tmp_path):
    host = FakeHost(tmp_path, proc_modules='', sys_modules=('overlay', 'br_netfilter'), swaps=SWAPS_ACTIVE)
    runner = FakeRunner(host)
    result = run(host, runner, swap='ignore')
    assert result['swap'] == {'active_before': True, 'fstab_lines_commented': 0}
    assert runner.calls == []
    assert host.read('/etc/fstab') == FSTAB


def test_comment_swap_lines_keeps_every_line():
    text = 'UUID=1 / ext4 defaults 0 1\n/dev/sda2\tnone\tswap\tsw\t0\t0\n  # old swap\n/dev/sda3 none swap sw 0 0'
    new, count = comment_swap_lines(text)
    assert count == 2
    assert new == ('UUID=1 / ext4 defaults 0 1\n# ironstone.k8s: /dev/sda2\tnone\tswap\tsw\t0\t0\n  # old swap\n'
                   '# ironstone.k8s: /dev/sda3 none swap sw 0 0')


# ------------------------------------------------------------------ check and diff mode

def test_check_mode_changes_nothing_and_runs_no_mutating_command(tmp_path):
    host = FakeHost(tmp_path, proc_modules='overlay 1 0 - Live 0x0\n', sysctls={'net.ipv4.ip_forward': '0'},
                    swaps=SWAPS_ACTIVE)
    before = host.snapshot()
    runner = FakeRunner(host)
    result = run(host, runner, check_mode=True)
    assert runner.calls == []
    assert host.snapshot() == before
    assert result['changed'] is True
    assert result['modules']['br_netfilter'] == {'state': 'loaded_now'}
    assert result['sysctls']['net.ipv4.ip_forward'] == {'before': '0', 'after': '1', 'state': 'set'}
    assert result['swap'] == {'active_before': True, 'fstab_lines_commented': 1}


def test_diff_mode_returns_the_two_files_and_fstab(tmp_path):
    host = FakeHost(tmp_path, proc_modules='', sys_modules=('overlay', 'br_netfilter'), sysctls=bridge_sysctls('1'))
    host.write(SYSCTL_FILE, HEADER + '\nnet.ipv4.ip_forward = 0\n')
    result = run(host, FakeRunner(host), check_mode=True, diff_mode=True, kernel_modules=['overlay'],
                 sysctls={'net.ipv4.ip_forward': '1'})
    assert result['diff'] == [
        {
            'before': '',
            'after': HEADER + '\noverlay\n',
            'before_header': host.path(LOAD_FILE) + ' (absent)',
            'after_header': host.path(LOAD_FILE) + ' (kernel modules)',
        },
        {
            'before': HEADER + '\nnet.ipv4.ip_forward = 0\n',
            'after': HEADER + '\nnet.ipv4.ip_forward = 1\n',
            'before_header': host.path(SYSCTL_FILE) + ' (sysctls)',
            'after_header': host.path(SYSCTL_FILE) + ' (sysctls)',
        },
        {
            'before': FSTAB,
            'after': FSTAB.replace('/swap.img none swap', '# ironstone.k8s: /swap.img none swap'),
            'before_header': host.path('/etc/fstab') + ' (swap commented out)',
            'after_header': host.path('/etc/fstab') + ' (swap commented out)',
        },
    ]
    assert not host.exists(LOAD_FILE)


def test_no_diff_key_without_diff_mode_and_empty_diff_when_nothing_changes(tmp_path):
    host = FakeHost(tmp_path, proc_modules='', sys_modules=('overlay', 'br_netfilter'), sysctls=bridge_sysctls('1'), fstab=None)
    assert 'diff' not in run(host, FakeRunner(host))
    assert run(host, FakeRunner(host), diff_mode=True)['diff'] == []


# ------------------------------------------------------------------ files

def test_bind_mount_rename_falls_back_to_writing_in_place(tmp_path):
    target = tmp_path / 'etc' / 'fstab'
    target.parent.mkdir()
    target.write_text('old\n')
    os.chmod(str(target), 0o600)
    inode = os.stat(str(target)).st_ino
    attempts = []

    def busy_rename(src, dst):
        attempts.append((src, dst))
        raise OSError(errno.EBUSY, os.strerror(errno.EBUSY), dst)

    write_file(str(target), 'new\n', rename=busy_rename)
    assert len(attempts) == 1
    assert target.read_text() == 'new\n'
    assert os.stat(str(target)).st_ino == inode  # written in place, not replaced
    assert stat.S_IMODE(os.stat(str(target)).st_mode) == 0o600  # mode kept
    assert os.listdir(str(target.parent)) == ['fstab']  # temp file cleaned up


def test_bind_mount_fallback_through_ensure_prereqs(tmp_path):
    host = FakeHost(tmp_path, proc_modules='', sys_modules=('overlay', 'br_netfilter'), sysctls=bridge_sysctls('1'))

    def rename(src, dst):
        if dst.endswith('fstab'):
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV), dst)
        os.rename(src, dst)

    result = run(host, FakeRunner(host), rename=rename)
    assert result['swap']['fstab_lines_commented'] == 1
    assert '# ironstone.k8s: /swap.img' in host.read('/etc/fstab')


def test_other_rename_errors_are_reported(tmp_path):
    target = tmp_path / 'x.conf'

    def broken_rename(src, dst):
        raise OSError(errno.EIO, os.strerror(errno.EIO), dst)

    with pytest.raises(OSError):
        write_file(str(target), 'x\n', rename=broken_rename)
    assert os.listdir(str(tmp_path)) == []


def test_new_file_is_0644_and_directory_created(tmp_path):
    target = tmp_path / 'etc' / 'modules-load.d' / 'x.conf'
    old = os.umask(0o077)
    try:
        write_file(str(target), 'x\n')
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(str(target)).st_mode) == 0o644


# ------------------------------------------------------------------ container detection

@pytest.mark.parametrize('marker', ['/run/.containerenv', '/.dockerenv'])
def test_detect_container_marker_files(tmp_path, marker):
    host = FakeHost(tmp_path)
    assert detect_container(host.root) is False
    host.write(marker, '')
    assert detect_container(host.root) is True


def test_detect_container_from_pid1_environ(tmp_path):
    host = FakeHost(tmp_path)
    host.write('/proc/1/environ', 'PATH=/usr/bin\0HOME=/\0')
    assert detect_container(host.root) is False
    host.write('/proc/1/environ', 'PATH=/usr/bin\0container=podman\0')
    assert detect_container(host.root) is True


def test_is_container_callable_is_used(tmp_path):
    host = FakeHost(tmp_path, proc_modules=None, sys_modules=('overlay',))
    seen = []
    result = ensure_prereqs(root=host.root, runner=FakeRunner(host), which=which,
                            is_container=lambda root: seen.append(root) or True)
    assert seen == [host.root]
    assert result['container'] is True
