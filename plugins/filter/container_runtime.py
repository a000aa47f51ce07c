# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# Decisions of the container_runtime role, as pure functions of inventory data
# and task results: registry mirrors (validation, per-group merge, hosts.toml
# plan), the containerd config format, and the download catalogue (what is
# enabled, which checksums are missing, which downloads failed and which ones
# check mode did not fetch). The role's YAML only calls these in sequence.

import posixpath
import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.ironstone.k8s.plugins.module_utils.container_runtime_mirrors import DEFAULT_NAMESPACE, mirror_errors

# containerd's hosts.toml `server` is the registry's real endpoint. Docker Hub's
# registry name differs from its API host; `_default` configures every registry
# without a directory of its own and has no server.
REGISTRY_SERVERS = {'docker.io': 'https://registry-1.docker.io'}

_SHA256 = re.compile(r'^[0-9a-fA-F]{64}$')
_CONTAINERD_VERSION = re.compile(r'\sv?(\d+)\.(\d+)')


def normalize_mirror(mirror):
    """A mirror as a dict with url, skip_verify and ca_file, from a URL string or a partial dict."""
    if isinstance(mirror, str):
        return {'url': mirror, 'skip_verify': False, 'ca_file': ''}
    return {'url': mirror['url'], 'skip_verify': bool(mirror.get('skip_verify', False)),
            'ca_file': mirror.get('ca_file', '') or ''}


def _normalized(entries):
    """Normalized mirrors of one registry, each URL once (the first one wins)."""
    out, seen = [], set()
    for mirror in entries or []:
        m = normalize_mirror(mirror)
        if m['url'] not in seen:
            seen.add(m['url'])
            out.append(m)
    return out


def merge_mirrors(mirrors, extra=None):
    """Merge container_runtime_registry_mirrors_extra over container_runtime_registry_mirrors.

    Per registry: the extra mirrors come first (containerd tries hosts in
    order), then the base ones; a URL in both appears once, where the extra
    list puts it and with the extra list's settings. Registries only in extra
    are added after the others. Nothing is ever removed.
    """
    problems = mirror_errors(mirrors, extra)
    if problems:
        raise AnsibleFilterError(' '.join(problems))
    merged = {}
    for registry, entries in (mirrors or {}).items():
        merged[registry] = _normalized(entries)
    for registry, entries in (extra or {}).items():
        merged[registry] = _normalized(list(entries) + merged.get(registry, []))
    return merged


def registry_server(registry):
    """The hosts.toml `server` of a registry namespace, or None for `_default`."""
    if registry == DEFAULT_NAMESPACE:
        return None
    return REGISTRY_SERVERS.get(registry, 'https://' + registry)


def mirror_ca_name(url):
    """File name, in the registry's directory on the node, of the CA certificate delivered for a mirror."""
    host = re.sub(r'^https?://', '', url).split('/', 1)[0]
    return 'ironstone-mirror-%s.crt' % re.sub(r'[^A-Za-z0-9.-]', '_', host)


def hosts_files(merged, certs_dir):
    """One hosts.toml plan per registry: its directory, path, server and mirror hosts, in order.

    A mirror with a ca_file (a path on the controller) gets `ca_path`, where the
    role copies that certificate on the node; the plan's `cas` lists those copies.
    """
    plan = []
    for registry, hosts in merged.items():
        directory = posixpath.join(certs_dir, registry)
        entries, cas = [], []
        for mirror in hosts:
            mirror = dict(mirror)
            if mirror.get('ca_file'):
                mirror['ca_path'] = posixpath.join(directory, mirror_ca_name(mirror['url']))
                cas.append({'src': mirror['ca_file'], 'dest': mirror['ca_path']})
            entries.append(mirror)
        plan.append({'registry': registry, 'dir': directory, 'path': posixpath.join(directory, 'hosts.toml'),
                     'server': registry_server(registry), 'hosts': entries, 'cas': cas})
    return plan


def config_version(version_output):
    """containerd's config format from `containerd --version`: 2 for containerd 1.x, 3 for 2.x and later."""
    match = _CONTAINERD_VERSION.search(' ' + to_text(version_output))
    if not match:
        raise AnsibleFilterError(
            "cannot read containerd's version from '%s'; check the containerd binary that 'containerd --version' runs."
            % to_text(version_output).strip())
    return 3 if int(match.group(1)) >= 2 else 2


def enabled_downloads(catalogue, stage):
    """The enabled entries of the download catalogue (name -> entry), as a list.

    Each entry gets its name under `var`, and for preflight's source check the
    stage that needs it and the variable that sets its URL (`<name>_url`).
    """
    out = []
    for name, entry in catalogue.items():
        if boolean(entry.get('enabled', False), strict=False):
            item = {'stage': stage, 'variable': name + '_url'}
            item.update(entry)
            item['var'] = name
            out.append(item)
    return out


def checksum_errors(downloads):
    """One sentence per enabled download whose sha256 is not 64 hex digits."""
    return ["%s_sha256 must be the 64-hex-digit sha256 of %s (got '%s'); every download is verified before "
            "anything is installed." % (d['var'], d['url'], d.get('sha256', '')) for d in downloads
            if not _SHA256.match(to_text(d.get('sha256', '')))]


def download_errors(results):
    """One sentence per failed item of the download loop, naming its URL and the variables to fix."""
    out = []
    for result in results or []:
        if not result.get('failed'):
            continue
        item = result['item']
        fix = 'check %s_url and %s_sha256' % (item['var'], item['var'])
        if item.get('hint'):
            fix += ', or %s' % item['hint']
        out.append('%s: %s could not be used (%s); %s. Nothing was installed.'
                   % (item['var'], item['url'], result.get('msg') or 'unknown error', fix))
    return out


def unfetched(results, check_mode):
    """Names of the downloads that check mode did not fetch (so nothing can be unpacked from them)."""
    if not check_mode:
        return []
    return [r['item']['var'] for r in results or [] if r.get('changed') or r.get('skipped')]


class FilterModule(object):
    """Filters of the container_runtime role."""

    def filters(self):
        return {
            'container_runtime_mirror_errors': mirror_errors,
            'container_runtime_merge_mirrors': merge_mirrors,
            'container_runtime_hosts_files': hosts_files,
            'container_runtime_config_version': config_version,
            'container_runtime_downloads': enabled_downloads,
            'container_runtime_checksum_errors': checksum_errors,
            'container_runtime_download_errors': download_errors,
            'container_runtime_unfetched': unfetched,
        }
