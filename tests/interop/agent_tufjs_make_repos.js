#!/usr/bin/env node
// Release trees made by @tufjs/models for client-agent's `update` (agent_tufjs_update.py serves
// them over HTTP and drives the real agent). Same key and signing helpers as tufjs_make_repo.js;
// keys live only in this process.
//
// Usage: node agent_tufjs_make_repos.js <out_dir>
// Writes, each a static consistent-snapshot tree (metadata/, targets/):
//   <out_dir>/v1/                     root 1; targets 1: pump/firmware-1.0.0.bin for pump-x1
//                                     (custom version/hardware_ids as the agent's selection
//                                     reads them), one for another model, a README without
//                                     custom; snapshot 1, timestamp 1
//   <out_dir>/v2/                     v1 plus targets 2 adding pump/firmware-2.0.0.bin
//                                     (min_installed_version 1.0.0), snapshot 2, timestamp 2
//   <out_dir>/v2-tampered-target/     v2 with one byte of firmware 2.0.0 flipped
//   <out_dir>/v2-tampered-metadata/   v2 with timestamp.json's expiry stretched after signing
//   <out_dir>/v2-tampered-targets-metadata/  v2 with 2.targets.json edited after signing
//   <out_dir>/v2-expired/             v2 whose timestamp 2 expired an hour ago (validly signed)
//   <out_dir>/expected.json           payload sha256 per target path
// A rollback needs no tree: serving v1/ to a device that trusts v2 is one.
// Exit 77 (ctest "skipped") when MDU_SKIP_INTEROP=1, after removing <out_dir>.
'use strict';

if (process.env.MDU_SKIP_INTEROP === '1') {
  if (process.argv[2]) require('fs').rmSync(process.argv[2], { recursive: true, force: true });
  console.log('MDU_SKIP_INTEROP=1: skipping');
  process.exit(77);
}

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const {
  Metadata, MetaFile, Root, Snapshot, Targets, TargetFile, Timestamp,
} = require('@tufjs/models');
const { Role } = require('@tufjs/models/dist/role');
const { SPEC_VERSION, makeKey, sign, sha256Hex } = require('./tufjs_make_repo.js');

const isoSeconds = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const EXPIRES = isoSeconds(Date.now() + 365 * 24 * 3600 * 1000);
const EXPIRED = isoSeconds(Date.now() - 3600 * 1000);

function writeMetadata(dir, name, metadata) {
  const text = JSON.stringify(metadata.toJSON(), null, 2);
  fs.mkdirSync(path.join(dir, 'metadata'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'metadata', name), text);
  return Buffer.from(text);
}

function main() {
  const outDir = process.argv[2];
  if (!outDir) {
    console.error('usage: agent_tufjs_make_repos.js <out_dir>');
    process.exit(2);
  }
  fs.rmSync(outDir, { recursive: true, force: true });
  const keys = {
    root: makeKey('ed25519'),
    timestamp: makeKey('ed25519'),
    snapshot: makeKey('ecdsa'),
    targets: makeKey('ed25519'),
  };

  const root = new Root({
    version: 1, specVersion: SPEC_VERSION, expires: EXPIRES, consistentSnapshot: true,
  });
  for (const name of ['root', 'timestamp', 'snapshot', 'targets']) {
    root.addKey(keys[name].key, name);
  }
  root.roles.root = new Role({ keyIDs: [keys.root.keyID], threshold: 1 });
  const rootMetadata = sign(new Metadata(root), keys.root);

  const expected = {};
  const targets = new Targets({ version: 1, specVersion: SPEC_VERSION, expires: EXPIRES });
  const payloads = {};
  function addTarget(targetPath, content, custom) {
    const data = Buffer.from(content);
    const hash = sha256Hex(data);
    targets.addTarget(new TargetFile({
      length: data.length,
      path: targetPath,
      hashes: { sha256: hash, sha512: crypto.createHash('sha512').update(data).digest('hex') },
      unrecognizedFields: custom ? { custom } : {},
    }));
    payloads[`${path.dirname(targetPath)}/${hash}.${path.basename(targetPath)}`] = data;
    expected[targetPath] = { sha256: hash, length: data.length };
  }
  const firmware = (version) => `infusion pump firmware ${version}\n`.repeat(2000);

  // Writes the tree for the current state of `targets` at `version` (snapshot and timestamp
  // share it); `timestampExpires` lets the expired variant re-sign timestamp only.
  function writeTree(dir, version, timestampExpires = EXPIRES) {
    writeMetadata(dir, '1.root.json', rootMetadata);
    targets.version = version;
    const targetsBytes = writeMetadata(dir, `${version}.targets.json`,
                                       sign(new Metadata(targets), keys.targets));
    const snapshot = new Snapshot({
      version, specVersion: SPEC_VERSION, expires: EXPIRES,
      meta: {
        'targets.json': new MetaFile({
          version, length: targetsBytes.length, hashes: { sha256: sha256Hex(targetsBytes) },
        }),
      },
    });
    const snapshotBytes = writeMetadata(dir, `${version}.snapshot.json`,
                                        sign(new Metadata(snapshot), keys.snapshot));
    const timestamp = new Timestamp({
      version, specVersion: SPEC_VERSION, expires: timestampExpires,
      snapshotMeta: new MetaFile({
        version, length: snapshotBytes.length, hashes: { sha256: sha256Hex(snapshotBytes) },
      }),
    });
    writeMetadata(dir, 'timestamp.json', sign(new Metadata(timestamp), keys.timestamp));
    for (const [rel, data] of Object.entries(payloads)) {
      fs.mkdirSync(path.join(dir, 'targets', path.dirname(rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, 'targets', rel), data);
    }
  }

  addTarget('pump/firmware-1.0.0.bin', firmware('1.0.0'),
            { version: '1.0.0', hardware_ids: ['pump-x1'] });
  addTarget('monitor/firmware-9.0.0.bin', 'patient monitor firmware\n',
            { version: '9.0.0', hardware_ids: ['monitor-m3'] });
  addTarget('README.txt', 'plain target without custom metadata\n', null);
  const v1 = path.join(outDir, 'v1');
  writeTree(v1, 1);

  addTarget('pump/firmware-2.0.0.bin', firmware('2.0.0'),
            { version: '2.0.0', hardware_ids: ['pump-x1'], min_installed_version: '1.0.0' });
  const v2 = path.join(outDir, 'v2');
  fs.cpSync(v1, v2, { recursive: true });
  writeTree(v2, 2);

  const expired = path.join(outDir, 'v2-expired');
  fs.cpSync(v1, expired, { recursive: true });
  writeTree(expired, 2, EXPIRED);

  const tamperedTarget = path.join(outDir, 'v2-tampered-target');
  fs.cpSync(v2, tamperedTarget, { recursive: true });
  const fw2 = expected['pump/firmware-2.0.0.bin'].sha256;
  const fwFile = path.join(tamperedTarget, 'targets', 'pump', `${fw2}.firmware-2.0.0.bin`);
  const bytes = fs.readFileSync(fwFile);
  bytes[100] ^= 0x01;
  fs.writeFileSync(fwFile, bytes);

  // Signed metadata edited after signing. timestamp.json is covered by nothing but its
  // signature: stretching its expiry must break it. 2.targets.json is also covered by the
  // snapshot's hash: an edit that "fits" firmware 2.0.0 to another model must be caught.
  const tamperedMetadata = path.join(outDir, 'v2-tampered-metadata');
  fs.cpSync(v2, tamperedMetadata, { recursive: true });
  const timestampFile = path.join(tamperedMetadata, 'metadata', 'timestamp.json');
  const timestampDoc = JSON.parse(fs.readFileSync(timestampFile));
  timestampDoc.signed.expires = isoSeconds(Date.now() + 10 * 365 * 24 * 3600 * 1000);
  fs.writeFileSync(timestampFile, JSON.stringify(timestampDoc, null, 2));

  const tamperedTargets = path.join(outDir, 'v2-tampered-targets-metadata');
  fs.cpSync(v2, tamperedTargets, { recursive: true });
  const targetsFile = path.join(tamperedTargets, 'metadata', '2.targets.json');
  const targetsDoc = JSON.parse(fs.readFileSync(targetsFile));
  targetsDoc.signed.targets['pump/firmware-2.0.0.bin'].custom.hardware_ids = ['pump-x9'];
  fs.writeFileSync(targetsFile, JSON.stringify(targetsDoc, null, 2));

  fs.writeFileSync(path.join(outDir, 'expected.json'), JSON.stringify(expected, null, 2));

  // Sanity: tuf-js's own verifier accepts what it made.
  const load = (dir, type, name) =>
    Metadata.fromJSON(type, JSON.parse(fs.readFileSync(path.join(dir, 'metadata', name))));
  const r1 = load(v2, 'root', '1.root.json');
  r1.verifyDelegate('targets', load(v2, 'targets', '2.targets.json'));
  r1.verifyDelegate('snapshot', load(v2, 'snapshot', '2.snapshot.json'));
  r1.verifyDelegate('timestamp', load(expired, 'timestamp', 'timestamp.json'));
  console.log(`agent release trees written to ${outDir}`);
}

main();
