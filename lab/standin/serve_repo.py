"""STAND-IN package repository server for the ironstone.k8s lab.

A tiny static HTTP server for the output of build_repo.py, so nodes reach the
stand-in repository as they would pkgs.k8s.io and dl.k8s.io (paths such as
``/core:/stable:/v1.32/deb/InRelease``, ``:`` included, are served as is).

Usage::

    python3 lab/standin/serve_repo.py --dir .cache/lab/standin-repo --bind 0.0.0.0 --port 8080
"""
import argparse
import functools
import http.server
import os
import sys
import threading
import urllib.parse


class RepoHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files under the repository directory; no directory listings of anything outside it."""

    server_version = "ironstone-standin-repo/1"
    quiet = False
    extensions_map = dict(http.server.SimpleHTTPRequestHandler.extensions_map)
    extensions_map.update({".deb": "application/vnd.debian.binary-package", ".gpg": "application/pgp-signature",
                           ".key": "application/pgp-keys", ".sha256": "text/plain", ".sha512": "text/plain",
                           "": "application/octet-stream"})

    def translate_path(self, path):
        # The base class splits on '?'/'#', unquotes (apt may send %3A for ':') and drops '..'.
        path = urllib.parse.urlsplit(path).path
        return super().translate_path(path)

    def end_headers(self):
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        if not self.quiet:
            super().log_message(format, *args)


def make_server(directory, bind="127.0.0.1", port=0, quiet=False):
    """A ThreadingHTTPServer serving directory (port 0: any free port, see server.server_address)."""
    directory = os.path.abspath(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError("no such directory: %s" % directory)
    handler = type("BoundRepoHandler", (RepoHandler,), {"quiet": quiet})
    server = http.server.ThreadingHTTPServer((bind, port), functools.partial(handler, directory=directory))
    server.daemon_threads = True
    return server


def serve_in_thread(directory, bind="127.0.0.1", port=0):
    """Start a quiet server in a daemon thread; returns (server, base_url). Stop with server.shutdown()."""
    server = make_server(directory, bind, port, quiet=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    return server, "http://%s:%d" % (host, port)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Serve the ironstone.k8s lab's STAND-IN package repository over HTTP.")
    parser.add_argument("--dir", required=True, help="the repository directory (build_repo.py --out)")
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--quiet", action="store_true", help="no request log")
    args = parser.parse_args(argv)
    try:
        server = make_server(args.dir, args.bind, args.port, args.quiet)
    except OSError as exc:
        print("serve_repo: error: %s" % exc, file=sys.stderr)
        return 1
    host, port = server.server_address[:2]
    print("serve_repo: STAND-IN repository %s on http://%s:%d/" % (os.path.abspath(args.dir), host, port), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
