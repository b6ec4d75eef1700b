'use strict';
// What a mini-program ships of mprtc, measured: every file of the built pkg/ that WeChat keeps
// in an upload, raw, gzip -9 and brotli (quality 11), each file compressed on its own.
// Shared by the size section of the benchmark (bench/size.js) and the size-budget test
// (tests/size.test.js), so that both count the same bytes.

const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');

// WeChat's upload keeps only whitelisted extensions: .md, .d.ts-only types and LICENSE files
// are dropped (the same rule scripts/build-pkg prints its sizes with); the components' WXML and
// WXSS are kept and count.
const SHIPPED = /\.(js|json|wasm|br|wxml|wxss)$/;

// Issue #7: under 120 KB raw and under 40 KB gzipped in total; stretch: below Agora's gzip size.
const GOAL = { raw: 120 * 1024, gzip: 40 * 1024, stretchGzip: 34927 };

// Issue #7 / shared reference vendor-sdks.md §2: the vendors' mini-program SDK files, bytes as
// committed in their public repositories.
const VENDORS = [
  { name: 'NetEase G2 4.4.1', raw: 180165, gzip: 54508 },
  { name: 'Agora 2.6.4', raw: 163079, gzip: 34927 },
  { name: 'ZEGO 3.6.0', raw: 520047, gzip: 132180 },
];

function gzipSize(buf) {
  return zlib.gzipSync(buf, { level: 9 }).length;
}

function brotliSize(buf) {
  return zlib.brotliCompressSync(buf, {
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: 11,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: buf.length,
    },
  }).length;
}

/**
 * Sizes of the files under `dir` (pkg/), sorted by name, and the totals of the shipped ones.
 * Throws if `dir` holds no built package.
 */
function measurePkg(dir) {
  pkgWasm(dir); // throws if there is none
  const names = [];
  (function walk(d) {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else names.push(p);
    }
  })(dir);
  const files = names.sort().map((p) => {
    const b = fs.readFileSync(p);
    const name = path.relative(dir, p).split(path.sep).join('/');
    return { name, raw: b.length, gzip: gzipSize(b), brotli: brotliSize(b), shipped: SHIPPED.test(name) };
  });
  const total = { raw: 0, gzip: 0, brotli: 0 };
  for (const f of files.filter((x) => x.shipped)) {
    total.raw += f.raw;
    total.gzip += f.gzip;
    total.brotli += f.brotli;
  }
  return { files, total };
}

/**
 * The wasm of the built package `dir` (pkg/), as the engine gets it: pkg/ ships it brotli-
 * compressed (mprtc_bg.wasm.br), or plain from a MPRTC_WASM_PLAIN=1 build. Throws if neither is there.
 */
function pkgWasm(dir) {
  const br = path.join(dir, 'mprtc_bg.wasm.br');
  if (fs.existsSync(br)) return zlib.brotliDecompressSync(fs.readFileSync(br));
  const plain = path.join(dir, 'mprtc_bg.wasm');
  if (fs.existsSync(plain)) return fs.readFileSync(plain);
  throw new Error(`${dir} has no mprtc_bg.wasm.br or mprtc_bg.wasm: build it with scripts/build-pkg`);
}

module.exports = { SHIPPED, GOAL, VENDORS, measurePkg, pkgWasm, gzipSize, brotliSize };
