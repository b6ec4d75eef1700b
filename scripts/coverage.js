'use strict';
// The table scripts/coverage prints: line coverage per part of mprtc.
//
// Rust: llvm-cov's JSON summary, its per-file line counts summed by part (core, protocol, bridge,
// server modules, ...). JS: the raw V8 coverage NODE_V8_COVERAGE wrote for every Node process,
// for the copies of pkg/index.js the simulated runtime loaded. The bundle was built unminified,
// so esbuild's `// <file>` markers say which shim file (or the wasm-bindgen glue) a line is
// from. A line counts as run when the innermost V8 range holding its first character ran; blank
// lines, comments and lone brackets are not lines of code.
//
//   node scripts/coverage.js target/coverage
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const out = path.resolve(process.argv[2] || path.join(ROOT, 'target/coverage'));

// The parts, most specific first: a file belongs to the first prefix it starts with.
const RUST_PARTS = [
  ['src/core/', 'sdk core (src/core)'],
  ['src/protocol/', 'wire protocol (src/protocol)'],
  ['src/bridge/', 'boundary (src/bridge)'],
  ['src/', 'sdk other (src/)'],
  ['server/src/signaling/', 'server signaling'],
  ['server/src/media/', 'server media'],
  ['server/src/tasks/', 'server tasks'],
  ['server/src/', 'server other'],
  ['bench/', 'bench tools'],
  ['tools/', 'tools'],
];

function pct(covered, total) {
  return total ? ((100 * covered) / total).toFixed(1).padStart(5) + ' %' : '    - ';
}

function row(name, covered, total, worst) {
  return `${name.padEnd(32)} ${String(covered).padStart(6)} / ${String(total).padEnd(6)} ${pct(covered, total)}  ${worst}`;
}

// Per part: covered and total lines, and the file with the most uncovered lines.
function addTo(parts, part, file, covered, total) {
  const p = parts.get(part) || { covered: 0, total: 0, worst: null };
  p.covered += covered;
  p.total += total;
  if (!p.worst || total - covered > p.worst.missed) p.worst = { file, missed: total - covered };
  parts.set(part, p);
}

function printParts(title, parts) {
  console.log(`\n${title}`);
  console.log(`${'part'.padEnd(32)} ${'lines run / of'.padEnd(15)} ${'cover'.padStart(7)}  most lines not run`);
  let c = 0;
  let t = 0;
  for (const [name, p] of parts) {
    c += p.covered;
    t += p.total;
    console.log(row(name, p.covered, p.total, p.worst ? `${p.worst.file} (${p.worst.missed})` : ''));
  }
  console.log(row('all', c, t, ''));
}

function rust() {
  const file = path.join(out, 'rust.json');
  if (!fs.existsSync(file)) return;
  const report = JSON.parse(fs.readFileSync(file, 'utf8'));
  const parts = new Map(RUST_PARTS.map(([, name]) => [name, { covered: 0, total: 0, worst: null }]));
  for (const f of report.data[0].files) {
    const rel = path.relative(ROOT, f.filename);
    if (rel.startsWith('..')) continue; // dependencies
    // Test code is not what the map is about.
    if (/(^|\/)tests?(\/|\.rs$)|_tests?\.rs$|(^|\/)fuzz\.rs$|front_fuzz\.rs$/.test(rel)) continue;
    const part = RUST_PARTS.find(([prefix]) => rel.startsWith(prefix));
    if (!part) continue;
    addTo(parts, part[1], rel, f.summary.lines.covered, f.summary.lines.count);
  }
  printParts('Rust (cargo llvm-cov, every workspace test)', parts);
}

// Which lines of the bundle are code, and which source file each comes from.
function bundleLines(src) {
  const lines = src.split('\n');
  const starts = [];
  let off = 0;
  let from = 'glue';
  const info = lines.map((text) => {
    const start = off;
    off += text.length + 1;
    const marker = /^\/\/ .*?([\w.-]+\.js)$/.exec(text);
    if (marker) from = fs.existsSync(path.join(ROOT, 'js-shim', marker[1])) ? `js-shim/${marker[1]}` : 'glue';
    const trimmed = text.trim();
    const code = trimmed !== '' && !/^(\/\/|\/\*|\*)/.test(trimmed) && !/^[\])};,]+$/.test(trimmed);
    starts.push(start + (text.length - text.trimStart().length));
    return { from, code };
  });
  return { info, starts };
}

function js() {
  const dir = path.join(out, 'v8');
  const bundle = path.join(out, 'index.unminified.js');
  if (!fs.existsSync(dir) || !fs.existsSync(bundle)) return;
  const src = fs.readFileSync(bundle, 'utf8');
  const { info, starts } = bundleLines(src);
  const run = new Uint8Array(info.length);
  let scripts = 0;
  for (const name of fs.readdirSync(dir)) {
    const report = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8'));
    for (const script of report.result) {
      if (!script.url.endsWith('miniprogram_npm/mprtc/index.js')) continue;
      scripts++;
      // Innermost range wins: apply the ranges widest first, narrower ones override.
      const ranges = script.functions.flatMap((f) => f.ranges);
      ranges.sort((a, b) => b.endOffset - b.startOffset - (a.endOffset - a.startOffset));
      const count = new Int32Array(src.length + 1);
      for (const r of ranges) count.fill(r.count > 0 ? 1 : 0, r.startOffset, Math.min(r.endOffset, src.length));
      starts.forEach((s, i) => {
        if (count[s] > 0) run[i] = 1;
      });
    }
  }
  const parts = new Map();
  info.forEach((l, i) => {
    if (l.code) addTo(parts, l.from, l.from, run[i], 1);
  });
  // addTo's `worst` is per line here; the file name is the part.
  for (const p of parts.values()) p.worst = null;
  printParts(`JS shim in pkg/ (V8 coverage of ${scripts} loads by the node tests)`, parts);
}

rust();
js();
