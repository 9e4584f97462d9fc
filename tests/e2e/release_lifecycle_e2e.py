#!/usr/bin/env python3
"""End-to-end tests of a release's life through the three real programs.

The release engineer signs with `signer` (the throw-away keys-example/ set, root 2 of 3) and
writes the static TUF repository; the operator publishes it into `repo-server` (RocksDB, TLS,
mutual TLS for devices, operator listener with a bearer token) with `repo-server publish`; the
device (`client-agent`) installs over grpcs:// with its device certificate and reports each
outcome, signed by its device key, which the operator reads back with `repo-server history`.
Certificates are made per test with the openssl CLI: a server CA and a server certificate for
127.0.0.1, a device CA and device certificates with the URI SAN urn:mdu:device:<id>.

Usage: release_lifecycle_e2e.py --signer PATH --server PATH --agent PATH --keys DIR
       [unittest args, e.g. ReleaseLifecycleTest.test_x]
"""

import argparse
import glob
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

ARGS = None
PASSPHRASE_ENV = "MDU_E2E_KEY_PASSPHRASE"
# keys-example/README.md: the throw-away set's passphrase (NOT FOR PRODUCTION).
PASSPHRASE = "example-passphrase-NOT-FOR-PRODUCTION"
TARGET = "pump-x1/firmware.bin"
HARDWARE_ID = "pump-x1"


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env[PASSPHRASE_ENV] = PASSPHRASE
    env.update(extra or {})
    return env


def run(args, timeout=60, env_extra=None):
    """Runs a program; (exit code, stdout, stderr)."""
    result = subprocess.run([str(a) for a in args], capture_output=True, env=clean_env(env_extra),
                            timeout=timeout)
    return result.returncode, result.stdout.decode(), result.stderr.decode()


def must(args, what, **kwargs):
    code, out, err = run(args, **kwargs)
    if code != 0:
        raise AssertionError("%s failed (exit %d): %s%s" % (what, code, out, err))
    return out


def read_text(path):
    """The file's text, "" if it does not exist (yet)."""
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


class Pki:
    """A server CA, a server certificate for 127.0.0.1/localhost and a device CA."""

    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory)
        self._ca("server-ca")
        self._ca("device-ca")
        self._leaf("server", "server-ca", "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                   "extendedKeyUsage=serverAuth\n")

    def path(self, name):
        return os.path.join(self.dir, name)

    def _openssl(self, *args):
        must(["openssl", *args], "openssl " + args[0])

    def _ca(self, name):
        self._openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                      "-nodes", "-keyout", self.path(name + ".key"), "-out",
                      self.path(name + ".pem"), "-days", "2", "-subj", "/CN=" + name, "-addext",
                      "basicConstraints=critical,CA:TRUE", "-addext",
                      "keyUsage=critical,keyCertSign,cRLSign")

    def _leaf(self, name, ca, extensions):
        with open(self.path(name + ".ext"), "w") as f:
            f.write(extensions)
        self._openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                      "-keyout", self.path(name + ".key"), "-out", self.path(name + ".csr"),
                      "-subj", "/CN=" + name)
        self._openssl("x509", "-req", "-in", self.path(name + ".csr"), "-CA",
                      self.path(ca + ".pem"), "-CAkey", self.path(ca + ".key"),
                      "-CAcreateserial", "-out", self.path(name + ".pem"), "-days", "2",
                      "-extfile", self.path(name + ".ext"))

    def device(self, device_id):
        """(certificate, key) of a device certificate issued by the device CA."""
        self._leaf(device_id, "device-ca", "subjectAltName=URI:urn:mdu:device:%s\n"
                   "extendedKeyUsage=clientAuth\n" % device_id)
        return self.path(device_id + ".pem"), self.path(device_id + ".key")

    def fingerprint(self, certificate):
        """sha256 hex of the certificate's DER (what the server stores as evidence)."""
        der = subprocess.run(["openssl", "x509", "-in", certificate, "-outform", "DER"],
                             capture_output=True, check=True).stdout
        return hashlib.sha256(der).hexdigest()


class ReleaseEngineer:
    """signer with keys-example/: a workspace, releases, the static repository in `out`."""

    def __init__(self, directory):
        self.ws = os.path.join(directory, "workspace")
        self.out = os.path.join(directory, "release")
        self.files = directory
        keys = ARGS.keys
        self.keys = keys
        self.signer("init",
                    "--root-key", os.path.join(keys, "root-1.pub.json"),
                    "--root-key", os.path.join(keys, "root-2.pub.json"),
                    "--root-key", os.path.join(keys, "root-3.pub.json"), "--root-threshold", "2",
                    "--targets-key", os.path.join(keys, "targets.pub.json"),
                    "--snapshot-key", os.path.join(keys, "snapshot.pub.json"),
                    "--timestamp-key", os.path.join(keys, "timestamp.pub.json"))
        for key in ("root-1", "root-2"):
            self.sign("root", key)
        self.first = True

    def signer(self, *args):
        return must([ARGS.signer, "--workspace", self.ws, *args], "signer " + args[0])

    def sign(self, role, key):
        self.signer("sign", role, "--key", os.path.join(self.keys, key + ".key.json"),
                    "--passphrase-env", PASSPHRASE_ENV)

    def release(self, version, security_version, content):
        path = os.path.join(self.files, "firmware-%s.bin" % version)
        with open(path, "w") as f:
            f.write(content + "\n")
        self.signer("add-target", path, "--name", TARGET, "--version", version, "--hardware-id",
                    HARDWARE_ID, "--security-version", str(security_version),
                    *([] if self.first else ["--replace"]))
        self.first = False
        self.sign("targets", "targets")
        self.signer("publish", "--out", self.out,
                    "--snapshot-key", os.path.join(self.keys, "snapshot.key.json"),
                    "--timestamp-key", os.path.join(self.keys, "timestamp.key.json"),
                    "--snapshot-passphrase-env", PASSPHRASE_ENV,
                    "--timestamp-passphrase-env", PASSPHRASE_ENV)
        return self.out

    def root_v1(self):
        return os.path.join(self.out, "metadata", "1.root.json")


class RepoServer:
    """repo-server on RocksDB: device listener with mutual TLS, operator listener with tokens,
    the encrypted timestamp key from `signer export-online-key`."""

    def __init__(self, directory, pki, trusted_root, workspace):
        self.dir = directory
        self.pki = pki
        self.trusted_root = trusted_root
        self.process = None
        os.makedirs(directory)
        self.timestamp_key = os.path.join(directory, "timestamp.key.json")
        must([ARGS.signer, "--workspace", workspace, "export-online-key", "timestamp", "--key",
              os.path.join(ARGS.keys, "timestamp.key.json"), "--out", self.timestamp_key,
              "--passphrase-env", PASSPHRASE_ENV], "signer export-online-key")
        # One publisher; the server keeps only the token's sha256.
        self.token = secrets.token_hex(32)
        self.token_file = os.path.join(directory, "operator.token")
        with open(self.token_file, "w") as f:
            f.write(self.token)
        os.chmod(self.token_file, 0o600)
        with open(os.path.join(directory, "operators.json"), "w") as f:
            json.dump([{"name": "olivia", "role": "publisher",
                        "token_sha256": hashlib.sha256(self.token.encode()).hexdigest()}], f)

    def start(self):
        port_file = os.path.join(self.dir, "device.port")
        operator_port_file = os.path.join(self.dir, "operator.port")
        for f in (port_file, operator_port_file):
            if os.path.exists(f):
                os.remove(f)
        self.log = open(os.path.join(self.dir, "server.log"), "ab")
        self.process = subprocess.Popen(
            [ARGS.server, "--data-dir", os.path.join(self.dir, "db"),
             "--trusted-root", self.trusted_root,
             "--listen", "127.0.0.1:0", "--port-file", port_file,
             "--operator-listen", "127.0.0.1:0", "--operator-port-file", operator_port_file,
             "--tls-cert", self.pki.path("server.pem"), "--tls-key", self.pki.path("server.key"),
             "--client-ca", self.pki.path("device-ca.pem"),
             "--operator-credentials", os.path.join(self.dir, "operators.json"),
             "--timestamp-key", self.timestamp_key,
             "--timestamp-passphrase-env", PASSPHRASE_ENV,
             "--log-level", "warn", "--shutdown-grace", "1"],
            stdout=self.log, stderr=self.log, env=clean_env())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if all(read_text(f).strip() for f in (port_file, operator_port_file)):
                self.port = int(read_text(port_file))
                self.operator_port = int(read_text(operator_port_file))
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError("repo-server did not start:\n" + self.server_log())

    def stop(self):
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
            self.log.close()

    def server_log(self):
        with open(os.path.join(self.dir, "server.log"), "rb") as f:
            return f.read().decode(errors="replace")

    def operator(self, command, *args):
        """`repo-server <command>` ("history", "audit list", ...) as the operator; (exit code,
        stdout, stderr)."""
        return run([ARGS.server, *command.split(), "--server", "127.0.0.1:%d" % self.operator_port,
                    "--ca-cert", self.pki.path("server-ca.pem"), "--token-file", self.token_file,
                    *args])

    def operator_json(self, command, *args):
        code, out, err = self.operator(command, *args, "--json")
        if code != 0:
            raise AssertionError("repo-server %s failed (exit %d): %s%s" % (command, code, out,
                                                                           err))
        return json.loads(out)

    def publish(self, repo_dir):
        self.operator_json("publish", repo_dir)


class Device:
    """client-agent with an A/B install root, talking grpcs:// with its device certificate."""

    def __init__(self, directory, pki, certificate, key, root_file):
        self.dir = directory
        self.pki = pki
        self.cert = certificate
        self.key = key
        self.md = os.path.join(directory, "metadata")
        self.state = os.path.join(directory, "state")
        self.slots = os.path.join(directory, "slots")
        must([ARGS.agent, "--metadata-dir", self.md, "init", root_file], "client-agent init")
        # The health check of this device: the activated slot must not say BROKEN.
        self.health = "! grep -rq BROKEN \"%s/slot-$MDU_SLOT\"" % self.slots

    def identity(self, server_port, outbox=None):
        args = ["--report-server", "127.0.0.1:%d" % server_port,
                "--ca-cert", self.pki.path("server-ca.pem"),
                "--device-cert", self.cert, "--device-key", self.key]
        if outbox:
            args += ["--outbox-dir", outbox]
        return args

    def update_args(self, port, health=None):
        base = "grpcs://127.0.0.1:%d" % port
        return [ARGS.agent, "--metadata-dir", self.md, "--metadata-url", base + "/metadata",
                "--target-base-url", base + "/targets", "--state-dir", self.state,
                "--install-root", self.slots, "--hardware-id", HARDWARE_ID,
                "--health-check", health or self.health, "--health-timeout", "30",
                "--download-attempts", "1", "--retry-backoff", "1", "--quiet",
                *self.identity(port), "--json", "update"]

    def update(self, port):
        code, out, err = run(self.update_args(port))
        return code, json.loads(out) if out.strip() else None, err

    def flush(self, port, *extra):
        return run([ARGS.agent, "--state-dir", self.state, *self.identity(port), *extra,
                    "report", "flush"])

    def status(self):
        out = must([ARGS.agent, "--state-dir", self.state, "--json", "status"],
                   "client-agent status")
        return json.loads(out)["state"]

    def outbox(self, directory=None):
        return sorted(glob.glob(os.path.join(directory or os.path.join(self.state, "outbox"),
                                             "*.report")))


def installed(state, key="installed"):
    """(version, slot) of the installed (or previous) release, None if there is none."""
    entry = state[key]
    return (entry["target"]["version"], entry["slot"]) if entry else None


class ReleaseLifecycleTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="release_lifecycle_e2e_")
        self.pki = Pki(os.path.join(self.tmp, "pki"))
        self.engineer = ReleaseEngineer(os.path.join(self.tmp, "engineer"))
        # v1 is signed first so that the server's trust anchor (and the device's) is root v1.
        self.engineer.release("1.0.0", 1, "infusion pump firmware 1.0")
        self.server = RepoServer(os.path.join(self.tmp, "server"), self.pki,
                                 self.engineer.root_v1(), self.engineer.ws)
        self.server.start()
        cert, key = self.pki.device("pump-0001")
        self.device = Device(os.path.join(self.tmp, "device"), self.pki, cert, key,
                             self.engineer.root_v1())

    def tearDown(self):
        self.server.stop()
        if os.environ.get("MDU_E2E_KEEP"):  # to read server.log and the device state after
            print("kept " + self.tmp, file=sys.stderr)
        else:
            shutil.rmtree(self.tmp)

    def history(self, device_id="pump-0001"):
        # Exit 1 (with the empty JSON document) for a device the server has nothing from.
        code, out, err = self.server.operator("history", device_id, "--json")
        history = json.loads(out)
        self.assertEqual(code, 0 if history["reports"] or history["security_events"] else 1, err)
        return history

    def reports(self, device_id="pump-0001"):
        return self.history(device_id)["reports"]

    def release(self, version, security_version, content):
        self.server.publish(self.engineer.release(version, security_version, content))

    def assert_failure_report(self, report, to_version, from_version):
        self.assertEqual(report["device_id"], "pump-0001")
        self.assertEqual(report["target"], TARGET)
        self.assertEqual(report["to_version"], to_version)
        self.assertEqual(report["from_version"], from_version)
        self.assertFalse(report.get("success", False))
        self.assertEqual(report["phase"], "health_check")
        self.assertEqual(report["error_code"], "health_check_failed")
        self.assertEqual(report["evidence"], "verified")
        self.assertEqual(report["certificate_sha256"], self.pki.fingerprint(self.device.cert))

    # -- the release lifecycle ------------------------------------------------------------

    def test_v1_then_v2_installed_and_failing_v3_rolled_back_and_reported(self):
        self.server.publish(self.engineer.out)  # 1.0.0, signed in setUp
        code, result, err = self.device.update(self.server.port)
        self.assertEqual(code, 0, err)
        self.assertEqual(result["result"]["outcome"], "committed")
        state = self.device.status()
        self.assertEqual(installed(state)[0], "1.0.0")
        self.assertIsNone(state["previous"])
        slot_v1 = installed(state)[1]

        self.release("2.0.0", 2, "infusion pump firmware 2.0")
        code, result, err = self.device.update(self.server.port)
        self.assertEqual(code, 0, err)
        state = self.device.status()
        self.assertEqual(installed(state)[0], "2.0.0")
        slot_v2 = installed(state)[1]
        self.assertNotEqual(slot_v2, slot_v1)  # A/B: the new release went to the other slot
        self.assertEqual(installed(state, "previous"), ("1.0.0", slot_v1))
        self.assertEqual(state["security_floor"], 2)

        self.release("3.0.0", 2, "infusion pump firmware 3.0 BROKEN")
        code, result, err = self.device.update(self.server.port)
        self.assertEqual(code, 1)
        self.assertIn("health_check_failed", err)
        self.assertEqual(result["result"]["outcome"], "rolled_back")
        self.assertEqual(result["result"]["reason"], "health_check_failed")
        state = self.device.status()
        self.assertEqual(installed(state), ("2.0.0", slot_v2))
        self.assertIsNone(state["previous"])  # 3.0.0 overwrote 1.0.0 in the other slot
        self.assertIsNone(state["pending"])
        self.assertEqual(state["last_result"]["outcome"], "rolled_back")
        self.assertEqual(state["last_result"]["target"]["version"], "3.0.0")
        self.assertEqual(self.device.outbox(), [])  # every report delivered

        reports = self.reports()
        failures = [r for r in reports if not r["success"]]
        self.assertEqual(len(failures), 1, json.dumps(reports, indent=1))
        self.assert_failure_report(failures[0], "3.0.0", "2.0.0")
        successes = [(r["to_version"], r["phase"], r["evidence"]) for r in reports
                     if r["success"]]
        self.assertEqual(successes, [("1.0.0", "complete", "verified"),
                                     ("2.0.0", "complete", "verified")])
        # The operator's view of the release: the same single report.
        listed = self.server.operator_json("failures", "3.0.0")["reports"]
        self.assertEqual([r["report_id"] for r in listed],
                         [failures[0]["report_id"]])
        self.assertEqual(self.server.operator_json("failures", "2.0.0")["reports"], [])

    # -- reports while the server is down ----------------------------------------------------

    def test_report_waits_in_outbox_while_server_is_down_and_is_stored_once(self):
        self.server.publish(self.engineer.out)
        self.assertEqual(self.device.update(self.server.port)[0], 0)
        self.release("2.0.0", 2, "infusion pump firmware 2.0")
        # The health check stops the server (the test does it when told), then fails: the
        # outcome cannot be delivered and must wait in the outbox.
        started = os.path.join(self.tmp, "health-started")
        go = os.path.join(self.tmp, "health-go")
        health = "touch '%s'; while [ ! -e '%s' ]; do sleep 0.05; done; exit 7" % (started, go)
        port = self.server.port
        agent = subprocess.Popen(self.device.update_args(port, health), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, env=clean_env())
        try:
            deadline = time.monotonic() + 30
            while not os.path.exists(started) and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertTrue(os.path.exists(started), "the health check did not run")
            self.server.stop()
            open(go, "w").close()
            out, err = agent.communicate(timeout=60)
        finally:
            if agent.poll() is None:
                agent.kill()
                agent.wait()
        self.assertEqual(agent.returncode, 1, err)
        self.assertEqual(json.loads(out)["result"]["outcome"], "rolled_back")
        self.assertEqual(installed(self.device.status())[0], "1.0.0")
        pending = self.device.outbox()
        self.assertGreaterEqual(len(pending), 1)  # the outcome (and the inventory)
        # Still down: a flush fails and keeps everything.
        code, _, _ = self.device.flush(port)
        self.assertEqual(code, 1)
        self.assertEqual(self.device.outbox(), pending)

        saved = os.path.join(self.tmp, "outbox-copy")
        shutil.copytree(os.path.join(self.device.state, "outbox"), saved)
        self.server.start()  # same RocksDB directory, new ports
        code, out, err = self.device.flush(self.server.port)
        self.assertEqual(code, 0, out + err)
        self.assertEqual(self.device.outbox(), [])
        # A crash between the server's acknowledgement and the removal resends the same reports
        # (fresh nonces, same ids): the server must store them once.
        for path in glob.glob(os.path.join(saved, "*.report")):
            shutil.copy(path, os.path.join(self.device.state, "outbox"))
        code, out, err = self.device.flush(self.server.port)
        self.assertEqual(code, 0, out + err)
        self.assertEqual(self.device.outbox(), [])
        code, out, err = self.device.flush(self.server.port)  # and once more, empty
        self.assertEqual(code, 0, out + err)

        reports = self.reports()
        failures = [r for r in reports if not r["success"]]
        self.assertEqual(len(failures), 1, json.dumps(reports, indent=1))
        self.assert_failure_report(failures[0], "2.0.0", "1.0.0")
        self.assertEqual(len(set(r["report_id"] for r in reports)), len(reports))

    # -- device identity -----------------------------------------------------------------

    def test_device_certificate_cannot_report_for_another_device(self):
        self.server.publish(self.engineer.out)
        # The agent itself refuses an id that is not its certificate's.
        code, _, err = run(self.device.update_args(self.server.port)[:-2] +
                           ["--device-id", "pump-0002", "update"])
        self.assertEqual(code, 1)
        self.assertIn("pump-0002", err)
        self.assertIsNone(self.device.status().get("installed"))

        # A compromised device A sends reports written for device B (B's outbox, A's
        # certificate and key): the server refuses them; nothing is stored for either device.
        cert_b, key_b = self.pki.device("pump-0002")
        device_b = Device(os.path.join(self.tmp, "device-b"), self.pki, cert_b, key_b,
                          self.engineer.root_v1())
        outbox_b = os.path.join(self.tmp, "outbox-b")
        dead_port = self.server.port
        self.server.stop()  # so that B's reports stay in its outbox
        code, _, _ = run(device_b.update_args(dead_port)[:-1] + ["--outbox-dir", outbox_b,
                                                                 "update"])
        self.assertEqual(code, 1)
        forged = self.device.outbox(outbox_b)
        self.assertGreaterEqual(len(forged), 1)
        self.server.start()
        code, out, err = self.device.flush(self.server.port, "--outbox-dir", outbox_b)
        self.assertEqual(self.device.outbox(outbox_b), [])  # not retried forever ...
        rejected = glob.glob(os.path.join(outbox_b, "rejected", "*.reason"))
        self.assertEqual(len(rejected), len(forged), out + err)  # ... but kept aside with why
        for reason in rejected:
            with open(reason) as f:
                self.assertIn("pump-0002", f.read())
        self.assertEqual(self.reports("pump-0002"), [])
        self.assertEqual(self.reports("pump-0001"), [])
        # The server audited the refused claim, naming the certificate's device.
        audit = self.server.operator_json("audit list")
        claims = [r["record"] for r in audit["records"]
                  if r["record"]["action"] == "device_claim_refused"]
        self.assertGreaterEqual(len(claims), 1, json.dumps(audit, indent=1))
        self.assertEqual(claims[0]["actor"], "device:pump-0001")


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--signer", required=True)
    parser.add_argument("--server", required=True)
    parser.add_argument("--agent", required=True)
    parser.add_argument("--keys", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
