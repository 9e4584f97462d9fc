#!/usr/bin/env node
// A read-only static file server on 127.0.0.1 for the refresh comparison (scripts/bench.sh):
// both clients (our client-agent and tuf-js's Updater) fetch the same tree from this one
// process, so neither pays the server's cost. Prints "PORT <n>" on stdout once listening,
// then serves until killed (SIGTERM/SIGINT). Anything missing or outside <dir> is a 404.
//
// Usage: node serve_static.js <dir>
'use strict';

const fs = require('fs');
const http = require('http');
const path = require('path');

const root = process.argv[2];
if (!root || !fs.existsSync(root)) {
  console.error('usage: serve_static.js <dir>');
  process.exit(2);
}
const base = path.resolve(root) + path.sep;

const server = http.createServer((req, res) => {
  let file;
  try {
    file = path.resolve(base, '.' + decodeURIComponent(new URL(req.url, 'http://x').pathname));
  } catch (err) {
    res.writeHead(400).end();
    return;
  }
  if (req.method !== 'GET' || !file.startsWith(base)) {
    res.writeHead(404).end();
    return;
  }
  fs.readFile(file, (err, data) => {
    if (err) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Length': data.length }).end(data);
  });
});
server.listen(0, '127.0.0.1', () => console.log(`PORT ${server.address().port}`));
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
