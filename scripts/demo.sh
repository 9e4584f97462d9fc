#!/usr/bin/env bash
# The README's main command: installs the Debian packages, builds the programs and runs the
# end-to-end demo on the embedded default (static TUF repository over HTTP on loopback):
#
#   1. a release engineer signs firmware 1.0 offline with the throw-away keys-example/ set
#      (root 2-of-3 threshold, targets, snapshot, timestamp) and publishes the TUF repository;
#   2. a device trusts root v1 from its image, then installs firmware 1.0: verified download,
#      install into the inactive A/B slot, switch, health check, commit;
#   3. firmware 2.0 is signed, published and installed the same way;
#   4. firmware 3.0 fails its health check on the device and is rolled back to 2.0;
#   5. attacks: a malicious mirror serving a tampered package, and a mirror replaying the old
#      release (rollback), are refused: nothing installed, trusted state unchanged.
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
keys="$root/keys-example"

work=$(mktemp -d /tmp/mdu-demo.XXXXXX)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

# The throw-away passphrase of keys-example/ (NOT FOR PRODUCTION); given through an environment
# variable so it never appears on a command line.
export MDU_DEMO_PASSPHRASE="example-passphrase-NOT-FOR-PRODUCTION"
pass=(--passphrase-env MDU_DEMO_PASSPHRASE)
online_pass=(--snapshot-passphrase-env MDU_DEMO_PASSPHRASE --timestamp-passphrase-env MDU_DEMO_PASSPHRASE)

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

ws="$work/workspace"
repo="$work/repository"       # what the release engineer publishes
mirror="$work/mirror"         # what the HTTP server serves
device="$work/device"         # the device's trusted metadata and installed files
mkdir -p "$mirror" "$device"

step "1. Release engineer: create the signing workspace (root threshold 2 of 3)"
signer --workspace "$ws" init \
  --root-key "$keys/root-1.pub.json" --root-key "$keys/root-2.pub.json" \
  --root-key "$keys/root-3.pub.json" --root-threshold 2 \
  --targets-key "$keys/targets.pub.json" --snapshot-key "$keys/snapshot.pub.json" \
  --timestamp-key "$keys/timestamp.pub.json"

printf 'infusion pump firmware 1.0\n' > "$work/firmware-1.0.0.bin"
signer --workspace "$ws" add-target "$work/firmware-1.0.0.bin" --name pump-x1/firmware.bin \
  --version 1.0.0 --hardware-id pump-x1 --security-version 1
signer --workspace "$ws" status || true   # shows the missing signatures

step "Two root key holders and the targets key holder sign"
signer --workspace "$ws" sign root --key "$keys/root-1.key.json" "${pass[@]}"
signer --workspace "$ws" sign root --key "$keys/root-2.key.json" "${pass[@]}"
signer --workspace "$ws" sign targets --key "$keys/targets.key.json" "${pass[@]}"
signer --workspace "$ws" publish --out "$repo" \
  --snapshot-key "$keys/snapshot.key.json" --timestamp-key "$keys/timestamp.key.json" "${online_pass[@]}"
cp -a "$repo/." "$mirror/"

step "Serve the repository over HTTP on loopback"
port_file="$work/port"
python3 - "$mirror" "$port_file" <<'PY' &
import functools, http.server, sys
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
handler = functools.partial(Quiet, directory=sys.argv[1])
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
open(sys.argv[2], "w").write(str(server.server_address[1]))
server.serve_forever()
PY
server_pid=$!
for _ in $(seq 50); do [ -s "$port_file" ] && break; sleep 0.1; done
url="http://127.0.0.1:$(cat "$port_file")"
echo "serving $mirror at $url"

# The device's health check: the firmware in the activated slot ($MDU_SLOT: a or b) must not
# say BROKEN.
health="! grep -rq BROKEN '$device/slots/slot-'\"\$MDU_SLOT\""
update() {  # one unattended update: refresh, select, verified download, install, check, commit
  agent --metadata-url "$url/metadata" --metadata-dir "$device/metadata" \
    --target-base-url "$url/targets" --state-dir "$device/state" \
    --install-root "$device/slots" --hardware-id pump-x1 --health-check "$health" \
    --health-timeout 10 update
}
release() {  # release VERSION SECURITY_VERSION CONTENT: sign and publish, then mirror it
  printf '%s\n' "$3" > "$work/firmware-$1.bin"
  signer --workspace "$ws" add-target "$work/firmware-$1.bin" --name pump-x1/firmware.bin \
    --version "$1" --hardware-id pump-x1 --security-version "$2" --replace
  signer --workspace "$ws" sign targets --key "$keys/targets.key.json" "${pass[@]}"
  signer --workspace "$ws" publish --out "$repo" \
    --snapshot-key "$keys/snapshot.key.json" --timestamp-key "$keys/timestamp.key.json" \
    "${online_pass[@]}"
  rm -rf "$mirror" && cp -a "$repo" "$mirror"
}

step "2. Device: trust root v1 from the device image, then update to firmware 1.0.0"
agent --metadata-dir "$device/metadata" init "$repo/metadata/1.root.json"
update
agent --state-dir "$device/state" --install-root "$device/slots" status

step "3. Release engineer: sign and publish firmware 2.0.0; the device updates"
cp -a "$mirror" "$work/mirror-v1"   # kept for the rollback attack below
release 2.0.0 2 'infusion pump firmware 2.0'
update
agent --state-dir "$device/state" --install-root "$device/slots" status

step "4. Firmware 3.0.0 fails its health check on the device: automatic rollback to 2.0.0"
cp -a "$mirror" "$work/mirror-v2"
release 3.0.0 2 'infusion pump firmware 3.0 BROKEN'
if update; then echo "DEMO FAILED: a failing release was committed" >&2; exit 1; fi
agent --state-dir "$device/state" --install-root "$device/slots" status

step "5a. Attack: a malicious mirror serves a tampered firmware file"
rm -rf "$mirror" && cp -a "$work/mirror-v2" "$mirror"
release 3.0.1 2 'infusion pump firmware 3.0.1'
for f in "$mirror"/targets/pump-x1/*.firmware.bin; do
  printf 'MALWARE' | dd of="$f" bs=1 seek=0 conv=notrunc status=none
done
if update; then echo "DEMO FAILED: tampered firmware accepted" >&2; exit 1; fi

step "5b. Attack: a mirror replays the old 1.0.0 release (rollback)"
trusted_before=$(cat "$device"/metadata/*.json | sha256sum)
rm -rf "$mirror" && cp -a "$work/mirror-v1" "$mirror"
if update; then echo "DEMO FAILED: rollback accepted" >&2; exit 1; fi
if [ "$(cat "$device"/metadata/*.json | sha256sum)" != "$trusted_before" ]; then
  echo "DEMO FAILED: the trusted metadata changed" >&2; exit 1
fi
echo "trusted metadata unchanged"
agent --state-dir "$device/state" --install-root "$device/slots" status

step "Demo complete: signed releases installed, a failing release rolled back, tampered and replayed ones refused"
