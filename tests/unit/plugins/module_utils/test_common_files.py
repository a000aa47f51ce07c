# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# Unit tests for module_utils/common/files.py, on real files in tmp_path.

import errno
import os
import stat

import pytest

from ansible_collections.ironstone.k8s.plugins.module_utils.common.files import AtomicFile, atomic_write, file_mode, read_if_exists


def mode(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


def test_read_if_exists_returns_bytes_or_text(tmp_path):
    target = tmp_path / 'f'
    target.write_bytes(b'caf\xc3\xa9\n')
    assert read_if_exists(str(target)) == b'caf\xc3\xa9\n'
    assert read_if_exists(str(target), binary=False) == u'caf\xe9\n'


@pytest.mark.parametrize('relative', ['missing', 'missing-dir/f'])
def test_read_if_exists_absent_is_none(tmp_path, relative):
    assert read_if_exists(str(tmp_path / relative)) is None


def test_read_if_exists_parent_is_a_file_or_link_dangles(tmp_path):
    (tmp_path / 'file').write_text('x')
    assert read_if_exists(str(tmp_path / 'file' / 'below')) is None  # ENOTDIR
    os.symlink(str(tmp_path / 'nowhere'), str(tmp_path / 'link'))
    assert read_if_exists(str(tmp_path / 'link')) is None


def test_read_if_exists_raises_other_errors(tmp_path):
    with pytest.raises((IOError, OSError)) as info:
        read_if_exists(str(tmp_path))  # a directory
    assert info.value.errno == errno.EISDIR


def test_file_mode(tmp_path):
    target = tmp_path / 'f'
    target.write_text('x')
    os.chmod(str(target), 0o640)
    assert file_mode(str(target)) == 0o640
    assert file_mode(str(tmp_path / 'missing')) is None
    assert file_mode(str(tmp_path / 'missing'), default=0o644) == 0o644


def test_atomic_write_replaces_with_mode_regardless_of_umask(tmp_path):
    target = tmp_path / 'f'
    target.write_text('old')
    os.chmod(str(target), 0o644)
    inode = os.stat(str(target)).st_ino
    old_umask = os.umask(0o077)
    try:
        atomic_write(str(target), u'new \xe9', 0o640)
    finally:
        os.umask(old_umask)
    assert target.read_bytes() == b'new \xc3\xa9'
    assert mode(target) == 0o640
    assert os.stat(str(target)).st_ino != inode  # a new file was renamed into place
    assert os.listdir(str(tmp_path)) == ['f']


def test_atomic_write_bytes_new_file(tmp_path):
    target = tmp_path / 'key'
    atomic_write(str(target), b'\x00secret', 0o600)
    assert target.read_bytes() == b'\x00secret' and mode(target) == 0o600


def test_failing_rename_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / 'f'
    target.write_text('old')

    def broken(src, dst):
        raise OSError(errno.EIO, os.strerror(errno.EIO), dst)

    with pytest.raises(OSError):
        atomic_write(str(target), 'new', 0o644, rename=broken)
    assert target.read_text() == 'old'
    assert os.listdir(str(tmp_path)) == ['f']


def test_exception_inside_the_block_discards_the_temporary(tmp_path):
    target = tmp_path / 'f'
    target.write_text('old')
    with pytest.raises(ValueError):
        with AtomicFile(str(target), 0o600) as handle:
            handle.write(b'half')
            raise ValueError('stop')
    assert target.read_text() == 'old'
    assert os.listdir(str(tmp_path)) == ['f']


def test_fixed_temporary_name_replaces_a_leftover(tmp_path):
    target = tmp_path / 'snap.db'
    tmp = tmp_path / '.snap.db.part'
    tmp.write_text('left over from an interrupted run')
    seen = []
    with AtomicFile(str(target), 0o600, tmp_path=str(tmp)) as handle:
        seen.append(sorted(os.listdir(str(tmp_path))))
        handle.write(b'data')
    assert seen == [['.snap.db.part']]
    assert target.read_bytes() == b'data' and mode(target) == 0o600
    assert os.listdir(str(tmp_path)) == ['snap.db']


def test_fixed_temporary_name_never_follows_a_link(tmp_path):
    victim = tmp_path / 'victim'
    victim.write_text('keep')
    tmp = tmp_path / '.x.part'
    os.symlink(str(victim), str(tmp))
    with AtomicFile(str(tmp_path / 'x'), 0o600, tmp_path=str(tmp)) as handle:
        handle.write(b'data')
    assert victim.read_text() == 'keep'
    assert (tmp_path / 'x').read_bytes() == b'data'


def test_open_failure_is_an_oserror(tmp_path):
    with pytest.raises(OSError):
        AtomicFile(str(tmp_path / 'missing-dir' / 'f'), 0o600).open()
