#!/usr/bin/env python3
"""End-to-end tests of client-agent's TUF client mode, through the real binary.

The python-tuf reference repository (tests/testdata/python-tuf-repo, see its README.md) is
copied to a temporary directory per test (so a test can tamper with its copy) and served over
HTTP/1.1 from 127.0.0.1 on an ephemeral port by a server in this process, which records every
request. Each test runs `client-agent` as a subprocess and checks its exit status, its stderr,
the metadata directory byte for byte, the target directory and the server's access log.

Usage: client_agent_e2e.py --agent PATH --repo PATH [--faketime PATH] [unittest args, e.g. -k]
"""

import argparse
import functools
import http.server
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import unittest

ARGS = None

TOP_LEVEL = {"root.json", "timestamp.json", "snapshot.json", "targets.json"}
TARGETS = {
    "manifest.txt":
        "targets/d60c270baa755e81f66806d66205c0aec98e870078f9e289ee92d88000e86fd5.manifest.txt",
    "product-a/firmware-1.0.bin":
        "targets/product-a/"
        "8fba0abdca765fa8989c1e9f7f9849388fe1874fbf7a83cf4c6e32458fd431f4.firmware-1.0.bin",
    "bulk/pkg-00.bin":
        "targets/bulk/bcc826e6d6d510e49a8dd98d221b5e007953c582c795414eb4f5bc5c6bd8d682.pkg-00.bin",
}
# python-tuf's default local name: urllib.parse.quote(target_path, "").
LOCAL_NAME = {
    "manifest.txt": "manifest.txt",
    "product-a/firmware-1.0.bin": "product-a%2Ffirmware-1.0.bin",
    "bulk/pkg-00.bin": "bulk%2Fpkg-00.bin",
}


class _Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as nginx or a CDN would

    def log_request(self, code="-", size="-"):
        self.server.access_log.append((self.path, int(code) if str(code).isdigit() else 0))

    def log_message(self, *args):
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that hangs up on purpose (length limit reached) is not a server error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class RepositoryServer:
    """Serves `root` on 127.0.0.1:<ephemeral>; `access_log` lists (path, status)."""

    def __init__(self, root, tls=None):
        handler = functools.partial(_Handler, directory=root)
        self.httpd = _Server(("127.0.0.1", 0), handler)
        self.scheme = "http"
        if tls:  # (certificate, key) PEM files
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            self.scheme = "https"
        self.httpd.access_log = []
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self):
        return "%s://127.0.0.1:%d" % (self.scheme, self.httpd.server_address[1])

    @property
    def access_log(self):
        return self.httpd.access_log

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def copy_tree(source, destination):
    """Copies a directory tree with writable modes (the test data is read-only)."""
    for directory, _, files in os.walk(source):
        target = os.path.join(destination, os.path.relpath(directory, source))
        os.makedirs(target, exist_ok=True)
        for name in files:
            shutil.copyfile(os.path.join(directory, name), os.path.join(target, name))


def read(path):
    with open(path, "rb") as f:
        return f.read()


def snapshot_dir(path):
    """{file name: bytes} of a directory (everything in it, not only .json)."""
    if not os.path.isdir(path):
        return {}
    return {name: read(os.path.join(path, name)) for name in sorted(os.listdir(path))}


def flip_hex_char(data, start):
    """Replaces the first hex digit at or after `start` with another hex digit."""
    for i in range(start, len(data)):
        c = data[i:i + 1]
        if c in b"0123456789abcdef":
            return data[:i] + (b"0" if c != b"0" else b"1") + data[i + 1:]
    raise AssertionError("no hex digit to flip")


class ClientAgentTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="client_agent_e2e_")
        self.repo = os.path.join(self.tmp, "repo")
        copy_tree(ARGS.repo, self.repo)
        self.md = os.path.join(self.tmp, "md")
        self.td = os.path.join(self.tmp, "td")
        self.server = RepositoryServer(self.repo)

    def tearDown(self):
        self.server.stop()
        shutil.rmtree(self.tmp)

    # -- helpers ---------------------------------------------------------------------------

    def run_agent(self, *args, prefix=(), env_extra=None):
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        env.update(env_extra or {})
        result = subprocess.run(list(prefix) + [ARGS.agent] + list(args), capture_output=True,
                                env=env, timeout=120)
        return result.returncode, result.stdout.decode(), result.stderr.decode()

    def init(self, root="metadata/1.root.json"):
        code, out, err = self.run_agent("--metadata-dir", self.md, "init",
                                        os.path.join(self.repo, root))
        self.assertEqual(code, 0, err)

    def refresh(self, *extra, prefix=(), env_extra=None):
        return self.run_agent("--metadata-url", self.server.base + "/metadata", "--metadata-dir",
                              self.md, *extra, "refresh", prefix=prefix, env_extra=env_extra)

    def download(self, *names, extra=()):
        args = ["--metadata-url", self.server.base + "/metadata", "--metadata-dir", self.md]
        for name in names:
            args += ["--target-name", name]
        args += ["--target-dir", self.td, "--target-base-url", self.server.base + "/targets"]
        return self.run_agent(*extra, *args, "download")

    def requested(self, prefix=""):
        return [path for path, _ in self.server.access_log if path.startswith(prefix)]

    def assert_one_line_error(self, err, *words):
        lines = [line for line in err.splitlines() if line.strip()]
        self.assertEqual(len(lines), 1, "expected exactly one error line, got: %r" % err)
        for word in words:
            self.assertIn(word, lines[0])

    # -- init ------------------------------------------------------------------------------

    def test_init_stores_root_byte_for_byte_without_network(self):
        self.init()
        self.assertEqual(snapshot_dir(self.md),
                         {"root.json": read(os.path.join(self.repo, "metadata/1.root.json"))})
        self.assertEqual(self.server.access_log, [])

    def test_init_rejects_root_with_bad_signature(self):
        path = os.path.join(self.repo, "metadata/1.root.json")
        data = read(path)
        with open(path, "wb") as f:
            f.write(flip_hex_char(data, data.index(b'"sig"') + 8))
        code, _, err = self.run_agent("--metadata-dir", self.md, "init", path)
        self.assertEqual(code, 1)
        self.assert_one_line_error(err, "init failed", "root")
        self.assertNotIn("root.json", snapshot_dir(self.md))

    def test_init_rejects_non_root_metadata(self):
        code, _, err = self.run_agent("--metadata-dir", self.md, "init",
                                      os.path.join(self.repo, "metadata/timestamp.json"))
        self.assertEqual(code, 1)
        self.assert_one_line_error(err, "init failed")
        self.assertNotIn("root.json", snapshot_dir(self.md))

    def test_init_refuses_to_replace_a_different_trusted_root(self):
        self.init("metadata/2.root.json")
        code, _, err = self.run_agent("--metadata-dir", self.md, "init",
                                      os.path.join(self.repo, "metadata/1.root.json"))
        self.assertEqual(code, 1)
        self.assert_one_line_error(err, "different trusted root")
        self.assertEqual(read(os.path.join(self.md, "root.json")),
                         read(os.path.join(self.repo, "metadata/2.root.json")))

    # -- refresh ---------------------------------------------------------------------------

    def test_refresh_reaches_expected_state(self):
        self.init()
        code, out, err = self.refresh("--json")
        self.assertEqual(code, 0, err)
        result = json.loads(out)
        self.assertTrue(result["ok"])
        self.assertEqual(result["trusted"],
                         {"root": 2, "timestamp": 1, "snapshot": 1, "targets": 1})
        meta = os.path.join(self.repo, "metadata")
        self.assertEqual(snapshot_dir(self.md), {
            "root.json": read(os.path.join(meta, "2.root.json")),
            "timestamp.json": read(os.path.join(meta, "timestamp.json")),
            "snapshot.json": read(os.path.join(meta, "1.snapshot.json")),
            "targets.json": read(os.path.join(meta, "1.targets.json")),
        })
        # The specification's order: next roots until 404, timestamp, versioned snapshot/targets.
        self.assertEqual(self.server.access_log, [
            ("/metadata/2.root.json", 200), ("/metadata/3.root.json", 404),
            ("/metadata/timestamp.json", 200), ("/metadata/1.snapshot.json", 200),
            ("/metadata/1.targets.json", 200)])

    def test_second_refresh_reuses_valid_snapshot_and_targets(self):
        self.init()
        self.assertEqual(self.refresh()[0], 0)
        before = snapshot_dir(self.md)
        del self.server.access_log[:]
        code, _, err = self.refresh()
        self.assertEqual(code, 0, err)
        self.assertEqual(self.requested(), ["/metadata/3.root.json", "/metadata/timestamp.json"])
        self.assertEqual(snapshot_dir(self.md), before)

    def test_refresh_without_init_fails(self):
        code, _, err = self.refresh()
        self.assertEqual(code, 1)
        self.assert_one_line_error(err, "refresh failed", "root.json")

    def test_refresh_rejects_expired_metadata(self):
        if not ARGS.faketime:
            self.fail("faketime (package faketime) is required for this test")
        self.init()
        self.assertEqual(self.refresh()[0], 0)
        before = snapshot_dir(self.md)
        asan = os.environ.get("ASAN_OPTIONS", "")
        code, _, err = self.refresh(
            prefix=[ARGS.faketime, "2037-01-01 00:00:00"],
            env_extra={"FAKETIME_DONT_FAKE_MONOTONIC": "1",
                       # libfaketime is preloaded before the ASan runtime in sanitizer builds.
                       "ASAN_OPTIONS": (asan + ":" if asan else "") + "verify_asan_link_order=0"})
        self.assertEqual(code, 1)
        self.assert_one_line_error(err, "refresh failed", "expired")
        self.assertEqual(snapshot_dir(self.md), before)

    def test_refresh_rejects_timestamp_with_bad_signature(self):
        self.init()
        self.assertEqual(self.refresh()[0], 0)
        before = snapshot_dir(self.md)
        path = os.path.join(self.repo, "metadata/timestamp.json")
        data = read(path)
        with open(path, "wb") as f:
            f.write(flip_hex_char(data, data.index(b'"sig"') + 8))
        code, _, err = self.refresh()
        self.assertEqual(code, 1)
        self.assert_one_line_error(err, "refresh failed", "timestamp")
        self.assertEqual(snapshot_dir(self.md), before)

    def test_refresh_fails_when_server_is_down(self):
        self.init()
        url = self.server.base
        self.server.stop()
        code, _, err = self.run_agent("--metadata-url", url + "/metadata", "--metadata-dir",
                                      self.md, "refresh")
        self.server = RepositoryServer(self.repo)  # for tearDown
        self.assertEqual(code, 1)
        self.assert_one_line_error(err, "refresh failed", "download")

    def test_https_verifies_the_server_certificate(self):
        cert = os.path.join(self.tmp, "cert.pem")
        key = os.path.join(self.tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
                        key, "-out", cert], check=True, capture_output=True)
        self.server.stop()
        self.server = RepositoryServer(self.repo, tls=(cert, key))
        self.init()
        # A certificate the system does not trust: refused, nothing fetched, nothing stored.
        code, _, err = self.refresh()
        self.assertEqual(code, 1)
        self.assert_one_line_error(err, "refresh failed", "download", "https://127.0.0.1")
        self.assertEqual(set(snapshot_dir(self.md)), {"root.json"})
        self.assertEqual(self.server.access_log, [])
        # Trusted through --ca-file: the same refresh succeeds over TLS.
        code, out, err = self.refresh("--ca-file", cert, "--json")
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out)["trusted"]["root"], 2)
        self.assertIn(("/metadata/timestamp.json", 200), self.server.access_log)

    # -- download --------------------------------------------------------------------------

    def test_download_resolves_delegations_and_writes_verified_targets(self):
        self.init()
        names = ["manifest.txt", "product-a/firmware-1.0.bin", "bulk/pkg-00.bin"]
        code, out, err = self.download(*names, extra=["--json"])
        self.assertEqual(code, 0, err)
        self.assertEqual(snapshot_dir(self.td), {
            LOCAL_NAME[name]: read(os.path.join(self.repo, TARGETS[name])) for name in names})
        meta = os.path.join(self.repo, "metadata")
        md = snapshot_dir(self.md)
        self.assertEqual(set(md), TOP_LEVEL | {"product-a.json", "bulk.json", "bins-d.json"})
        for role in ("product-a", "bulk", "bins-d"):
            self.assertEqual(md[role + ".json"], read(os.path.join(meta, "1.%s.json" % role)))
        result = json.loads(out)
        self.assertEqual([(t["name"], t["role"], t["downloaded"]) for t in result["targets"]],
                         [("manifest.txt", "targets", True),
                          ("product-a/firmware-1.0.bin", "product-a", True),
                          ("bulk/pkg-00.bin", "bins-d", True)])
        # Targets by their consistent-snapshot names, each once.
        self.assertEqual(sorted(self.requested("/targets/")),
                         sorted("/" + path for path in TARGETS.values()))

    def test_second_download_fetches_nothing_again(self):
        self.init()
        names = ["manifest.txt", "product-a/firmware-1.0.bin", "bulk/pkg-00.bin"]
        self.assertEqual(self.download(*names)[0], 0)
        mtimes = {n: os.stat(os.path.join(self.td, n)).st_mtime_ns for n in os.listdir(self.td)}
        md_before = snapshot_dir(self.md)
        del self.server.access_log[:]
        code, out, err = self.download(*names, extra=["--json"])
        self.assertEqual(code, 0, err)
        self.assertEqual(self.requested("/targets/"), [])
        # Stored delegated roles are still valid: no metadata but the root probe and timestamp.
        self.assertEqual(self.requested(), ["/metadata/3.root.json", "/metadata/timestamp.json"])
        self.assertEqual([t["downloaded"] for t in json.loads(out)["targets"]], [False] * 3)
        self.assertEqual(
            {n: os.stat(os.path.join(self.td, n)).st_mtime_ns for n in os.listdir(self.td)},
            mtimes)
        self.assertEqual(snapshot_dir(self.md), md_before)

    def test_download_replaces_a_corrupted_local_copy(self):
        self.init()
        self.assertEqual(self.download("manifest.txt")[0], 0)
        local = os.path.join(self.td, "manifest.txt")
        with open(local, "wb") as f:
            f.write(b"corrupted")
        code, _, err = self.download("manifest.txt")
        self.assertEqual(code, 0, err)
        self.assertEqual(read(local), read(os.path.join(self.repo, TARGETS["manifest.txt"])))

    def test_download_rejects_tampered_target(self):
        self.init()
        self.assertEqual(self.refresh()[0], 0)
        md_before = snapshot_dir(self.md)
        path = os.path.join(self.repo, TARGETS["manifest.txt"])
        data = bytearray(read(path))
        data[10] ^= 0x01
        with open(path, "wb") as f:
            f.write(data)
        code, _, err = self.download("manifest.txt")
        self.assertEqual(code, 1)
        self.assert_one_line_error(err, "download failed", "manifest.txt", "hash")
        self.assertEqual(snapshot_dir(self.td), {})  # not even a temporary file
        self.assertEqual(snapshot_dir(self.md), md_before)

    def test_download_rejects_oversized_target(self):
        # Endless data: the server sends more than the signed length; the agent stops at it.
        self.init()
        self.assertEqual(self.refresh()[0], 0)
        md_before = snapshot_dir(self.md)
        path = os.path.join(self.repo, TARGETS["manifest.txt"])
        with open(path, "ab") as f:
            f.write(b"x" * 1000000)
        code, _, err = self.download("manifest.txt")
        self.assertEqual(code, 1)
        self.assert_one_line_error(err, "download failed", "manifest.txt", "limit")
        self.assertEqual(snapshot_dir(self.td), {})
        self.assertEqual(snapshot_dir(self.md), md_before)

    def test_download_rejects_delegated_role_with_bad_signature(self):
        self.init()
        self.assertEqual(self.refresh()[0], 0)
        md_before = snapshot_dir(self.md)
        path = os.path.join(self.repo, "metadata/1.product-a.json")
        data = read(path)
        with open(path, "wb") as f:
            f.write(flip_hex_char(data, data.index(b'"sig"') + 8))
        code, _, err = self.download("product-a/firmware-1.0.bin")
        self.assertEqual(code, 1)
        self.assert_one_line_error(err, "download failed", "product-a")
        self.assertEqual(snapshot_dir(self.td), {})
        self.assertEqual(snapshot_dir(self.md), md_before)
        self.assertEqual(self.requested("/targets/"), [])

    def test_download_of_unknown_target_fails_and_writes_nothing(self):
        self.init()
        code, out, err = self.download("manifest.txt", "product-a/missing.bin",
                                       extra=["--json"])
        self.assertEqual(code, 1)
        self.assert_one_line_error(err, "download failed", "product-a/missing.bin")
        self.assertEqual(json.loads(out)["error"]["kind"], "not_found")
        self.assertEqual(snapshot_dir(self.td), {})
        self.assertEqual(self.requested("/targets/"), [])

    def test_download_rejects_hostile_target_name(self):
        self.init()
        code, _, err = self.download("../escape.bin")
        self.assertEqual(code, 1)
        self.assert_one_line_error(err, "download failed", "..")
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "escape.bin")))

    # -- command line ----------------------------------------------------------------------

    def test_help_exits_zero_everywhere(self):
        for args in (["--help"], ["init", "--help"], ["refresh", "--help"],
                     ["download", "--help"]):
            code, out, _ = self.run_agent(*args)
            self.assertEqual(code, 0, args)
            self.assertIn("Usage", out)

    def test_usage_errors_exit_one(self):
        for args in ([], ["--no-such-option", "refresh"], ["frobnicate"],
                     ["--metadata-dir", self.md, "refresh"],
                     ["--metadata-dir", self.md, "init"],
                     # one value per --target-name: a second one is a usage error
                     ["--metadata-dir", self.md, "--target-name", "a", "b", "download"]):
            code, _, err = self.run_agent(*args)
            self.assertEqual(code, 1, (args, err))
            self.assertTrue(err.strip(), args)


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", required=True)
    parser.add_argument("--repo", required=True)
    parser.add_argument("--faketime", default=shutil.which("faketime") or "")
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
