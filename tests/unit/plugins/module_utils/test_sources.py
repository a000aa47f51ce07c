"""Unit tests for module_utils/sources.py (preflight's package-source check).

Probes go to a throwaway HTTP server on 127.0.0.1 started by the test (a
stand-in for a package mirror) and to a closed local port.
"""
import http.server
import socket
import threading

import pytest

from ansible_collections.ironstone.k8s.plugins.module_utils import sources


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_HEAD(self):  # noqa: N802 - http.server naming
        self.send_response(200 if self.path == "/etcd.tar.gz" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def mirror():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()


@pytest.fixture
def closed_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return "http://127.0.0.1:%d/etcd.tar.gz" % port


def test_probe_reachable_file(mirror):
    assert sources.probe(mirror + "/etcd.tar.gz", timeout=2) == (True, "HTTP 200")


def test_probe_missing_file_is_unreachable(mirror):
    ok, detail = sources.probe(mirror + "/missing.tar.gz", timeout=2)
    assert not ok and "404" in detail


def test_probe_directory_404_still_answers(mirror):
    ok, detail = sources.probe(mirror + "/repo/", timeout=2)
    assert ok and "404" in detail


def test_probe_refused(closed_port):
    ok, detail = sources.probe(closed_port, timeout=2)
    assert not ok and detail


def test_probe_file_url(tmp_path):
    present = tmp_path / "a.tgz"
    present.write_bytes(b"x")
    assert sources.probe("file://%s" % present)[0]
    assert not sources.probe("file://%s" % (tmp_path / "b.tgz"))[0]


def test_validate_sources_rejects_missing_keys_and_schemes():
    errors = sources.validate_sources([{"stage": "etcd", "url": "mirror/etcd.tgz", "variable": "etcd_archive_url"},
                                       {"stage": "etcd", "url": "http://x"}])
    assert "no URL scheme" in errors[0] and "etcd_archive_url" in errors[0]
    assert "lacks 'variable'" in errors[1]


SRC = [{"stage": "etcd", "url": "http://a/etcd.tgz", "variable": "etcd_archive_url"},
       {"stage": "runtime", "url": "http://b/runc", "variable": "container_runtime_runc_url"},
       {"stage": "runtime", "url": "http://c/cni.tgz", "variable": "container_runtime_cni_plugins_url"}]


def test_plan_all_reachable():
    results = dict((s["url"], (True, "HTTP 200")) for s in SRC)
    assert sources.plan_stages(SRC, results, "production") == ({}, None)


def test_plan_lab_skips_each_stage_with_its_first_reason():
    results = {"http://a/etcd.tgz": (True, "HTTP 200"), "http://b/runc": (False, "timed out"),
               "http://c/cni.tgz": (False, "refused")}
    skips, failure = sources.plan_stages(SRC, results, "lab")
    assert failure is None
    assert list(skips) == ["runtime"]
    assert "http://b/runc is unreachable (timed out)" in skips["runtime"]
    assert "container_runtime_runc_url" in skips["runtime"]


def test_plan_production_fails_with_one_message_naming_url_and_variable():
    results = {"http://a/etcd.tgz": (False, "timed out"), "http://b/runc": (False, "refused"),
               "http://c/cni.tgz": (True, "HTTP 200")}
    skips, failure = sources.plan_stages(SRC, results, "production")
    assert skips == {}
    assert failure.startswith("Stage etcd needs http://a/etcd.tgz, which is unreachable (timed out)")
    assert "etcd_archive_url" in failure and "and 1 more: http://b/runc" in failure


def test_check_probes_each_url_once():
    calls = []

    def opener(url, method=None, timeout=None):
        calls.append(url)
        raise sources.URLError("no route")

    dup = SRC + [dict(SRC[0], stage="other")]
    results, skips, failure = sources.check(dup, "lab", opener=opener)
    assert sorted(calls) == sorted(set(s["url"] for s in SRC))
    assert set(skips) == {"etcd", "runtime", "other"} and failure is None
