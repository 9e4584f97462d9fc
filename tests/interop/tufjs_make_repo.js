#!/usr/bin/env node
// Direction 1 of the tuf-js interop: @tufjs/models builds a small consistent-snapshot TUF
// repository (keys and signatures made by node's crypto), which interop_tool then verifies.
//
// Usage: node tufjs_make_repo.js <out_dir>
// Writes:
//   <out_dir>/good/               the repository: metadata/ and targets/ as a static server
//                                 serves them, plus expected.json (what the verifier must find)
//   <out_dir>/tampered-metadata/  same, with one hex digit of a target hash changed in
//                                 1.targets.json (signatures left as they were)
//   <out_dir>/tampered-target/    same, with one byte of a target file changed
// Exit 77 (ctest "skipped") when MDU_SKIP_INTEROP=1, after removing <out_dir>.
'use strict';

if (process.env.MDU_SKIP_INTEROP === '1') {
  // Remove a tree left by an earlier run, so its verifiers skip too instead of passing on it.
  if (process.argv[2]) require('fs').rmSync(process.argv[2], { recursive: true, force: true });
  console.log('MDU_SKIP_INTEROP=1: skipping');
  process.exit(77);
}

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { canonicalize } = require('@tufjs/canonical-json');
const {
  Key, Metadata, MetaFile, Root, Signature, Snapshot, Targets, TargetFile, Timestamp,
} = require('@tufjs/models');
// Not re-exported by the package index; the version is pinned exactly in package-lock.json.
const { Delegations } = require('@tufjs/models/dist/delegations');
const { DelegatedRole, Role } = require('@tufjs/models/dist/role');

const SPEC_VERSION = '1.0.31';
const EXPIRES = new Date(Date.now() + 365 * 24 * 3600 * 1000).toISOString()
  .replace(/\.\d{3}Z$/, 'Z');

function sha256Hex(data) {
  return crypto.createHash('sha256').update(data).digest('hex');
}

// A signing key: node's KeyObject pair and its TUF Key, whose ID is sha256 over the canonical
// JSON of the key object, as python-tuf and go-tuf compute it.
function makeKey(type) {
  let keyType, scheme, publicValue, pair, digest;
  if (type === 'ed25519') {
    pair = crypto.generateKeyPairSync('ed25519');
    const spki = pair.publicKey.export({ type: 'spki', format: 'der' });
    keyType = 'ed25519';
    scheme = 'ed25519';
    publicValue = spki.subarray(spki.length - 32).toString('hex');
    digest = null;
  } else if (type === 'ecdsa') {
    pair = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    keyType = 'ecdsa';
    scheme = 'ecdsa-sha2-nistp256';
    // PEM with raw newlines: the key ID covers them as raw bytes in canonical JSON.
    publicValue = pair.publicKey.export({ type: 'spki', format: 'pem' });
    digest = 'sha256';
  } else {
    throw new Error(`unknown key type ${type}`);
  }
  const draft = new Key({ keyID: 'draft', keyType, scheme, keyVal: { public: publicValue } });
  const keyID = sha256Hex(Buffer.from(canonicalize(draft.toJSON())));
  const key = new Key({ keyID, keyType, scheme, keyVal: { public: publicValue } });
  const signer = (data) =>
    new Signature({ keyID, sig: crypto.sign(digest, data, pair.privateKey).toString('hex') });
  return { key, keyID, signer };
}

function sign(metadata, ...keys) {
  for (const k of keys) metadata.sign(k.signer, true);
  return metadata;
}

// sha256 of @tufjs/canonical-json's form of each file's `signed`, by file name: the verifier
// checks that our canonical JSON is byte-identical.
const canonicalSha256 = {};

function writeJSON(file, metadata) {
  const json = metadata.toJSON();
  canonicalSha256[path.basename(file)] = sha256Hex(Buffer.from(canonicalize(json.signed)));
  const text = JSON.stringify(json, null, 2);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return Buffer.from(text);
}

function main() {
  const outDir = process.argv[2];
  if (!outDir) {
    console.error('usage: tufjs_make_repo.js <out_dir>');
    process.exit(2);
  }
  fs.rmSync(outDir, { recursive: true, force: true });
  const repo = path.join(outDir, 'good');
  const metaDir = path.join(repo, 'metadata');
  const targetsDir = path.join(repo, 'targets');

  const keys = {
    rootA: makeKey('ed25519'),  // root v1 only
    rootB: makeKey('ed25519'),  // root v2
    rootC: makeKey('ecdsa'),    // root v2
    timestamp: makeKey('ed25519'),
    snapshot: makeKey('ecdsa'),
    targets: makeKey('ed25519'),
    productA: makeKey('ed25519'),
    hashed: makeKey('ecdsa'),
  };

  // --- root v1: one ed25519 root key; root v2 rotates to two new keys, threshold 2 ---------
  const roleKeys = (name) => ({
    timestamp: keys.timestamp, snapshot: keys.snapshot, targets: keys.targets,
  })[name];
  function makeRoot(version, rootKeys, threshold) {
    const root = new Root({
      version, specVersion: SPEC_VERSION, expires: EXPIRES, consistentSnapshot: true,
    });
    for (const k of rootKeys) root.addKey(k.key, 'root');
    for (const name of ['timestamp', 'snapshot', 'targets']) root.addKey(roleKeys(name).key, name);
    root.roles.root = new Role({ keyIDs: rootKeys.map((k) => k.keyID), threshold });
    return new Metadata(root);
  }
  const root1 = sign(makeRoot(1, [keys.rootA], 1), keys.rootA);
  writeJSON(path.join(metaDir, '1.root.json'), root1);
  // 5.3.4/5.3.5: v2 needs the old threshold (rootA) and its own (rootB + rootC).
  const root2 = sign(makeRoot(2, [keys.rootB, keys.rootC], 2), keys.rootA, keys.rootB, keys.rootC);
  writeJSON(path.join(metaDir, '2.root.json'), root2);

  // --- targets -------------------------------------------------------------------------------
  const expected = { keyids: Object.values(keys).map((k) => k.keyID).sort(), targets: {} };
  function addTarget(targets, role, targetPath, content, custom) {
    const data = Buffer.from(content);
    const hash = sha256Hex(data);
    const file = new TargetFile({
      length: data.length,
      path: targetPath,
      hashes: { sha256: hash, sha512: crypto.createHash('sha512').update(data).digest('hex') },
      unrecognizedFields: custom ? { custom } : {},
    });
    targets.addTarget(file);
    const dir = path.join(targetsDir, path.dirname(targetPath));
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `${hash}.${path.basename(targetPath)}`), data);
    expected.targets[targetPath] = {
      role, length: data.length, sha256: hash, custom: custom || null,
    };
  }

  // Delegations: one by path pattern, one by path hash prefix.
  const hashedPath = 'imaging/console-7.0.0.tar';
  const hashedPrefix = sha256Hex(Buffer.from(hashedPath)).slice(0, 2);
  const delegations = new Delegations({
    keys: { [keys.productA.keyID]: keys.productA.key, [keys.hashed.keyID]: keys.hashed.key },
    roles: {
      'product-a': new DelegatedRole({
        name: 'product-a', keyIDs: [keys.productA.keyID], threshold: 1, terminating: true,
        paths: ['product-a/*', 'product-a/*/*.bin'],
      }),
      hashed: new DelegatedRole({
        name: 'hashed', keyIDs: [keys.hashed.keyID], threshold: 1, terminating: false,
        pathHashPrefixes: [hashedPrefix, hashedPrefix === 'ff' ? '00' : 'ff'],
      }),
    },
  });

  const top = new Targets({ version: 1, specVersion: SPEC_VERSION, expires: EXPIRES, delegations });
  addTarget(top, 'targets', 'pump/firmware-2.4.1.bin', 'infusion pump firmware 2.4.1\n', {
    version: '2.4.1',
    hardware_ids: ['pump-x1', 'pump-x2'],
    min_installed_version: '2.0.0',
    installer: 'a-b-partition',
    end_of_support: '2031-12-31',
  });
  addTarget(top, 'targets', 'pump/sbom-2.4.1.spdx.json', '{"spdxVersion":"SPDX-2.3"}\n', {
    sbom_for: 'pump/firmware-2.4.1.bin',
  });
  addTarget(top, 'targets', 'README.txt', 'plain target without custom metadata\n', null);
  writeJSON(path.join(metaDir, '1.targets.json'), sign(new Metadata(top), keys.targets));

  const productA = new Targets({ version: 1, specVersion: SPEC_VERSION, expires: EXPIRES });
  addTarget(productA, 'product-a', 'product-a/ventilator-3.1.0.img', 'ventilator image\n', {
    version: '3.1.0', hardware_ids: ['vent-a'], installer: 'swupdate',
  });
  addTarget(productA, 'product-a', 'product-a/dialysis/unit-1.0.2.bin', 'dialysis unit fw\n', {
    version: '1.0.2', hardware_ids: ['dial-1'],
  });
  writeJSON(path.join(metaDir, '1.product-a.json'), sign(new Metadata(productA), keys.productA));

  const hashed = new Targets({ version: 1, specVersion: SPEC_VERSION, expires: EXPIRES });
  addTarget(hashed, 'hashed', hashedPath, 'imaging console bundle\n', { version: '7.0.0' });
  writeJSON(path.join(metaDir, '1.hashed.json'), sign(new Metadata(hashed), keys.hashed));

  // --- snapshot and timestamp ----------------------------------------------------------------
  const snapshot = new Snapshot({
    version: 1, specVersion: SPEC_VERSION, expires: EXPIRES,
    meta: {
      'targets.json': new MetaFile({ version: 1 }),
      'product-a.json': new MetaFile({ version: 1 }),
      'hashed.json': new MetaFile({ version: 1 }),
    },
  });
  const snapshotBytes = writeJSON(path.join(metaDir, '1.snapshot.json'),
                                  sign(new Metadata(snapshot), keys.snapshot));
  const timestamp = new Timestamp({
    version: 1, specVersion: SPEC_VERSION, expires: EXPIRES,
    snapshotMeta: new MetaFile({
      version: 1, length: snapshotBytes.length, hashes: { sha256: sha256Hex(snapshotBytes) },
    }),
  });
  writeJSON(path.join(metaDir, 'timestamp.json'), sign(new Metadata(timestamp), keys.timestamp));

  // Sanity: tuf-js's own verifier accepts what it made (so a failure on our side is ours).
  const load = (type, name) =>
    Metadata.fromJSON(type, JSON.parse(fs.readFileSync(path.join(metaDir, name))));
  const r1 = load('root', '1.root.json');
  const r2 = load('root', '2.root.json');
  r1.verifyDelegate('root', r2);
  r2.verifyDelegate('root', r2);
  const t = load('targets', '1.targets.json');
  r2.verifyDelegate('targets', t);
  t.verifyDelegate('product-a', load('targets', '1.product-a.json'));
  t.verifyDelegate('hashed', load('targets', '1.hashed.json'));
  if (!t.signed.delegations.roles.hashed.isDelegatedPath(hashedPath)) {
    throw new Error('hash prefix delegation does not cover its target');
  }

  expected.canonical_sha256 = canonicalSha256;
  fs.writeFileSync(path.join(repo, 'expected.json'), JSON.stringify(expected, null, 2));

  // --- tampered copies -----------------------------------------------------------------------
  const tamperedMeta = path.join(outDir, 'tampered-metadata');
  fs.cpSync(repo, tamperedMeta, { recursive: true });
  const targetsFile = path.join(tamperedMeta, 'metadata', '1.targets.json');
  const doc = JSON.parse(fs.readFileSync(targetsFile));
  const victim = doc.signed.targets['pump/firmware-2.4.1.bin'].hashes;
  victim.sha256 = (victim.sha256[0] === '0' ? '1' : '0') + victim.sha256.slice(1);
  fs.writeFileSync(targetsFile, JSON.stringify(doc, null, 2));
  // The maker's canonical hash is of the untampered file: drop it so the verifier gets to the
  // signature check, which is what this copy is for.
  const tamperedExpected = { ...expected, canonical_sha256: { ...canonicalSha256 } };
  delete tamperedExpected.canonical_sha256['1.targets.json'];
  fs.writeFileSync(path.join(tamperedMeta, 'expected.json'),
                   JSON.stringify(tamperedExpected, null, 2));

  const tamperedTarget = path.join(outDir, 'tampered-target');
  fs.cpSync(repo, tamperedTarget, { recursive: true });
  const fw = expected.targets['pump/firmware-2.4.1.bin'];
  const fwFile = path.join(tamperedTarget, 'targets', 'pump', `${fw.sha256}.firmware-2.4.1.bin`);
  const bytes = fs.readFileSync(fwFile);
  bytes[0] ^= 0x01;
  fs.writeFileSync(fwFile, bytes);

  console.log(`tuf-js repository written to ${outDir}: ${Object.keys(expected.targets).length} ` +
              `targets, ${expected.keyids.length} keys`);
}

// agent_tufjs_make_repos.js builds its release trees with the same helpers.
module.exports = { SPEC_VERSION, makeKey, sign, sha256Hex };
if (require.main === module) main();
