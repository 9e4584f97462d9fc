#!/usr/bin/env node
// ctest fixture: installs the pinned tuf-js packages with `npm ci` into <dir> (the build tree,
// where CMake copied package.json and package-lock.json). A failure is loud and fails every
// interop test that needs node; MDU_SKIP_INTEROP=1 skips instead.
//
// Usage: node npm_ci.js <npm> <dir>
'use strict';

if (process.env.MDU_SKIP_INTEROP === '1') {
  console.log('MDU_SKIP_INTEROP=1: skipping');
  process.exit(77);
}

const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const [npm, dir] = process.argv.slice(2);
if (!npm || !dir) {
  console.error('usage: npm_ci.js <npm> <dir>');
  process.exit(2);
}
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 17)) {
  console.error(`tuf-js 5 needs node >= 20.17; this is node ${process.versions.node}`);
  process.exit(1);
}

// A lock file that matches node_modules already: npm ci would only reinstall the same files.
const installedLock = path.join(dir, 'node_modules', '.package-lock.json');
const marker = path.join(dir, 'node_modules', '.mdu-installed-from');
const lock = fs.readFileSync(path.join(dir, 'package-lock.json'), 'utf8');
if (fs.existsSync(installedLock) && fs.existsSync(marker) &&
    fs.readFileSync(marker, 'utf8') === lock) {
  console.log(`node_modules in ${dir} is current`);
  process.exit(0);
}

const result = spawnSync(npm, ['ci', '--no-audit', '--no-fund', '--loglevel=error'], {
  cwd: dir,
  stdio: 'inherit',
  env: { ...process.env, npm_config_update_notifier: 'false' },
});
if (result.status !== 0) {
  console.error('\n*** npm ci FAILED in ' + dir + ' (status ' + result.status +
                (result.error ? ', ' + result.error.message : '') + ').\n' +
                '*** The tuf-js interop tests cannot run: is the npm registry reachable?\n' +
                '*** Set MDU_SKIP_INTEROP=1 to skip them deliberately.');
  process.exit(1);
}
fs.writeFileSync(marker, lock);
console.log(`npm ci done in ${dir}`);
