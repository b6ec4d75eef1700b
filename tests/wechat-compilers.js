'use strict';
// WeChat's own WXML and WXSS compilers, wcc and wcsc (miniprogram-compiler: the binaries
// DevTools runs), offline. demo.test.js checks the demo's sources with them and
// zego-components.test.js the components pkg/ ships.

const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const COMPILER_BIN = path.join(path.dirname(require.resolve('miniprogram-compiler/package.json')), 'bin', 'linux');

function tool(name) {
  const bin = path.join(COMPILER_BIN, name);
  fs.chmodSync(bin, 0o755); // npm does not always keep the package's executable bits
  return bin;
}

// wcc's component list, as the DevTools wrapper builds it: per WXML whose JSON has
// usingComponents, the file, the count and the tag names.
function componentArgs(dir, files) {
  const args = [];
  let count = 0;
  for (const f of files) {
    const json = path.join(dir, f.replace(/\.wxml$/, '.json'));
    const using = fs.existsSync(json) ? JSON.parse(fs.readFileSync(json, 'utf8')).usingComponents : null;
    if (!using) continue;
    count++;
    args.push(f, Object.keys(using).length, ...Object.keys(using));
  }
  return [count].concat(args).join(' ');
}

/** wcc over `files` (paths from `dir`): {status, stdout, stderr}. */
function wcc(dir, files) {
  return spawnSync(tool('wcc'), ['-d', '-cc', componentArgs(dir, files)].concat(files, ['-gn', '$gwx']), { cwd: dir, encoding: 'utf8', maxBuffer: 64 << 20 });
}

/** wcsc over `files` (paths from `dir`): {status, stdout, stderr}. */
function wcsc(dir, files) {
  return spawnSync(tool('wcsc'), ['-db', '-pc', '0'].concat(files), { cwd: dir, encoding: 'utf8', maxBuffer: 64 << 20 });
}

module.exports = { wcc, wcsc };
