#!/usr/bin/env node
// The tuf-js side of the refresh comparison (scripts/bench.sh): a fresh tuf-js 5 Updater,
// trusting <root_file>, refreshes (root chain, timestamp, snapshot, targets) from
// <metadata_url>, exactly what `client-agent --metadata-url URL --metadata-dir MD refresh`
// does after `init`. Prints one line:
//
//   tufjs refresh_ms=<ms inside updater.refresh()> maxrss_kib=<peak RSS of this process>
//
// Usage: NODE_PATH=<node_modules> node tufjs_refresh.js <metadata_url> <root_file> <work_dir>
// Exit status 0 on a successful refresh, 1 otherwise.
'use strict';

const fs = require('fs');
const path = require('path');
const { performance } = require('perf_hooks');
const { Updater } = require('tuf-js');

async function main() {
  const [metadataUrl, rootFile, workDir] = process.argv.slice(2);
  if (!workDir) {
    console.error('usage: tufjs_refresh.js <metadata_url> <root_file> <work_dir>');
    process.exit(2);
  }
  const metadataDir = path.join(workDir, 'metadata');
  const targetDir = path.join(workDir, 'targets');
  fs.rmSync(workDir, { recursive: true, force: true });
  fs.mkdirSync(metadataDir, { recursive: true });
  fs.mkdirSync(targetDir, { recursive: true });
  fs.copyFileSync(rootFile, path.join(metadataDir, 'root.json'));
  const updater = new Updater({
    metadataDir, targetDir, metadataBaseUrl: metadataUrl,
    targetBaseUrl: metadataUrl.replace(/metadata\/?$/, 'targets'),
    config: { fetchRetry: 0, fetchTimeout: 600000, targetsMaxLength: 1 << 30 },
  });
  const start = performance.now();
  await updater.refresh();
  const ms = performance.now() - start;
  console.log(`tufjs refresh_ms=${ms.toFixed(1)} maxrss_kib=${process.resourceUsage().maxRSS}`);
}

main().catch((err) => {
  console.error(`tufjs_refresh FAILED: ${err.constructor.name}: ${err.message}`);
  process.exitCode = 1;
});
