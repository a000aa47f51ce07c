# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
"""Reachability of the package sources that the enabled stages need.

Plain Python over Ansible's own URL helper, so it can run on the controller or
on a node. `plan_stages` turns probe results into a decision: in the ``lab``
profile a stage with an unreachable source is skipped (and the reason is
recorded for the stage summary); in any other profile the run stops with one
message naming the URL and the variable that points to a mirror.
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


def check(sources, profile, timeout=5.0, opener=None):
    """Probe each distinct URL once and plan the stages."""
    # Distinct URLs are probed at the same time, so preflight waits for the slowest, not the sum.
    urls = []
    for source in sources:
        if source["url"] not in urls:
            urls.append(source["url"])
    results = {}
    if urls:
        with ThreadPoolExecutor(max_workers=min(8, len(urls))) as pool:
            answers = pool.map(lambda url: probe(url, timeout=timeout, opener=opener), urls)
            results = dict(zip(urls, answers))
    skips, failure = plan_stages(sources, results, profile)
    return results, skips, failure
