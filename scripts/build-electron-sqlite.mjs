#!/usr/bin/env node
// Builds better-sqlite3 a second time against Electron's Node ABI into build-electron/, next to the plain-Node
// build the CLI and tests use. Needs the internet (Electron headers). The desktop app points better-sqlite3's
// `nativeBinding` option at the result (REDDINO_SQLITE_BINDING, set by src/main/index.ts).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const electronVersion = require('electron/package.json').version;
const pkgDir = path.dirname(require.resolve('better-sqlite3/package.json'));
const work = fs.mkdtempSync(path.join(pkgDir, '.electron-build-'));
fs.cpSync(pkgDir, work, {
  recursive: true,
  filter: (src) => !src.includes('.electron-build-') && !src.endsWith('/build'),
});
console.log(`building better-sqlite3 for Electron ${electronVersion} in ${work}`);
execFileSync(
  process.platform === 'win32' ? 'npx.cmd' : 'npx',
  [
    'node-gyp',
    'rebuild',
    '--release',
    `--target=${electronVersion}`,
    '--arch=' + process.arch,
    '--dist-url=https://electronjs.org/headers',
  ],
  { cwd: work, stdio: 'inherit' },
);
const out = path.join(pkgDir, 'build-electron');
fs.mkdirSync(out, { recursive: true });
fs.copyFileSync(path.join(work, 'build/Release/better_sqlite3.node'), path.join(out, 'better_sqlite3.node'));
fs.rmSync(work, { recursive: true, force: true });
console.log(`wrote ${path.join(out, 'better_sqlite3.node')}`);
