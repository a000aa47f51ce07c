# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: stage_summary
type: aggregate
short_description: Print one line per cluster stage at the end of a run
version_added: 0.1.0
author: ironstone.k8s contributors (@ironstone)
description:
  - Groups plays into stages by their name prefix (a play named C(Etcd | ...) belongs to the C(etcd) stage) and prints,
    after the play recap, each stage with whether it ran or was skipped and why, its wall time (the sum of
    its plays' wall times) and its ok, changed and failed task results.
  - In the lab profile, when preflight chose the lab's stand-in Kubernetes repository for the C(kube_packages)
    stage (the C(preflight_stage_standins) fact), that stage and every stage after it are marked
    C((stand-in Kubernetes)), because they ran against stand-in kubeadm, kubelet and API server, not the real ones.
  - A stage is skipped when preflight records it in the C(preflight_stage_skips) fact, for example in the
    lab profile when its package source is unreachable. Skipped stages are printed in capitals so that they
    are never missed.
requirements:
  - Enable it in ansible.cfg with C(callbacks_enabled = ironstone.k8s.stage_summary).
"""

import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "ironstone.k8s.stage_summary"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self._stages = []
        self._by_name = {}
        self._current = None
        self._play_started = None
        self._skips = {}
        self._standins = {}

    def _stage(self, name):
        if name not in self._by_name:
            stage = dict(name=name, seconds=0.0, ok=0, changed=0, failed=0, unreachable=0)
            self._by_name[name] = stage
            self._stages.append(stage)
        return self._by_name[name]

    def _close_play(self):
        # A stage's time is the sum of its plays' wall times: a stage
        # playbook may import preflight again, which must not stretch it.
        if self._current is not None and self._play_started is not None:
            self._current["seconds"] += time.time() - self._play_started
        self._play_started = None

    def v2_playbook_on_play_start(self, play):
        name = (play.get_name() or "").strip()
        self._close_play()
        if " | " not in name:
            self._current = None
            return
        self._current = self._stage(name.split(" | ", 1)[0].strip().lower())
        self._play_started = time.time()

    def _count(self, key, result=None):
        if self._current is None:
            return
        self._current[key] += 1
        if result is not None:
            facts = result._result.get("ansible_facts") or {}
            skips = facts.get("preflight_stage_skips")
            if isinstance(skips, dict):
                self._skips.update(skips)
            standins = facts.get("preflight_stage_standins")
            if isinstance(standins, dict):
                self._standins.update(standins)

    def v2_runner_on_ok(self, result):
        self._count("changed" if result._result.get("changed") else "ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if not ignore_errors:
            self._count("failed")

    def v2_runner_on_unreachable(self, result):
        self._count("unreachable")

    def v2_playbook_on_stats(self, stats):
        self._close_play()
        # A stage left out of preflight_stages is named only when its playbook was part of the run.
        names = [s["name"] for s in self._stages] + sorted(
            n for n in self._skips if n not in self._by_name and not self._skips[n].startswith("not enabled"))
        if not names:
            return
        self._display.banner("STAGE SUMMARY")
        # Every stage from the first one that ran against the stand-in on used the stand-in Kubernetes.
        standin_from = min((names.index(n) for n in self._standins if n in names), default=None)
        for position, name in enumerate(names):
            stage = self._by_name.get(name)
            if name in self._skips:
                self._display.display("%-14s SKIPPED  %s" % (name, self._skips[name]), color="bright purple")
                continue
            state = "FAILED" if stage["failed"] or stage["unreachable"] else "ran"
            marker = "  (stand-in Kubernetes)" if standin_from is not None and position >= standin_from else ""
            self._display.display(
                "%-14s %-8s %7.1fs  ok=%d changed=%d failed=%d unreachable=%d%s"
                % (name, state, stage["seconds"], stage["ok"], stage["changed"], stage["failed"], stage["unreachable"], marker),
                color="red" if state == "FAILED" else ("yellow" if stage["changed"] else "green"),
            )
