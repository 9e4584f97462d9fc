#!/usr/bin/env bash
# Builds a TUF repository with the real `signer` program, for tuf-js's Updater to verify
# (interop_tufjs_verifies_signer_repo): keys generated now (ed25519 and one ECDSA key), root
# 2-of-3, snapshot 2-of-2 (two --snapshot-key at publish), an SBOM, a delegated role with its
# own key, a first publish, then a root rotation (2.root.json signed by an old-only, a shared
# and a new-only root key: old and new thresholds both met), one more release and a second
# publish. Writes <work>/repo (the static tree) with an expected.json for tufjs_client.js:
# {"targets": {path: {"length", "sha256", "custom"}}} computed from the input files.
#
# Usage: signer_make_repo.sh <signer binary> <work dir>
set -euo pipefail

signer=$1
work=$2
rm -rf "$work"
mkdir -p "$work/keys" "$work/files"
export MDU_INTEROP_PASS="interop-test-passphrase"
pass=(--passphrase-env MDU_INTEROP_PASS)

S() { "$signer" --workspace "$work/ws" "$@"; }
key() { echo "$work/keys/$1.key.json"; }
pub() { echo "$work/keys/$1.pub.json"; }
sha256() { sha256sum "$1" | cut -d' ' -f1; }
length() { stat -c %s "$1"; }

for name in root-1 root-2 root-3 root-4 targets snapshot-1 snapshot-2 timestamp; do
  S --quiet keygen --name "$name" --out-dir "$work/keys" --kdf-profile interactive "${pass[@]}"
done
S --quiet keygen --name team --scheme ecdsa-sha2-nistp256 --out-dir "$work/keys" \
  --kdf-profile interactive "${pass[@]}"

S --quiet init --root-key "$(pub root-1)" --root-key "$(pub root-2)" --root-key "$(pub root-3)" \
  --root-threshold 2 --targets-key "$(pub targets)" \
  --snapshot-key "$(pub snapshot-1)" --snapshot-key "$(pub snapshot-2)" --snapshot-threshold 2 \
  --timestamp-key "$(pub timestamp)"

printf 'pump firmware 3.0\n' >"$work/files/fw-3.0.bin"
printf '{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": []}\n' \
  >"$work/files/sbom.json"
printf 'pump-x team build 1.0\n' >"$work/files/px-1.0.bin"
printf 'pump firmware 3.1\n' >"$work/files/fw-3.1.bin"

S --quiet add-target "$work/files/fw-3.0.bin" --name pump/fw-3.0.bin --version 3.0 \
  --hardware-id hw-a --security-version 2 --sbom "$work/files/sbom.json"
S --quiet delegate --name pump-x --key "$(pub team)" --path 'pump-x/*' --terminating
S --quiet add-target "$work/files/px-1.0.bin" --name pump-x/px-1.0.bin --role pump-x \
  --version 1.0 --hardware-id hw-x
S --quiet sign root --key "$(key root-1)" "${pass[@]}"
S --quiet sign root --key "$(key root-2)" "${pass[@]}"
S --quiet sign targets --key "$(key targets)" "${pass[@]}"
S --quiet sign pump-x --key "$(key team)" "${pass[@]}"

publish() {
  S --quiet publish --out "$work/repo" \
    --snapshot-key "$(key snapshot-1)" --snapshot-key "$(key snapshot-2)" \
    --snapshot-passphrase-env MDU_INTEROP_PASS \
    --timestamp-key "$(key timestamp)" --timestamp-passphrase-env MDU_INTEROP_PASS
}
publish

# Root rotation: root-1 out, root-4 in (still 2 of 3).
S --quiet rotate-root --add-key "$(pub root-4)" --remove-key "$(pub root-1)"
S --quiet sign root --key "$(key root-1)" "${pass[@]}"  # old root only
S --quiet sign root --key "$(key root-2)" "${pass[@]}"  # old and new
S --quiet sign root --key "$(key root-4)" "${pass[@]}"  # new root only
S --quiet rehearse
S --quiet add-target "$work/files/fw-3.1.bin" --name pump/fw-3.1.bin --version 3.1 \
  --hardware-id hw-a --security-version 2
S --quiet sign targets --key "$(key targets)" "${pass[@]}"
publish

test -f "$work/repo/metadata/2.root.json"
sbom_sha=$(sha256 "$work/files/sbom.json")
entry() {  # path file custom-json
  printf '"%s": {"length": %s, "sha256": "%s", "custom": %s}' "$1" "$(length "$2")" \
    "$(sha256 "$2")" "$3"
}
{
  printf '{"targets": {\n'
  entry pump/fw-3.0.bin "$work/files/fw-3.0.bin" \
    "{\"version\": \"3.0\", \"hardware_ids\": [\"hw-a\"], \"security_version\": 2, \
\"sbom\": {\"name\": \"pump/fw-3.0.bin.sbom.json\", \"sha256\": \"$sbom_sha\"}}"
  printf ',\n'
  entry pump/fw-3.0.bin.sbom.json "$work/files/sbom.json" \
    '{"sbom_for": "pump/fw-3.0.bin", "sbom_format": "CycloneDX"}'
  printf ',\n'
  entry pump/fw-3.1.bin "$work/files/fw-3.1.bin" \
    '{"version": "3.1", "hardware_ids": ["hw-a"], "security_version": 2}'
  printf ',\n'
  entry pump-x/px-1.0.bin "$work/files/px-1.0.bin" '{"version": "1.0", "hardware_ids": ["hw-x"]}'
  printf '\n}}\n'
} >"$work/repo/expected.json"
echo "signer published $work/repo (root v2, delegated role pump-x, snapshot 2-of-2)"
