#!/usr/bin/env bash
# The README's main command: installs the Debian packages, builds the programs and runs the
# end-to-end demo on the embedded default (repo-server with its RocksDB store, gRPC over TLS,
# mutual TLS for the device), every program a real process on loopback:
#
#   1. the release engineer signs firmware 1.0.0 offline with the throw-away keys-example/ set
#      (root 2-of-3 threshold, targets, snapshot, timestamp) into a static TUF repository;
#   2. the operator sets up repo-server: certificates (server, device CA, the device's
#      certificate), an operator token, the encrypted online timestamp key;
#   3. the operator publishes the release (`repo-server publish`; the server verifies it);
#   4. the device trusts root v1 from its image, then installs 1.0.0 over grpcs:// with its
#      device certificate: verified download, install into the inactive A/B slot, switch,
#      health check, commit; it reports the outcome, signed with its device key;
#   5. 2.0.0 is signed, published and installed the same way;
#   6. 3.0.0 fails its health check on the device and is rolled back to 2.0.0;
#   7. the operator sees the failure report (signature verified) in the device's history;
#   8. attacks through mirrors of the static TUF repository (as a CDN would serve it): a
#      tampered package and a replayed old release are refused: nothing installed, trusted
#      state unchanged;
#   9. the device reported both refusals to the server.
#
# Every step checks what it shows (installed versions, report fields, refusals) and the demo
# exits non-zero with "DEMO FAILED: ..." when an expectation does not hold.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# MDU_DEMO_BUILD_DIR: run the demo on an existing build (the e2e test does) instead of installing
# and building.
if [ -n "${MDU_DEMO_BUILD_DIR:-}" ]; then
  bin="$MDU_DEMO_BUILD_DIR"
else
  bash scripts/install-deps.sh
  bash scripts/build.sh build-demo -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMDU_BUILD_TESTS=OFF \
    -DMDU_WERROR=ON
  bin="$root/build-demo"
fi
signer() { "$bin/signer/signer" "$@"; }
agent() { "$bin/client-agent/client-agent" "$@"; }
repo_server() { "$bin/repo-server/repo-server" "$@"; }
keys="$root/keys-example"

work=$(mktemp -d /tmp/mdu-demo.XXXXXX)
server_pid=""
mirror_pid=""
cleanup() {
  [ -n "$mirror_pid" ] && kill "$mirror_pid" 2>/dev/null || true
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

# The throw-away passphrase of keys-example/ (NOT FOR PRODUCTION); given through an environment
# variable so it never appears on a command line.
export MDU_DEMO_PASSPHRASE="example-passphrase-NOT-FOR-PRODUCTION"
pass=(--passphrase-env MDU_DEMO_PASSPHRASE)
online_pass=(--snapshot-passphrase-env MDU_DEMO_PASSPHRASE --timestamp-passphrase-env MDU_DEMO_PASSPHRASE)

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
note() { printf '   %s\n' "$*"; }
fail() {
  echo "DEMO FAILED: $*" >&2
  [ -s "$work/server.log" ] && { echo "--- repo-server log:" >&2; tail -20 "$work/server.log" >&2; }
  exit 1
}
# expect DESCRIPTION PYTHON-EXPRESSION JSON: the expression over the parsed JSON `d` must hold.
expect() {
  python3 -c 'import json, sys; d = json.loads(sys.argv[2]); sys.exit(0 if eval(sys.argv[1]) else 1)' \
    "$2" "$3" || fail "$1"
  note "ok: $1"
}

ws="$work/workspace"
release_dir="$work/release"   # what the release engineer hands to the operator
pki="$work/pki"               # certificates (made here; a real fleet has its own PKI)
srv="$work/server"            # repo-server's RocksDB directory, its keys and credentials
device="$work/device"         # the device's trusted metadata, state and A/B slots
mkdir -p "$pki" "$srv" "$device"

step "1. Release engineer: sign firmware 1.0.0 offline (root threshold 2 of 3)"
signer --workspace "$ws" init \
  --root-key "$keys/root-1.pub.json" --root-key "$keys/root-2.pub.json" \
  --root-key "$keys/root-3.pub.json" --root-threshold 2 \
  --targets-key "$keys/targets.pub.json" --snapshot-key "$keys/snapshot.pub.json" \
  --timestamp-key "$keys/timestamp.pub.json"
printf 'infusion pump firmware 1.0\n' > "$work/firmware-1.0.0.bin"
signer --workspace "$ws" add-target "$work/firmware-1.0.0.bin" --name pump-x1/firmware.bin \
  --version 1.0.0 --hardware-id pump-x1 --security-version 1
signer --workspace "$ws" status || true   # shows the missing signatures
note "two root key holders and the targets key holder sign:"
signer --workspace "$ws" sign root --key "$keys/root-1.key.json" "${pass[@]}"
signer --workspace "$ws" sign root --key "$keys/root-2.key.json" "${pass[@]}"
signer --workspace "$ws" sign targets --key "$keys/targets.key.json" "${pass[@]}"
signer --workspace "$ws" publish --out "$release_dir" \
  --snapshot-key "$keys/snapshot.key.json" --timestamp-key "$keys/timestamp.key.json" "${online_pass[@]}"

step "2. Operator: certificates, operator token, online timestamp key; start repo-server"
ossl() { openssl "$@" >/dev/null 2>&1 || fail "openssl $1 $2 failed"; }
make_ca() {
  ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -keyout "$pki/$1.key" -out "$pki/$1.pem" -subj "/CN=$1" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}
make_leaf() {  # NAME CA EXTENSIONS
  printf '%b' "$3" > "$pki/$1.ext"
  ossl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$1" \
    -keyout "$pki/$1.key" -out "$pki/$1.csr"
  ossl x509 -req -in "$pki/$1.csr" -CA "$pki/$2.pem" -CAkey "$pki/$2.key" -CAcreateserial \
    -days 2 -extfile "$pki/$1.ext" -out "$pki/$1.pem"
}
make_ca server-ca
make_ca device-ca
make_leaf server server-ca 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n'
make_leaf pump-0001 device-ca 'subjectAltName=URI:urn:mdu:device:pump-0001\nextendedKeyUsage=clientAuth\n'
note "server certificate for 127.0.0.1; device certificate pump-0001 (URI SAN urn:mdu:device:pump-0001)"
# The operator's bearer token; the server keeps only its sha256.
openssl rand -hex 32 | tr -d '\n' > "$pki/operator.token"
chmod 600 "$pki/operator.token"
printf '[{"name": "olivia", "role": "publisher", "token_sha256": "%s"}]\n' \
  "$(sha256sum < "$pki/operator.token" | cut -d' ' -f1)" > "$srv/operators.json"
# The online timestamp key, still encrypted, for the server (it re-signs timestamp.json).
signer --workspace "$ws" export-online-key timestamp --key "$keys/timestamp.key.json" \
  --out "$srv/timestamp.key.json" "${pass[@]}"
export MDU_DEMO_TS_PASSPHRASE="$MDU_DEMO_PASSPHRASE"   # repo-server unsets it once read
"$bin/repo-server/repo-server" --data-dir "$srv/db" --trusted-root "$release_dir/metadata/1.root.json" \
  --listen 127.0.0.1:0 --port-file "$srv/device.port" \
  --operator-listen 127.0.0.1:0 --operator-port-file "$srv/operator.port" \
  --tls-cert "$pki/server.pem" --tls-key "$pki/server.key" --client-ca "$pki/device-ca.pem" \
  --operator-credentials "$srv/operators.json" \
  --timestamp-key "$srv/timestamp.key.json" --timestamp-passphrase-env MDU_DEMO_TS_PASSPHRASE \
  --log-level warn --shutdown-grace 1 \
  > "$work/server.log" 2>&1 &
server_pid=$!
unset MDU_DEMO_TS_PASSPHRASE
for _ in $(seq 200); do
  [ -s "$srv/device.port" ] && [ -s "$srv/operator.port" ] && break
  kill -0 "$server_pid" 2>/dev/null || fail "repo-server did not start"
  sleep 0.05
done
[ -s "$srv/operator.port" ] || fail "repo-server did not write its ports"
port=$(cat "$srv/device.port")
op_port=$(cat "$srv/operator.port")
note "repo-server (RocksDB in $srv/db): devices on 127.0.0.1:$port (mutual TLS),"
note "operators on 127.0.0.1:$op_port (TLS + bearer token)"

operator() {  # repo-server COMMAND as the operator
  repo_server "$1" --server "127.0.0.1:$op_port" --ca-cert "$pki/server-ca.pem" \
    --token-file "$pki/operator.token" "${@:2}"
}

step "3. Operator: publish 1.0.0 (the server verifies every signature before serving it)"
operator publish --description "firmware 1.0.0" "$release_dir"
expect "the server serves one target" 'd["initialized"] and d["target_count"] == 1' \
  "$(operator status --json)"

# The device's health check: the firmware in the activated slot ($MDU_SLOT: a or b) must not
# say BROKEN.
health="! grep -rq BROKEN '$device/slots/slot-'\"\$MDU_SLOT\""
device_tls=(--ca-cert "$pki/server-ca.pem" --device-cert "$pki/pump-0001.pem"
            --device-key "$pki/pump-0001.key")
update() {  # [METADATA_URL TARGETS_URL]: one unattended update, reported to the server
  agent --metadata-url "${1:-grpcs://127.0.0.1:$port/metadata}" \
    --target-base-url "${2:-grpcs://127.0.0.1:$port/targets}" \
    --metadata-dir "$device/metadata" --state-dir "$device/state" \
    --install-root "$device/slots" --hardware-id pump-x1 --health-check "$health" \
    --health-timeout 10 --download-attempts 1 --quiet \
    --report-server "127.0.0.1:$port" "${device_tls[@]}" update
}
device_status() { agent --state-dir "$device/state" "$@" status; }
release() {  # VERSION SECURITY_VERSION CONTENT: sign offline, then the operator publishes
  printf '%s\n' "$3" > "$work/firmware-$1.bin"
  signer --workspace "$ws" add-target "$work/firmware-$1.bin" --name pump-x1/firmware.bin \
    --version "$1" --hardware-id pump-x1 --security-version "$2" --replace
  signer --workspace "$ws" sign targets --key "$keys/targets.key.json" "${pass[@]}"
  signer --workspace "$ws" publish --out "$release_dir" \
    --snapshot-key "$keys/snapshot.key.json" --timestamp-key "$keys/timestamp.key.json" \
    "${online_pass[@]}"
  operator publish --description "firmware $1" "$release_dir"
}

step "4. Device: trust root v1 from the device image, then update to 1.0.0 over grpcs://"
agent --metadata-dir "$device/metadata" init "$release_dir/metadata/1.root.json"
update || fail "the device did not install 1.0.0"
device_status
expect "1.0.0 installed" 'd["state"]["installed"]["target"]["version"] == "1.0.0"' \
  "$(device_status --json)"
cp -a "$release_dir" "$work/mirror-v1"   # kept for the replay attack below

step "5. Release engineer signs 2.0.0, the operator publishes it, the device updates"
release 2.0.0 2 'infusion pump firmware 2.0'
update || fail "the device did not install 2.0.0"
device_status
expect "2.0.0 installed in the other slot, 1.0.0 kept as previous" \
  'd["state"]["installed"]["target"]["version"] == "2.0.0" and d["state"]["previous"]["target"]["version"] == "1.0.0" and d["state"]["installed"]["slot"] != d["state"]["previous"]["slot"]' \
  "$(device_status --json)"

step "6. 3.0.0 fails its health check on the device: automatic rollback to 2.0.0"
release 3.0.0 2 'infusion pump firmware 3.0 BROKEN'
if update; then fail "a failing release was committed"; fi
device_status
expect "2.0.0 still installed, 3.0.0 rolled back (health_check_failed)" \
  'd["state"]["installed"]["target"]["version"] == "2.0.0" and d["state"]["last_result"]["outcome"] == "rolled_back" and d["state"]["last_result"]["reason"] == "health_check_failed" and d["state"]["last_result"]["target"]["version"] == "3.0.0"' \
  "$(device_status --json)"

step "7. Operator: the device's history and the failures of release 3.0.0"
operator history pump-0001
history=$(operator history pump-0001 --json)
expect "history: one failed 3.0.0 report, phase health check, signature verified" \
  '[(r["to_version"], r["phase"], r["error_code"], r["evidence"]) for r in d["reports"] if not r["success"]] == [("3.0.0", "health_check", "health_check_failed", "verified")]' \
  "$history"
expect "history: 1.0.0 and 2.0.0 reported installed" \
  '[r["to_version"] for r in d["reports"] if r["success"]] == ["1.0.0", "2.0.0"]' \
  "$history"
operator failures 3.0.0
expect "failures 3.0.0 lists that one report" \
  '[(r["device_id"], r["error_code"], r["evidence"]) for r in d["reports"]] == [("pump-0001", "health_check_failed", "verified")]' \
  "$(operator failures 3.0.0 --json)"

# The attacks use the static TUF repository (the tree that is published, as a CDN or
# repo-server --static-mirror-dir would serve it); here a copy that an attacker controls.
serve_mirror() {  # DIR: serve it over HTTP on loopback; sets $mirror_url
  [ -n "$mirror_pid" ] && kill "$mirror_pid" 2>/dev/null && wait "$mirror_pid" 2>/dev/null || true
  rm -f "$work/mirror.port"
  python3 - "$1" "$work/mirror.port" <<'PY' &
import functools, http.server, sys
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
handler = functools.partial(Quiet, directory=sys.argv[1])
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
open(sys.argv[2], "w").write(str(server.server_address[1]))
server.serve_forever()
PY
  mirror_pid=$!
  for _ in $(seq 100); do [ -s "$work/mirror.port" ] && break; sleep 0.05; done
  mirror_url="http://127.0.0.1:$(cat "$work/mirror.port")"
}

step "8a. Attack: a malicious mirror serves a tampered firmware 3.0.1"
release 3.0.1 2 'infusion pump firmware 3.0.1'
cp -a "$release_dir" "$work/evil"
for f in "$work"/evil/targets/pump-x1/*.firmware.bin; do
  printf 'MALWARE' | dd of="$f" bs=1 seek=0 conv=notrunc status=none
done
serve_mirror "$work/evil"
if update "$mirror_url/metadata" "$mirror_url/targets" 2> "$work/attack.err"; then
  fail "tampered firmware accepted"
fi
cat "$work/attack.err"
grep -q "hash" "$work/attack.err" || fail "the refusal does not name the hash mismatch"
expect "nothing installed: still 2.0.0" 'd["state"]["installed"]["target"]["version"] == "2.0.0"' \
  "$(device_status --json)"

step "8b. Attack: a mirror replays the old 1.0.0 release (rollback)"
trusted_before=$(cat "$device"/metadata/*.json | sha256sum)
serve_mirror "$work/mirror-v1"
if update "$mirror_url/metadata" "$mirror_url/targets" 2> "$work/attack.err"; then
  fail "rollback accepted"
fi
cat "$work/attack.err"
[ "$(cat "$device"/metadata/*.json | sha256sum)" = "$trusted_before" ] ||
  fail "the trusted metadata changed"
note "ok: trusted metadata unchanged"
expect "nothing installed: still 2.0.0" 'd["state"]["installed"]["target"]["version"] == "2.0.0"' \
  "$(device_status --json)"

step "9. Operator: the device reported both refusals to the server"
operator history pump-0001
history=$(operator history pump-0001 --json)
expect "history: the tampered 3.0.1 and the replayed metadata reported as refused" \
  'any(r["to_version"] == "3.0.1" and not r["success"] and r["error_code"] == "download_rejected" for r in d["reports"]) and any(not r["success"] and r["error_code"] == "bad_version" for r in d["reports"])' \
  "$history"
expect "security events: hash_mismatch and rollback_attempt, signature verified" \
  '[(e["kind"], e["evidence"]) for e in d["security_events"]] == [("hash_mismatch", "verified"), ("rollback_attempt", "verified")]' \
  "$history"

step "Demo complete: signed releases installed over mutual TLS, a failing release rolled back and reported, tampered and replayed ones refused"
