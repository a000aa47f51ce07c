# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
"""Reachability of the package sources that the enabled stages need.

Plain Python over Ansible's own URL helper, so it can run on the controller or
on a node. `plan_stages` turns probe results into a decision: in the ``lab``
profile a stage with an unreachable source is skipped (and the reason is
recorded for the stage summary); in any other profile the run stops with one
message naming the URL and the variable that points to a mirror.

A source may also name a ``standin_url``: the same artifact in the lab's
stand-in repository (the project's lab tooling). Only in the ``lab`` profile, and only when
the real URL does not answer, a stage whose every unreachable source has a
stand-in that answers runs against the stand-in instead of being skipped
(`plan_standins`); the reason is recorded, and the stage summary marks the
stages that ran against it. Any other profile never looks at a stand-in.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from concurrent.futures import ThreadPoolExecutor
import os
import socket

from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.urls import open_url


def probe(url, timeout=5.0, opener=None):
    """Return (reachable, detail) for one URL.

    Any HTTP answer, even 403 or 404 for a directory listing, proves the host
    answers; only 404 on a file URL means the artifact is missing. A refused
    connection, a DNS failure or a timeout means unreachable.
    """
    opener = opener or open_url
    if url.startswith("file://"):
        path = url[len("file://"):]
        return (os.path.exists(path), "exists" if os.path.exists(path) else "no such file")
    try:
        response = opener(url, method="HEAD", timeout=timeout)
        return True, "HTTP %s" % getattr(response, "status", 200)
    except HTTPError as exc:
        if exc.code == 404 and not url.endswith("/"):
            return False, "HTTP 404 (not found)"
        return True, "HTTP %s" % exc.code
    except (URLError, socket.timeout, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, str(reason) or exc.__class__.__name__


def validate_sources(sources):
    """Check the shape of the source list; return a list of error strings."""
    errors = []
    for index, source in enumerate(sources):
        for key in ("stage", "url", "variable"):
            if not isinstance(source, dict) or not source.get(key):
                errors.append("source #%d lacks '%s': %r" % (index, key, source))
                break
        else:
            if "://" not in source["url"]:
                errors.append("source %s=%r for stage %s has no URL scheme; use http://, https:// or file://"
                              % (source["variable"], source["url"], source["stage"]))
    return errors


def plan_stages(sources, results, profile):
    """Decide which stages to skip.

    ``results`` maps url -> (reachable, detail). Returns (skips, failure):
    ``skips`` maps stage -> reason (lab profile only); ``failure`` is one
    message, or None, for any other profile.
    """
    unreachable = []
    for source in sources:
        ok, detail = results[source["url"]]
        if not ok:
            unreachable.append((source, detail))
    if not unreachable:
        return {}, None
    if profile == "lab":
        skips = {}
        for source, detail in unreachable:
            reason = "%s is unreachable (%s); set %s to a reachable mirror" % (source["url"], detail, source["variable"])
            skips.setdefault(source["stage"], reason)
        return skips, None
    source, detail = unreachable[0]
    more = ""
    if len(unreachable) > 1:
        more = " (and %d more: %s)" % (len(unreachable) - 1, ", ".join(pair[0]["url"] for pair in unreachable[1:]))
    failure = ("Stage %s needs %s, which is unreachable (%s); point %s at a reachable mirror, "
               "or disable the stage%s." % (source["stage"], source["url"], detail, source["variable"], more))
    return {}, failure


def plan_standins(sources, results, profile):
    """The stages that run against the lab's stand-in repository: stage -> reason.

    Lab profile only. A stage qualifies when at least one of its real sources is
    unreachable and every such source has a ``standin_url`` that answers; a stage
    with an unreachable source and no answering stand-in is left to `plan_stages`,
    which skips it.
    """
    if profile != "lab":
        return {}
    by_stage = {}
    for source in sources:
        by_stage.setdefault(source["stage"], []).append(source)
    standins = {}
    for stage, stage_sources in by_stage.items():
        down = [s for s in stage_sources if not results[s["url"]][0]]
        if not down:
            continue
        if all(s.get("standin_url") and results.get(s["standin_url"], (False, ""))[0] for s in down):
            first = down[0]
            standins[stage] = ("%s is unreachable (%s); using the lab's stand-in repository (%s), not the real packages"
                               % (first["url"], results[first["url"]][1], first["standin_url"]))
    return standins


def check_with_standins(sources, profile, timeout=5.0, opener=None):
    """Probe every URL (and, in the lab profile, every stand-in URL) once; plan the stages.

    Returns (results, skips, failure, standins).
    """
    urls = []
    for source in sources:
        candidates = [source["url"]]
        if profile == "lab" and source.get("standin_url"):
            candidates.append(source["standin_url"])
        for url in candidates:
            if url not in urls:
                urls.append(url)
    results = _probe_all(urls, timeout, opener)
    standins = plan_standins(sources, results, profile)
    real = [s for s in sources if s["stage"] not in standins]
    skips, failure = plan_stages(real, results, profile)
    return results, skips, failure, standins


def _probe_all(urls, timeout, opener):
    # Distinct URLs are probed at the same time, so preflight waits for the slowest, not the sum.
    results = {}
    if urls:
        with ThreadPoolExecutor(max_workers=min(8, len(urls))) as pool:
            answers = pool.map(lambda url: probe(url, timeout=timeout, opener=opener), urls)
            results = dict(zip(urls, answers))
    return results


def check(sources, profile, timeout=5.0, opener=None):
    """Probe each distinct URL once and plan the stages."""
    urls = []
    for source in sources:
        if source["url"] not in urls:
            urls.append(source["url"])
    results = _probe_all(urls, timeout, opener)
    skips, failure = plan_stages(sources, results, profile)
    return results, skips, failure
