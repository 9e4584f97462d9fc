#!/usr/bin/env python3
"""client-agent updates from repositories made by @tufjs/models (agent_tufjs_make_repos.js).

The release trees are served over HTTP/1.1 from 127.0.0.1 (an ephemeral port) by a static
server in this process; which tree is served is switched between agent runs, as a mirror
would change. Each test drives the real `client-agent update` (ab-dir installer, hardware id
pump-x1) and checks the exit status, stderr, the installed version (state.json), the install
root, the trusted metadata directory byte for byte and the security event log
(`client-agent events --json --verify`).

Usage: agent_tufjs_update.py --agent PATH --repos DIR [unittest args, e.g. AgentTufjsTest.test_x]
Exit 77 (ctest "skipped") when MDU_SKIP_INTEROP=1 and DIR does not exist (its node maker was
skipped).
"""

import argparse
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

ARGS = None


class _Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def translate_path(self, path):
        # The tree currently served, switched by the test.
        self.directory = self.server.tree
        return super().translate_path(path)

    def log_message(self, *args):
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    tree = None


def read_tree(root):
    """relative path -> bytes (or '-> target' for symlinks) of everything below root."""
    out = {}
    if not os.path.isdir(root):
        return out
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            if os.path.islink(full):
                out[rel] = "-> " + os.readlink(full)
            elif os.path.isfile(full):
                with open(full, "rb") as f:
                    out[rel] = f.read()
    return out


class AgentTufjsTest(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="mdu-agent-tufjs-")
        self.server = _Server(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = "http://127.0.0.1:%d" % self.server.server_address[1]
        with open(os.path.join(ARGS.repos, "expected.json")) as f:
            self.expected = json.load(f)
        self.md = os.path.join(self.work, "md")
        self.state = os.path.join(self.work, "state")
        self.install = os.path.join(self.work, "install")
        self.agent("--metadata-dir", self.md, "init",
                   os.path.join(ARGS.repos, "v1", "metadata", "1.root.json"), expect=0)

    def tearDown(self):
        self.server.shutdown()
        self.server.server_close()
        shutil.rmtree(self.work, ignore_errors=True)

    def serve(self, tree):
        self.server.tree = os.path.join(ARGS.repos, tree)

    def agent(self, *args, expect=None):
        proc = subprocess.run([ARGS.agent, *args], capture_output=True, text=True, timeout=120)
        if expect is not None:
            self.assertEqual(proc.returncode, expect, proc.stderr)
        return proc

    def update(self):
        return self.agent("--metadata-dir", self.md, "--metadata-url", self.base + "/metadata",
                          "--target-base-url", self.base + "/targets", "--state-dir", self.state,
                          "--install-root", self.install, "--hardware-id", "pump-x1", "--quiet",
                          "--timeout", "30", "--download-attempts", "1", "--retry-backoff", "0",
                          "update")

    def installed_version(self):
        with open(os.path.join(self.state, "state.json")) as f:
            installed = json.load(f).get("installed")
        return installed["target"]["version"] if installed else None

    def installed_sha256(self, name):
        # ab-dir keeps the payload under its staged name, the percent-encoded target path.
        with open(os.path.join(self.install, "current", name.replace("/", "%2F")), "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    def events(self):
        proc = self.agent("--state-dir", self.state, "--json", "events", "--verify", expect=0)
        doc = json.loads(proc.stdout)
        self.assertTrue(doc["verify"]["intact"], proc.stdout)
        return [event["type"] for event in doc["events"]]

    def install_version(self, tree, version):
        self.serve(tree)
        proc = self.update()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(self.installed_version(), version)

    def expect_refused(self, tree, cause, event, may_advance=None):
        """Serves `tree`, runs update and checks the four refusal properties. `may_advance`:
        trusted files that may move on to the given legitimate tree's bytes."""
        metadata_before = read_tree(self.md)
        install_before = read_tree(self.install)
        version_before = self.installed_version()
        events_before = len(self.events())
        self.serve(tree)
        proc = self.update()
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("update failed", proc.stderr)
        self.assertIn(cause, proc.stderr)
        self.assertEqual(self.installed_version(), version_before)
        self.assertEqual(read_tree(self.install), install_before, "the install root changed")
        self.assertEqual(read_tree(os.path.join(self.state, "staging")), {}, "something staged")
        metadata_after = read_tree(self.md)
        for name, legit in (may_advance or {}).items():
            if metadata_after.get(name) == legit:
                metadata_after[name] = metadata_before[name]
        self.assertEqual(metadata_after, metadata_before, "the trusted metadata changed")
        events = self.events()
        self.assertIn(event, events[events_before:], "expected a %s event" % event)

    def legit(self, tree, version):
        """The legitimate top-level files of `tree` as the agent stores them."""
        meta = os.path.join(ARGS.repos, tree, "metadata")

        def read(name):
            with open(os.path.join(meta, name), "rb") as f:
                return f.read()
        return {"timestamp.json": read("timestamp.json"),
                "snapshot.json": read("%d.snapshot.json" % version),
                "targets.json": read("%d.targets.json" % version)}

    # --- the good path -------------------------------------------------------------------------

    def test_installs_releases_from_tufjs_repository(self):
        self.install_version("v1", "1.0.0")
        fw1 = self.expected["pump/firmware-1.0.0.bin"]
        self.assertEqual(self.installed_sha256("pump/firmware-1.0.0.bin"), fw1["sha256"])
        self.install_version("v2", "2.0.0")
        fw2 = self.expected["pump/firmware-2.0.0.bin"]
        self.assertEqual(self.installed_sha256("pump/firmware-2.0.0.bin"), fw2["sha256"])
        # The trusted metadata is tuf-js's bytes, exactly.
        for name, data in self.legit("v2", 2).items():
            with open(os.path.join(self.md, name), "rb") as f:
                self.assertEqual(f.read(), data, name)
        self.assertEqual(self.events(), [])

    # --- refusals ------------------------------------------------------------------------------

    def test_refuses_tampered_target(self):
        self.install_version("v1", "1.0.0")
        self.expect_refused("v2-tampered-target", "hash_mismatch", "hash_mismatch",
                            self.legit("v2", 2))

    def test_refuses_tampered_timestamp(self):
        self.install_version("v1", "1.0.0")
        self.expect_refused("v2-tampered-metadata", "unsigned_metadata", "bad_signature")

    def test_refuses_tampered_targets_metadata(self):
        self.install_version("v1", "1.0.0")
        legit = self.legit("v2", 2)
        del legit["targets.json"]
        self.expect_refused("v2-tampered-targets-metadata", "_mismatch", "hash_mismatch", legit)

    def test_refuses_rollback_to_older_release(self):
        self.install_version("v1", "1.0.0")  # 2.0.0 updates only from 1.0.0 or later
        self.install_version("v2", "2.0.0")
        self.expect_refused("v1", "bad_version", "rollback_attempt")

    def test_refuses_expired_timestamp(self):
        self.install_version("v1", "1.0.0")
        self.expect_refused("v2-expired", "expired", "expired_metadata")


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--agent", required=True)
    parser.add_argument("--repos", required=True)
    ARGS, rest = parser.parse_known_args()
    if os.environ.get("MDU_SKIP_INTEROP") == "1" and not os.path.isdir(ARGS.repos):
        print("MDU_SKIP_INTEROP=1: skipping")
        sys.exit(77)
    unittest.main(argv=[sys.argv[0]] + rest)


if __name__ == "__main__":
    main()
