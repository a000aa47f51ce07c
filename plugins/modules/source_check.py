#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: source_check
short_description: Check that the package sources of the enabled stages answer
version_added: 0.1.0
author: ironstone.k8s contributors (@ironstone)
description:
  - Probes each download URL that an enabled stage needs, once, with a short timeout, so that a run on a
    machine without access to a package source stops at once instead of hanging or failing late.
  - In the C(lab) profile a stage with an unreachable source is reported in RV(skips) instead, so the
    playbooks can skip it and the stage summary can say so loudly.
  - In any other profile the module fails with one message that names the unreachable URL and the variable
    that points to a mirror.
options:
  sources:
    description:
      - The sources to check. Each is a dict with C(stage) (the stage that needs it, for example C(etcd)),
        C(url) (probed with an HTTP HEAD request; C(file://) URLs are checked for existence) and C(variable)
        (the variable that sets the URL, named in messages), and optionally C(standin_url), the same artifact in
        the lab's stand-in repository, which only the C(lab) profile uses, and only when C(url) does not answer.
        Other keys are ignored.
    type: list
    elements: dict
    required: true
  profile:
    description:
      - C(lab) skips stages whose sources are unreachable; anything else fails.
    type: str
    default: production
  timeout:
    description: Seconds to wait for each URL.
    type: float
    default: 5.0
attributes:
  check_mode:
    support: full
    description: The module only reads; it runs the same in check mode.
  diff_mode:
    support: none
    description: Nothing is changed, so there is nothing to diff.
  platform:
    platforms: posix
    support: full
    description: Runs on the controller or on any node with Python.
"""

EXAMPLES = r"""
- name: Check the sources of the enabled stages
  ironstone.k8s.source_check:
    profile: "{{ ironstone_profile }}"
    sources:
      - stage: etcd
        url: "{{ etcd_archive_url }}"
        variable: etcd_archive_url
  register: sources
"""

RETURN = r"""
results:
  description: Each URL probed, with whether it answered and how.
  returned: always
  type: list
  elements: dict
  sample: [{"url": "https://mirror.example/etcd.tar.gz", "reachable": false, "detail": "timed out"}]
standins:
  description: Stage name to the reason it runs against the lab's stand-in repository (lab profile only).
  returned: always
  type: dict
  sample: {"kube_packages": "https://pkgs.k8s.io/core:/stable:/v1.32/deb/Release.key is unreachable (timed out); using the lab's stand-in repository"}
skips:
  description: Stage name to the reason it must be skipped (lab profile only).
  returned: always
  type: dict
  sample: {"etcd": "https://mirror.example/etcd.tar.gz is unreachable (timed out); set etcd_archive_url to a reachable mirror"}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ironstone.k8s.plugins.module_utils import sources as sources_utils


def main():
    module = AnsibleModule(
        argument_spec=dict(
            sources=dict(type="list", elements="dict", required=True),
            profile=dict(type="str", default="production"),
            timeout=dict(type="float", default=5.0),
        ),
        supports_check_mode=True,
    )
    sources = module.params["sources"]
    errors = sources_utils.validate_sources(sources)
    if errors:
        module.fail_json(msg="; ".join(errors))
    results, skips, failure, standins = sources_utils.check_with_standins(
        sources, module.params["profile"], timeout=module.params["timeout"])
    listing = [dict(url=url, reachable=ok, detail=detail) for url, (ok, detail) in sorted(results.items())]
    if failure:
        module.fail_json(msg=failure, results=listing, skips={}, standins={})
    module.exit_json(changed=False, results=listing, skips=skips, standins=standins)


if __name__ == "__main__":
    main()
