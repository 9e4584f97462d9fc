#!/usr/bin/env node
// tuf-js's Updater against repo-server's static mirror served by nginx (server_mirror_test):
// refresh from the trusted state in <metadata_dir> (seeded with <root_file> on the first run),
// check the trusted targets version, then download one target and check its sha256.
//
// Usage: node tufjs_mirror_client.js <base_url> <metadata_dir> <target_dir> <root_file>
//                                    <targets_version> <target_path> <sha256>
// Exit 0 on success, 1 with "FAILED: ..." on stderr otherwise, 77 when MDU_SKIP_INTEROP=1.
'use strict';

if (process.env.MDU_SKIP_INTEROP === '1') {
  console.log('MDU_SKIP_INTEROP=1: skipping');
  process.exit(77);
}

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { Updater } = require('tuf-js');

async function main() {
  const args = process.argv.slice(2);
  if (args.length !== 7) {
    console.error('usage: tufjs_mirror_client.js <base_url> <metadata_dir> <target_dir> ' +
                  '<root_file> <targets_version> <target_path> <sha256>');
    process.exit(2);
  }
  const [base, metadataDir, targetDir, rootFile, targetsVersion, targetPath, sha256] = args;
  fs.mkdirSync(metadataDir, { recursive: true });
  fs.mkdirSync(targetDir, { recursive: true });
  // First run: the trust anchor shipped with the client. Later runs keep the trusted state.
  const trusted = path.join(metadataDir, 'root.json');
  if (!fs.existsSync(trusted)) fs.copyFileSync(rootFile, trusted);

  const updater = new Updater({
    metadataDir, targetDir,
    metadataBaseUrl: `${base}/metadata`, targetBaseUrl: `${base}/targets`,
    config: { fetchRetry: 0, fetchTimeout: 20000 },
  });
  await updater.refresh();
  const targets = JSON.parse(fs.readFileSync(path.join(metadataDir, 'targets.json')));
  if (String(targets.signed.version) !== targetsVersion) {
    throw new Error(`trusted targets version ${targets.signed.version}, expected ${targetsVersion}`);
  }
  const info = await updater.getTargetInfo(targetPath);
  if (info === undefined) throw new Error(`tuf-js did not find target ${targetPath}`);
  const file = path.join(targetDir, encodeURIComponent(targetPath));
  await updater.downloadTarget(info, file);
  const got = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  if (got !== sha256) throw new Error(`${targetPath}: sha256 ${got}, expected ${sha256}`);
  console.log(`tuf-js: targets version ${targetsVersion}, ${targetPath} verified`);
}

main().catch((err) => {
  console.error(`FAILED: ${(err && err.constructor && err.constructor.name) || ''}: ${err.message}`);
  process.exit(1);
});
