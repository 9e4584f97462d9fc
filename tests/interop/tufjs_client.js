#!/usr/bin/env node
// Direction 2 of the tuf-js interop: serves a static TUF tree over HTTP on 127.0.0.1 (an
// ephemeral port, node's http module) and runs tuf-js's Updater against it: refresh (root
// chain, timestamp, snapshot, targets), then look up and download every target listed in the
// tree's expected.json, checking the role's custom metadata and the downloaded bytes.
//
// Usage: node tufjs_client.js <repo_dir> <work_dir> [--expect-refresh-error <ErrorClass>]
//                             [--expect-target-error <target path>=<ErrorClass>]
//   --expect-refresh-error  refresh must fail with that tuf-js error class, and nothing may be
//                           downloaded. "<ErrorClass>:<text>" also requires <text> in the
//                           message (tuf-js 5 wraps snapshot/targets errors in RuntimeError).
//   --expect-target-error   downloading that one target must fail with that class and leave no
//                           file; every other target must still download correctly.
// Exit 77 (ctest "skipped") when MDU_SKIP_INTEROP=1.
'use strict';

if (process.env.MDU_SKIP_INTEROP === '1') {
  console.log('MDU_SKIP_INTEROP=1: skipping');
  process.exit(77);
}

const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const path = require('path');
const { canonicalize } = require('@tufjs/canonical-json');
const { Updater } = require('tuf-js');

function parseArgs(argv) {
  const args = { positional: [], refreshError: null, targetError: null };
  for (let i = 0; i < argv.length; ++i) {
    if (argv[i] === '--expect-refresh-error') {
      args.refreshError = argv[++i];
    } else if (argv[i] === '--expect-target-error') {
      const [target, cls] = argv[++i].split('=');
      args.targetError = { target, cls };
    } else {
      args.positional.push(argv[i]);
    }
  }
  if (args.positional.length !== 2) {
    console.error('usage: tufjs_client.js <repo_dir> <work_dir> [--expect-refresh-error C] ' +
                  '[--expect-target-error path=C]');
    process.exit(2);
  }
  return args;
}

// Serves files under `root` read-only; anything outside it, or missing, is a 404.
function serve(root) {
  const requests = [];
  const server = http.createServer((req, res) => {
    const urlPath = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const file = path.resolve(root, '.' + urlPath);
    requests.push(urlPath);
    if (req.method !== 'GET' || !file.startsWith(path.resolve(root) + path.sep) ||
        !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    const data = fs.readFileSync(file);
    res.writeHead(200, { 'Content-Length': data.length }).end(data);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ server, requests, port: server.address().port }));
  });
}

function errorClass(err) {
  return (err && err.constructor && err.constructor.name) || String(err);
}

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

async function run(args, port) {
  const [repoDir, workDir] = args.positional;
  const metadataDir = path.join(workDir, 'metadata');
  const targetDir = path.join(workDir, 'targets');
  fs.rmSync(workDir, { recursive: true, force: true });
  fs.mkdirSync(metadataDir, { recursive: true });
  fs.mkdirSync(targetDir, { recursive: true });
  // The trust anchor shipped with the client: version 1 of root.
  fs.copyFileSync(path.join(repoDir, 'metadata', '1.root.json'),
                  path.join(metadataDir, 'root.json'));
  const expected = JSON.parse(fs.readFileSync(path.join(repoDir, 'expected.json')));

  const base = `http://127.0.0.1:${port}`;
  const updater = new Updater({
    metadataDir, targetDir,
    metadataBaseUrl: `${base}/metadata`, targetBaseUrl: `${base}/targets`,
    config: { fetchRetry: 0, fetchTimeout: 20000 },
  });

  try {
    await updater.refresh();
    check(args.refreshError === null, `refresh succeeded, expected ${args.refreshError}`);
  } catch (err) {
    if (args.refreshError === null) throw err;
    const [cls, text] = args.refreshError.split(/:(.*)/s);
    check(errorClass(err) === cls && (!text || err.message.includes(text)),
          `refresh failed with ${errorClass(err)} (${err.message}), expected ${args.refreshError}`);
    check(fs.readdirSync(targetDir).length === 0, 'targets were downloaded');
    console.log(`refresh rejected as expected: ${errorClass(err)}: ${err.message}`);
    return;
  }

  // Root rotation happened: the trusted root is now the repository's newest.
  const trustedRoot = JSON.parse(fs.readFileSync(path.join(metadataDir, 'root.json')));
  check(trustedRoot.signed.version === 2, `trusted root version ${trustedRoot.signed.version}`);

  let downloaded = 0;
  for (const [targetPath, want] of Object.entries(expected.targets)) {
    const info = await updater.getTargetInfo(targetPath);
    check(info !== undefined, `tuf-js did not find target ${targetPath}`);
    check(info.length === want.length, `${targetPath}: length ${info.length} vs ${want.length}`);
    check(canonicalize(info.custom) === canonicalize(want.custom || {}),
          `${targetPath}: custom ${JSON.stringify(info.custom)} vs ${JSON.stringify(want.custom)}`);
    const filePath = path.join(targetDir, targetPath);
    fs.mkdirSync(path.dirname(filePath), { recursive: true });
    const expectFailure = args.targetError && args.targetError.target === targetPath;
    try {
      await updater.downloadTarget(info, filePath);
    } catch (err) {
      if (!expectFailure) throw err;
      check(errorClass(err) === args.targetError.cls,
            `${targetPath}: failed with ${errorClass(err)} (${err.message}), ` +
            `expected ${args.targetError.cls}`);
      check(!fs.existsSync(filePath), `${targetPath}: rejected file was written`);
      console.log(`${targetPath}: rejected as expected: ${errorClass(err)}: ${err.message}`);
      continue;
    }
    check(!expectFailure, `${targetPath}: downloaded, expected ${args.targetError &&
          args.targetError.cls}`);
    const data = fs.readFileSync(filePath);
    const sha256 = crypto.createHash('sha256').update(data).digest('hex');
    check(data.length === want.length && sha256 === want.sha256,
          `${targetPath}: downloaded bytes differ (sha256 ${sha256})`);
    ++downloaded;
  }
  check(args.targetError === null || args.targetError.target in expected.targets,
        'the target expected to fail is not in expected.json');
  const missing = await updater.getTargetInfo('no/such/target.bin');
  check(missing === undefined, 'tuf-js found a target that is not listed');
  console.log(`tuf-js verified ${downloaded} targets of ${repoDir}`);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const { server, requests, port } = await serve(args.positional[0]);
  try {
    await run(args, port);
    console.log(`requests: ${requests.join(' ')}`);
  } catch (err) {
    console.error(`FAILED: ${errorClass(err)}: ${err.message}`);
    console.error(`requests: ${requests.join(' ')}`);
    process.exitCode = 1;
  } finally {
    server.close();
  }
}

main();
