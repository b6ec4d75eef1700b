'use strict';
// What the seed tests (seed-netease, seed-zego) share: where the vendors' guides are
// (../shared/seeds, not part of this repository, or MPRTC_SEEDS), and a guide's page run in the
// simulated runtime with its console kept, since the guides' code tells what it did by logging.

const fs = require('node:fs');
const path = require('node:path');
const { createMiniProgram, layoutPackage } = require('../runtime');
const { REPO, sleep } = require('./support');

const SEEDS = process.env.MPRTC_SEEDS || path.join(REPO, '..', 'shared', 'seeds');

/** The first seed whose text `wanted` accepts, as {file, text}; null when none does or there are no seeds. */
function findSeed(wanted) {
  if (!fs.existsSync(SEEDS)) return null;
  for (const file of fs.readdirSync(SEEDS)) {
    const text = fs.readFileSync(path.join(SEEDS, file), 'utf8');
    if (wanted(text)) return { file, text };
  }
  return null;
}

/** Skips test `t`, and says so on the console, because the seeds hold no `what`. */
function skipWithout(t, what) {
  console.log(`skipped: no ${what} found under ${SEEDS}`);
  t.skip(`seeds not present at ${SEEDS}`);
}

/**
 * A package `pkg` with `source` as its page `file`, and a mini-program `mp` on it, both cleaned up
 * after test `t`. `logs` holds one line a console call; `waitLog(needle, ms)` resolves with the
 * first line that contains `needle`, waiting up to `ms` (15 s).
 */
function loggedPage(t, file, source) {
  const pkg = layoutPackage({ files: { [file]: source } });
  t.after(() => pkg.cleanup());
  const logs = [];
  const sink = (...a) => logs.push(a.map((x) => (x instanceof Error ? `${x.code} ${x.message}` : typeof x === 'string' ? x : JSON.stringify(x))).join(' '));
  const mp = createMiniProgram({ root: pkg.root, console: { log: sink, info: sink, warn: sink, error: sink, debug: sink } });
  t.after(() => mp.close());
  const waitLog = async (needle, ms) => {
    const until = Date.now() + (ms || 15000);
    while (Date.now() < until) {
      const hit = logs.find((l) => l.includes(needle));
      if (hit) return hit;
      await sleep(50);
    }
    throw new Error(`no log with ${JSON.stringify(needle)}:\n${logs.join('\n')}`);
  };
  return { pkg, mp, logs, waitLog };
}

module.exports = { findSeed, skipWithout, loggedPage };
