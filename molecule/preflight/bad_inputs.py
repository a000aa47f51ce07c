"""The bad-input table (Molecule scenario `preflight`).

Each case is an inventory an operator could write: one bad input on top of a good
base inventory of the scenario's three fresh nodes. For each, a real
`ansible-playbook playbooks/site.yml` (not --check) runs against the nodes, and
the case passes only when:
  - the run fails (rc != 0), with no host reporting a change;
  - the task it stopped at is in the preflight play;
  - the failure message names the variable (or the group, or the host) that is wrong;
  - every node's fingerprint is the same after the run as before it: the package
    list, the checksums of the files under /etc, /usr/local and /opt, and each
    systemd unit's state and InvocationID (a restarted unit has a new one).
A control run of the base inventory must pass preflight, so that the cases fail for
their own input and not for the base. The table (input, stage, seconds, message)
is printed at the end and written to --report.
"""
import argparse
import concurrent.futures
import copy
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PLAYBOOK = os.path.join(ROOT, 'playbooks', 'site.yml')
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
PREFIX = 'ironstone-mol-preflight-'
NODES = {'p1': '172.30.90.11', 'p2': '172.30.90.12', 'p3': '172.30.90.13'}
CASE_TIMEOUT = 240
PARALLEL = 3

FINGERPRINT = r'''
set -eu
echo '## packages'; dpkg-query -W -f '${Package} ${Version} ${db:Status-Abbrev}\n' | sort
for dir in /etc /usr/local /opt /var/cache/ironstone; do
  echo "## $dir"; [ -e "$dir" ] || { echo absent; continue; }
  find "$dir" -xdev -printf '%y %m %u:%g %p %l\n' | sort
  find "$dir" -xdev -type f -exec sha256sum {} + | sort -k 2
done
echo '## units'
systemctl list-units --all --no-legend --no-pager --plain | awk '{print $1}' | sort \
  | xargs systemctl show -p Id -p ActiveState -p SubState -p InvocationID --no-pager --
'''


def base_inventory():
    hosts = dict((name, {'ansible_host': PREFIX + name, 'etcd_address': address}) for name, address in NODES.items())
    return {'all': {
        'vars': {'ansible_connection': 'community.docker.docker', 'ansible_python_interpreter': '/usr/bin/python3',
                 'ironstone_profile': 'production',
                 # pkgs.k8s.io is unreachable here, and the production profile never falls back to
                 # the lab's stand-in: the base fleet runs the stages it can reach. The kube_packages
                 # cases enable that stage; their inputs are refused before its source is probed.
                 'preflight_stages': ['runtime', 'etcd', 'storage']},
        'hosts': hosts,
        'children': {
            'etcd': {'hosts': {'p1': {}}},
            'kube_control_plane': {'hosts': {'p1': {}}},
            'kube_node': {'hosts': {'p2': {}}},
            'edge': {'hosts': {'p3': {}}},
        }}}


# The stages of the control_plane and nodes cases: the base's, and the new stage(s). Their
# variables (kube_pod_subnet, kube_node_labels, edge_region, ...) are declared in the
# control_plane and node_join roles' argument specs, and preflight_stages must allow the
# stages (the preflight role's spec): without those the cases fail for an unknown variable
# or stage instead.
CONTROL_PLANE_STAGES = ['runtime', 'etcd', 'storage', 'control_plane']
NODES_STAGES = ['runtime', 'etcd', 'storage', 'nodes']
CLUSTER_STAGES = ['runtime', 'etcd', 'storage', 'control_plane', 'nodes']
# The calico cases: refused in preflight, before any host or API change.
CALICO_STAGES = ['runtime', 'etcd', 'storage', 'calico']

# Each case: id, category, what the operator wrote (shown in the table), the word the
# message must contain, and the change to the base inventory.
CASES = [
    # wrong types
    ('sandbox-image-list', 'wrong type', 'container_runtime_sandbox_image: [a, b]', 'container_runtime_sandbox_image',
     {'vars': {'container_runtime_sandbox_image': ['a', 'b']}}),
    ('kernel-modules-string', 'wrong type', 'container_runtime_kernel_modules: overlay', 'container_runtime_kernel_modules',
     {'vars': {'container_runtime_kernel_modules': 'overlay'}}),
    ('mirror-skip-verify-maybe', 'wrong type', 'mirror skip_verify: maybe', 'skip_verify',
     {'vars': {'container_runtime_registry_mirrors': {'docker.io': [{'url': 'https://m.example.com', 'skip_verify': 'maybe'}]}}}),
    ('mirror-not-a-list', 'wrong type', 'container_runtime_registry_mirrors: {docker.io: https://m}', 'container_runtime_registry_mirrors',
     {'vars': {'container_runtime_registry_mirrors': {'docker.io': 'https://m.example.com'}}}),
    ('health-timeout-word', 'wrong type', '-e etcd_health_timeout=ninety', 'etcd_health_timeout',
     {'extra': ['etcd_health_timeout=ninety']}),
    ('swap-unquoted-off', 'wrong type', 'container_runtime_swap: off (YAML boolean)', 'container_runtime_swap',
     {'vars': {'container_runtime_swap': False}}),
    ('storage-auto-maybe', 'wrong type', 'local_storage_auto: maybe', 'local_storage_auto',
     {'vars': {'local_storage_auto': 'maybe'}}),
    ('sysctls-list', 'wrong type', 'container_runtime_sysctls: [net.ipv4.ip_forward]', 'container_runtime_sysctls',
     {'vars': {'container_runtime_sysctls': ['net.ipv4.ip_forward']}}),
    ('extra-config-list', 'wrong type', 'etcd_extra_config: [log-level]', 'etcd_extra_config',
     {'vars': {'etcd_extra_config': ['log-level']}}),
    # out-of-range numbers
    ('client-port-70000', 'out of range', 'etcd_client_port: 70000', 'etcd_client_port',
     {'vars': {'etcd_client_port': 70000}}),
    ('quota-16g', 'out of range', 'etcd_quota_backend_bytes: 16 GiB', 'etcd_quota_backend_bytes',
     {'vars': {'etcd_quota_backend_bytes': 17179869184}}),
    ('snapshot-count-0', 'out of range', 'etcd_snapshot_count: 0', 'etcd_snapshot_count',
     {'vars': {'etcd_snapshot_count': 0}}),
    ('heartbeat-over-election', 'out of range', 'etcd_heartbeat_interval: 2000 (election 1000)', 'etcd_election_timeout',
     {'vars': {'etcd_heartbeat_interval': 2000}}),
    ('downloads-0', 'out of range', 'container_runtime_max_concurrent_downloads: 0', 'container_runtime_max_concurrent_downloads',
     {'vars': {'container_runtime_max_concurrent_downloads': 0}}),
    # unknown enum values
    ('engine-podman', 'unknown enum', 'container_runtime_engine: podman', 'container_runtime_engine',
     {'vars': {'container_runtime_engine': 'podman'}}),
    ('etcd-source-tarball', 'unknown enum', 'etcd_install_source: tarball', 'etcd_install_source',
     {'vars': {'etcd_install_source': 'tarball'}}),
    ('fstype-btrfs', 'unknown enum', 'local_storage_fstype: btrfs', 'local_storage_fstype',
     {'vars': {'local_storage_fstype': 'btrfs'}}),
    ('profile-staging', 'unknown enum', 'ironstone_profile: staging', 'ironstone_profile',
     {'vars': {'ironstone_profile': 'staging'}}),
    # unknown variables
    ('etcd-instal-source', 'unknown variable', 'etcd_instal_source: archive', 'etcd_instal_source',
     {'vars': {'etcd_instal_source': 'archive'}}),
    ('sandbox-img', 'unknown variable', 'container_runtime_sandbox_img: pause', 'container_runtime_sandbox_image',
     {'vars': {'container_runtime_sandbox_img': 'registry.k8s.io/pause:3.10'}}),
    ('storage-device-singular', 'unknown variable', 'local_storage_device: [/dev/sdb] on p2', 'local_storage_devices',
     {'host_vars': {'p2': {'local_storage_device': ['/dev/sdb']}}}),
    # misspelt groups and hosts outside the groups
    ('group-kube-node', 'misspelt group', 'group kube-node (for kube_node)', 'kube-node',
     {'rename_group': ('kube_node', 'kube-node')}),
    ('group-etcd-nodes', 'misspelt group', 'group etcd-nodes (for etcd)', 'etcd-nodes',
     {'rename_group': ('etcd', 'etcd-nodes')}),
    ('group-control-plane', 'misspelt group', 'group control_plane (for kube_control_plane)', 'control_plane',
     {'rename_group': ('kube_control_plane', 'control_plane')}),
    ('host-in-no-group', 'misspelt group', 'host p4 in no known group', 'p4',
     {'add_host': ('p4', {'ansible_host': PREFIX + 'p4'})}),
    # impossible combinations
    ('kube-binaries-no-sha', 'impossible combination', 'Kubernetes release binaries without sha256', 'kube_packages_binary_sha256',
     {'vars': {'preflight_stages': ['runtime', 'etcd', 'storage', 'kube_packages']}, 'host_vars': {'p2': {'kube_packages_source': 'binary'}}}),
    ('kube-version-minor-only', 'impossible combination', 'kube_version: "1.32" (no patch release)', 'kube_version',
     {'vars': {'preflight_stages': ['runtime', 'etcd', 'storage', 'kube_packages'], 'kube_version': '1.32'}}),
    ('docker-without-cri-dockerd', 'impossible combination', 'engine docker, cri-dockerd disabled', 'container_runtime_cri_dockerd_enabled',
     {'vars': {'container_runtime_engine': 'docker', 'container_runtime_cri_dockerd_enabled': False}}),
    ('containerd-archive-no-sha', 'impossible combination', 'containerd archive without sha256', 'container_runtime_containerd_archive_sha256',
     {'vars': {'container_runtime_containerd_source': 'archive'}}),
    ('etcd-archive-no-sha', 'impossible combination', 'etcd archive without sha256', 'etcd_archive_sha256',
     {'vars': {'etcd_install_source': 'archive'}}),
    ('etcd-even-group', 'impossible combination', 'etcd group of 2 (p1, p2)', 'etcd group',
     {'add_to_group': ('etcd', 'p2')}),
    ('etcd-shared-address', 'impossible combination', 'p1 and p2 share etcd_address', 'etcd_address',
     {'add_to_group': ('etcd', 'p2', 'p3'), 'host_vars': {'p2': {'etcd_address': NODES['p1']}}}),
    ('etcd-address-name', 'impossible combination', 'etcd_address: node-one', 'etcd_address',
     {'host_vars': {'p1': {'etcd_address': 'node-one'}}}),
    ('extra-config-tls-off', 'impossible combination', 'etcd_extra_config: {client-transport-security: {}}', 'etcd_extra_config',
     {'vars': {'etcd_extra_config': {'client-transport-security': {}}}}),
    ('node-name-worker-1', 'impossible combination', 'host name Worker_1', 'Worker_1',
     {'rename_host': ('p2', 'Worker_1')}),
    ('become-reaches-controller', 'impossible combination', 'ansible_become: true for all', 'ansible_become',
     {'vars': {'ansible_become': True}}),
    # unsafe paths
    # Not under an ignored directory such as .cache/: git would track the keys there.
    ('pki-dir-in-repo', 'unsafe path', 'etcd_pki_dir in this git work tree, not ignored', 'etcd_pki_dir',
     {'vars': {'etcd_pki_dir': os.path.join(ROOT, 'pki-in-repo')}}),
    ('mirror-ca-missing', 'unsafe path', 'mirror ca_file /nonexistent/ca.pem', 'ca_file',
     {'vars': {'container_runtime_registry_mirrors': {'registry.example.com': [
         {'url': 'https://registry-mirror.example.com', 'ca_file': '/nonexistent/ca.pem'}]}}}),
    ('mount-root-relative', 'unsafe path', 'local_storage_mount_root: mnt/disks', 'local_storage_mount_root',
     {'vars': {'local_storage_mount_root': 'mnt/disks'}}),
    ('devices-not-dev', 'unsafe path', 'local_storage_devices: [sdb]', 'local_storage_devices',
     {'host_vars': {'p2': {'local_storage_devices': ['sdb']}}}),
    # the control_plane and nodes stages
    ('kube-version-1.30', 'out of range', 'kube_version: 1.30.0 (1.31 to 1.37 supported)', 'kube_version',
     {'vars': {'preflight_stages': CLUSTER_STAGES, 'kube_version': '1.30.0'}}),
    ('subnets-overlap', 'impossible combination',
     'kube_pod_subnet: 10.96.0.0/16 (inside the service subnet 10.96.0.0/12)', 'kube_service_subnet',
     {'vars': {'preflight_stages': CONTROL_PLANE_STAGES, 'kube_pod_subnet': '10.96.0.0/16'}}),
    ('pod-subnet-holds-nodes', 'impossible combination', 'kube_pod_subnet: 172.30.90.0/24 (the nodes\' network)',
     'kube_pod_subnet', {'vars': {'preflight_stages': CONTROL_PLANE_STAGES, 'kube_pod_subnet': '172.30.90.0/24'}}),
    ('control-plane-and-edge', 'impossible combination', 'p1 in kube_control_plane and edge', 'edge',
     {'vars': {'preflight_stages': CLUSTER_STAGES}, 'add_to_group': ('edge', 'p1')}),
    # Two hosts that are never reached (preflight refuses before any connection) make a control plane of 4.
    ('control-plane-of-4', 'impossible combination', 'kube_control_plane of 4 (p1, p2, p4, p5)',
     'kube_control_plane_allow_even',
     {'vars': {'preflight_stages': CONTROL_PLANE_STAGES},
      'add_hosts': [('p4', {'ansible_host': PREFIX + 'p4'}), ('p5', {'ansible_host': PREFIX + 'p5'})],
      'add_to_group': ('kube_control_plane', 'p2', 'p4', 'p5')}),
    ('label-key-invalid', 'invalid name', "kube_node_labels: {'bad key!': x} on p2", 'kube_node_labels',
     {'vars': {'preflight_stages': NODES_STAGES},
      'host_vars': {'p2': {'kube_node_labels': {'bad key!': 'x'}}}}),
    ('taint-noscheduled', 'unknown enum', "kube_node_taints: {'dedicated:NoScheduled': gpu} on p2", 'NoScheduled',
     {'vars': {'preflight_stages': NODES_STAGES},
      'host_vars': {'p2': {'kube_node_taints': {'dedicated:NoScheduled': 'gpu'}}}}),
    ('edge-region-space', 'invalid name', "edge_region: 'eu west' on p3", 'edge_region',
     {'vars': {'preflight_stages': NODES_STAGES}, 'host_vars': {'p3': {'edge_region': 'eu west'}}}),
    ('apiserver-endpoint-no-port', 'impossible combination', 'kube_apiserver_endpoint: lb.example (no port)',
     'kube_apiserver_endpoint',
     {'vars': {'preflight_stages': CONTROL_PLANE_STAGES, 'kube_apiserver_endpoint': 'lb.example'}}),
    # Without the runtime stage, so that the nodes stage's own rule refuses it.
    ('nodes-docker-without-cri-dockerd', 'impossible combination',
     'engine docker, cri-dockerd disabled (nodes stage only)', 'container_runtime_cri_dockerd_enabled',
     {'vars': {'preflight_stages': ['etcd', 'storage', 'nodes'], 'container_runtime_engine': 'docker',
               'container_runtime_cri_dockerd_enabled': False}}),
    # The seed's Installation sets spec.calicoVersion, which the CRD does not have.
    ('calico-version-field', 'impossible combination', 'calico_installation_spec: {calicoVersion: v3.26.1}', 'calicoVersion',
     {'vars': {'preflight_stages': CALICO_STAGES, 'calico_installation_spec': {'calicoVersion': 'v3.26.1'}}}),
    ('calico-encapsulation', 'unknown enum', 'calico_ip_pools: [{encapsulation: VXLANAlways}]', 'encapsulation',
     {'vars': {'preflight_stages': CALICO_STAGES, 'calico_ip_pools': [{'encapsulation': 'VXLANAlways'}]}}),
    ('calico-version-unknown', 'unknown enum', 'calico_version: 3.26.1 (not in the release table)', 'calico_version',
     {'vars': {'preflight_stages': CALICO_STAGES, 'calico_version': '3.26.1'}}),
    ('calico-pool-outside', 'impossible combination', 'calico_ip_pools: [{cidr: 10.96.0.0/16}] (outside kube_pod_subnet)',
     'kube_pod_subnet',
     {'vars': {'preflight_stages': CALICO_STAGES, 'calico_ip_pools': [{'cidr': '10.96.0.0/16'}]}}),
]


def apply(change):
    inv = copy.deepcopy(base_inventory())
    top = inv['all']
    top['vars'].update(change.get('vars', {}))
    for host, hv in change.get('host_vars', {}).items():
        top['hosts'][host].update(hv)
    if 'rename_group' in change:
        old, new = change['rename_group']
        top['children'][new] = top['children'].pop(old)
    if 'add_to_group' in change:
        group = change['add_to_group'][0]
        for host in change['add_to_group'][1:]:
            top['children'][group]['hosts'][host] = {}
    if 'add_host' in change:
        name, hv = change['add_host']
        top['hosts'][name] = hv
    for name, hv in change.get('add_hosts', []):
        top['hosts'][name] = hv
    if 'rename_host' in change:
        old, new = change['rename_host']
        top['hosts'][new] = top['hosts'].pop(old)
        for group in top['children'].values():
            if old in group['hosts']:
                group['hosts'][new] = group['hosts'].pop(old)
    return inv


def fingerprint():
    runs = dict((name, subprocess.Popen(['docker', 'exec', PREFIX + name, 'bash', '-c', FINGERPRINT],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
                for name in NODES)
    out = {}
    for name, run in runs.items():
        stdout, stderr = run.communicate(timeout=120)
        if run.returncode != 0 or 'InvocationID=' not in stdout:
            raise SystemExit('cannot fingerprint %s: %s' % (name, stderr.strip()))
        out[name] = hashlib.sha256(stdout.encode()).hexdigest()
    return out


def run_site(inventory, extra, workdir, playbook=PLAYBOOK):
    path = os.path.join(workdir, 'inventory.yml')
    with open(path, 'w') as handle:
        yaml.safe_dump(inventory, handle)
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK='ansible.builtin.json', ANSIBLE_NOCOLOR='1',
               ANSIBLE_FORCE_COLOR='0', ANSIBLE_RETRY_FILES_ENABLED='0')
    argv = [ANSIBLE_PLAYBOOK, '-i', path, playbook]
    for item in extra:
        argv += ['-e', item]
    started = time.time()
    try:
        run = subprocess.run(argv, capture_output=True, text=True, timeout=CASE_TIMEOUT, env=env, cwd=workdir, check=False)
        rc, stdout, stderr = run.returncode, run.stdout, run.stderr
    except subprocess.TimeoutExpired as error:
        rc, stdout, stderr = 124, error.stdout or '', 'timed out after %d s' % CASE_TIMEOUT
        stdout = stdout.decode() if isinstance(stdout, bytes) else stdout
    return rc, stdout, stderr, time.time() - started


def failure_of(stdout, stderr):
    """(play name, task name, message, changed hosts) of the task the run stopped at."""
    # The json callback prints one document at the end; other callbacks may print lines around it.
    start = stdout.find('\n{') + 1 if not stdout.startswith('{') else 0
    try:
        doc = json.JSONDecoder().raw_decode(stdout[start:])[0]
    except ValueError:
        return None, None, (stderr or stdout).strip().splitlines()[-1:] and (stderr or stdout).strip().splitlines()[-1], []
    last = (None, None, '')
    for play in doc.get('plays', []):
        for task in play.get('tasks', []):
            msgs = []
            for host, res in sorted(task.get('hosts', {}).items()):
                if (res.get('failed') or res.get('unreachable')) and not res.get('censored'):
                    msgs.append(str(res.get('msg', '')))
            if msgs:
                last = (play['play']['name'], task['task']['name'], ' | '.join(sorted(set(msgs))))
    changed = sorted(h for h, s in doc.get('stats', {}).items() if s.get('changed'))
    return last[0], last[1], last[2], changed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--report', required=True)
    parser.add_argument('--only', nargs='*', help='case ids to run (development)')
    args = parser.parse_args()
    cases = [c for c in CASES if not args.only or c[0] in args.only]
    lines, failures, seconds, changers, check_seconds = [], [], [], [], []
    with tempfile.TemporaryDirectory(prefix='bad-inputs-') as workdir:
        before = fingerprint()
        # The control: the base inventory passes preflight (preflight.yml alone touches no node).
        rc, stdout, stderr, took = run_site(base_inventory(), [], workdir, os.path.join(ROOT, 'playbooks', 'preflight.yml'))
        if rc != 0:
            task, msg = failure_of(stdout, stderr)[1:3]
            raise SystemExit('the base inventory does not pass preflight (%s: %s): %s' % (task, rc, msg))
        lines.append('control: the base inventory passes preflight in %.1f s' % took)
        # Cases run PARALLEL at a time in their own directories; the nodes are fingerprinted
        # before and after each batch, so a change is pinned to the (at most PARALLEL) cases
        # of its batch, each of which then fails.
        for offset in range(0, len(cases), PARALLEL):
            batch = cases[offset:offset + PARALLEL]
            with concurrent.futures.ThreadPoolExecutor(len(batch)) as pool:
                runs = list(pool.map(lambda case: run_site(apply(case[4]), case[4].get('extra', []),
                                                           tempfile.mkdtemp(dir=workdir)), batch))
            after = fingerprint()
            moved = sorted(n for n in before if before[n] != after[n])
            before = after
            for (case_id, category, shown, expect, change), (rc, stdout, stderr, took) in zip(batch, runs):
                play, task, msg, changed = failure_of(stdout, stderr)
                problems = []
                if rc == 0:
                    problems.append('the run succeeded')
                if not (play or '').startswith('Preflight'):
                    problems.append('stopped outside preflight (play %r, task %r)' % (play, task))
                if expect.lower() not in (msg or '').lower():
                    problems.append('message does not name %r' % expect)
                if changed:
                    problems.append('hosts reported changes: %s' % ', '.join(changed))
                if moved:
                    problems.append('node fingerprints changed on %s during this batch' % ', '.join(moved))
                if changed or moved:
                    changers.append(case_id)
                seconds.append(took)
                checked = re.search(r'in ([0-9.]+) s', msg or '')
                if checked:
                    check_seconds.append(float(checked.group(1)))
                verdict = 'ok' if not problems else 'FAIL: ' + '; '.join(problems)
                if problems:
                    failures.append(case_id)
                short = (msg or stderr.strip()[-300:]).replace('\n', ' ')
                lines.append('%-26s | %-22s | %-9s | %5.1f s | %s | %s | %s' % (
                    case_id, category, 'preflight' if (play or '').startswith('Preflight') else (play or '?'),
                    took, shown, verdict, short[:400]))
    refused = len(cases) - len(failures)
    lines.append('')
    lines.append('%d bad inputs, %d refused in preflight with the variable named and nothing changed; '
                 'median time to refusal %.1f s (min %.1f, max %.1f); %d changed anything.'
                 % (len(cases), refused, statistics.median(seconds), min(seconds), max(seconds),
                    len(changers)))
    if check_seconds:
        lines.append('The input checks themselves (preflight_check on the controller) took a median of %.2f s (max %.2f s) '
                     'for the %d hosts; the rest of each run is ansible-playbook starting up.'
                     % (statistics.median(check_seconds), max(check_seconds), len(NODES)))
    text = '\n'.join(lines) + '\n'
    with open(args.report, 'w') as handle:
        handle.write(text)
    sys.stdout.write(text)
    if failures:
        sys.stdout.write('FAILED cases: %s\n' % ', '.join(failures))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
