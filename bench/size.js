'use strict';
// Size section: the bytes a mini-program ships of mprtc (pkg/), raw, gzip -9 and brotli, beside
// the vendors' SDK files, and where the wasm's bytes go (bench/wasm-breakdown.js).

const path = require('node:path');
const { REPO, log, kib, table } = require('./common');
const { GOAL, VENDORS, measurePkg } = require('./pkg-size');
const { breakdown } = require('./wasm-breakdown');

async function run() {
  const m = measurePkg(path.join(REPO, 'pkg'));
  log(`size: ${m.total.raw} B raw, ${m.total.gzip} B gzip, ${m.total.brotli} B brotli shipped`);
  let wasm;
  try {
    wasm = breakdown({ top: 20 });
  } catch (e) {
    wasm = { error: e.message };
  }
  return {
    files: m.files,
    total: m.total,
    goal: GOAL,
    vendors: VENDORS,
    verdict: {
      rawUnderGoal: m.total.raw < GOAL.raw,
      gzipUnderGoal: m.total.gzip < GOAL.gzip,
      gzipUnderAgora: m.total.gzip < GOAL.stretchGzip,
    },
    wasm,
  };
}

/** Summary rows: [metric, mprtc, comparison, goal, met]. */
function rows(r) {
  const agora = r.vendors.find((v) => /Agora/.test(v.name));
  return [
    ['size: shipped total, raw', `${r.total.raw} B`, `Agora ${agora.raw} B`, `< ${r.goal.raw} B`, r.verdict.rawUnderGoal],
    ['size: shipped total, gzip -9', `${r.total.gzip} B`, `Agora ${agora.gzip} B`, `< ${r.goal.gzip} B (stretch < ${r.goal.stretchGzip})`, r.verdict.gzipUnderGoal],
    ['size: shipped total, brotli', `${r.total.brotli} B`, '-', '-', null],
  ];
}

/** The section's own detail, as Markdown. */
function detail(r) {
  const out = [];
  out.push(table([
    ['file', 'raw', 'gzip -9', 'brotli', 'shipped'],
    ...r.files.map((f) => [f.name, f.raw, f.gzip, f.brotli, f.shipped ? 'yes' : 'no (WeChat drops it)']),
    ['**total shipped**', r.total.raw, r.total.gzip, r.total.brotli, ''],
    ...r.vendors.map((v) => [`${v.name} (vendor)`, v.raw, v.gzip, '-', '']),
  ]));
  const w = r.wasm;
  if (w && w.sections) {
    out.push('', `mprtc_bg.wasm sections (${w.bytes} B): ` +
      w.sections.map((s) => `${s.name} ${s.bytes}`).join(', '));
    if (w.dataStrings) {
      out.push(`data section: ${w.dataStrings.dataBytes} B, of which ${w.dataStrings.printableBytes} B printable strings ` +
        `(${w.dataStrings.sourcePathBytes} B source paths of panic locations)`);
    }
  }
  if (w && w.twiggy && typeof w.twiggy === 'object') {
    out.push('', `Code and data by origin (twiggy top on a named twin, ${w.twiggy.namedTwinBytes} B without its name section):`, '');
    out.push(table([['origin', 'bytes', '%', 'items'], ...w.twiggy.groups.slice(0, 16).map((g) => [g.group, g.bytes, g.percent, g.items])]));
    out.push('', 'Largest items:', '');
    out.push(table([['item', 'bytes', '%'], ...w.twiggy.top.map((x) => [x.name.replace(/\|/g, '\\|'), x.bytes, x.percent])]));
    out.push('', 'Generic code copied most (twiggy monos):', '');
    out.push(table([['generic', 'copies', 'bytes', 'bloat bytes'],
      ...w.twiggy.monomorphizationBloat.map((m) => [m.generic.replace(/\|/g, '\\|').slice(0, 110), m.copies, m.bytes, m.bloatBytes])]));
  } else if (w) {
    out.push('', `twiggy: ${w.twiggy || w.error}`);
  }
  return out.join('\n');
}

module.exports = { run, rows, detail, kib };
