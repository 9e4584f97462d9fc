#!/usr/bin/env python3
"""client-agent maps libcurl only when a transfer needs it (client-agent/transport/curl_api.h).

Through the real binary, with the dynamic loader's own trace (LD_DEBUG=files, written to files
by LD_DEBUG_OUTPUT): `--help`, `init` and `status` never load libcurl.so; a refresh over https://
(a TLS server in this process, trusted with --ca-file) and one over grpc:// (a closed loopback
port: the transfer fails, but only after libcurl was needed) load it, by dlopen ("dynamically
loaded by"), not as a NEEDED entry. The positive cases show that the trace sees libcurl when it
is there, so the negative ones can fail.

Without libcurl (its file hidden by a bind mount of /dev/null in a user and mount namespace,
`unshare -r -m`; skipped where namespaces are not allowed), an https:// and a grpc:// refresh fail
with the load error as a one-line message and exit status 1: no crash.

HttpWithoutLibcurl: a refresh and a download over plain http:// must not load libcurl either.
That holds only once http:// has its own fetcher (client-agent/transport/http1_fetcher.h);
registered as a separate ctest that starts DISABLED (see CMakeLists.txt).

Usage: lazy_libcurl_test.py --agent PATH --repo PATH [unittest args, e.g. LazyLibcurl]
"""

import argparse
import functools
import glob
import shlex
import http.server
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import unittest

ARGS = None
LIBCURL = re.compile(r"file=(libcurl\.so[^ ]*) \[\d+\];\s+(needed by|dynamically loaded by)")


class _Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass


class Server:
    """Serves `root` on 127.0.0.1:<ephemeral> over HTTP, or HTTPS with tls=(cert, key)."""

    def __init__(self, root, tls=None):
        handler = functools.partial(_Handler, directory=root)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.scheme = "http"
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            self.scheme = "https"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def base(self):
        return "%s://127.0.0.1:%d" % (self.scheme, self.httpd.server_address[1])

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class AgentTestCase(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="lazy_libcurl_")
        self.md = os.path.join(self.tmp, "md")
        self.runs = 0

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def run_traced(self, *args, expect_code=0, prefix=()):
        """Runs the agent under LD_DEBUG=files; returns {libcurl soname: how it was loaded}."""
        self.runs += 1
        trace = os.path.join(self.tmp, "ld-%d" % self.runs)
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        env.update({"LD_DEBUG": "files", "LD_DEBUG_OUTPUT": trace})
        result = subprocess.run(list(prefix) + [ARGS.agent] + list(args), capture_output=True,
                                env=env, timeout=60)
        self.stderr = result.stderr.decode()
        if expect_code is not None:
            self.assertEqual(result.returncode, expect_code, result.stderr.decode())
        text = ""
        for path in glob.glob(trace + ".*"):
            with open(path) as f:
                text += f.read()
        # The trace works: the C library is in every process's list.
        self.assertIn("file=libc.so.6", text, "LD_DEBUG=files wrote no trace")
        return {m.group(1): m.group(2) for m in LIBCURL.finditer(text)}

    def init(self):
        loaded = self.run_traced("--metadata-dir", self.md, "init",
                                 os.path.join(ARGS.repo, "metadata", "1.root.json"))
        self.assertEqual(loaded, {}, "init loaded libcurl")

    def assert_dlopened(self, loaded):
        self.assertEqual(set(loaded.values()), {"dynamically loaded by"},
                         "libcurl not loaded, or loaded at start-up: %r" % loaded)


class LazyLibcurl(AgentTestCase):

    def test_help_does_not_load_libcurl(self):
        self.assertEqual(self.run_traced("--help"), {})

    def test_init_and_status_do_not_load_libcurl(self):
        self.init()
        state = os.path.join(self.tmp, "state")
        os.makedirs(state)
        self.assertEqual(self.run_traced("--state-dir", state, "status"), {})

    def test_https_refresh_loads_libcurl_on_demand(self):
        cert = os.path.join(self.tmp, "cert.pem")
        key = os.path.join(self.tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
                        key, "-out", cert], check=True, capture_output=True)
        server = Server(ARGS.repo, tls=(cert, key))
        try:
            self.init()
            self.assert_dlopened(self.run_traced(
                "--metadata-url", server.base + "/metadata", "--metadata-dir", self.md,
                "--ca-file", cert, "refresh"))
        finally:
            server.stop()

    def test_grpc_refresh_loads_libcurl_on_demand(self):
        self.init()
        # Nothing listens on port 1: the call fails, after loading libcurl for it.
        self.assert_dlopened(self.run_traced(
            "--metadata-url", "grpc://127.0.0.1:1/metadata", "--metadata-dir", self.md,
            "--connect-timeout", "5", "refresh", expect_code=1))


    def test_missing_libcurl_is_an_error_not_a_crash(self):
        found = re.search(r"libcurl\.so\.4 \(libc6,x86-64\) => (\S+)",
                          subprocess.run(["ldconfig", "-p"], capture_output=True,
                                         text=True).stdout)
        self.assertIsNotNone(found, "libcurl.so.4 not in the loader cache")
        real = os.path.realpath(found.group(1))
        hide = ["unshare", "-r", "-m", "sh", "-c", 'mount --bind /dev/null "$0" && exec "$@"',
                real]
        probe = subprocess.run(hide + ["true"], capture_output=True)
        if probe.returncode != 0:
            self.skipTest("no user/mount namespace here: %s" % probe.stderr.decode().strip())
        self.init()
        for url in ("grpc://127.0.0.1:1/metadata", "https://127.0.0.1:1/metadata"):
            self.run_traced("--metadata-url", url, "--metadata-dir", self.md, "refresh",
                            expect_code=1, prefix=hide)
            lines = [line for line in self.stderr.splitlines() if line.strip()]
            self.assertEqual(len(lines), 1, "%s: %r" % (shlex.join(hide), self.stderr))
            self.assertIn("need libcurl (libcurl.so.4), which could not be loaded", lines[0])


class HttpWithoutLibcurl(AgentTestCase):

    def test_http_refresh_and_download_do_not_load_libcurl(self):
        server = Server(ARGS.repo)
        try:
            self.init()
            self.assertEqual(self.run_traced(
                "--metadata-url", server.base + "/metadata", "--metadata-dir", self.md,
                "refresh"), {})
            self.assertEqual(self.run_traced(
                "--metadata-url", server.base + "/metadata", "--metadata-dir", self.md,
                "--target-name", "manifest.txt", "--target-dir", os.path.join(self.tmp, "td"),
                "--target-base-url", server.base + "/targets", "download"), {})
        finally:
            server.stop()


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", required=True)
    parser.add_argument("--repo", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
