'use strict';
// What the seed tests (seed-netease, seed-zego) share: where the vendors' guides are
// (../shared/seeds, not part of this repository, or MPRTC_SEEDS), and a guide's page run in the
// simulated runtime with its console kept, since the guides' code tells what it did by logging.

const fs = require('node:fs');
const path = require('node:path');
const { createMiniProgram, layoutPackage } = require('../runtime');
const { REPO } = require('./support');
const { watchedConsole, waitFor } = require('./mp');

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
 * first line that contains `needle`, waiting up to `ms` (20 s). The console is watched as every
 * e2e mini-program's is (mp.js): an SDK line the test did not expect (`mp.expectLog`) fails it.
 */
function loggedPage(t, file, source) {
  const pkg = layoutPackage({ files: { [file]: source } });
  t.after(() => pkg.cleanup());
  let mp = null;
  const watched = watchedConsole(t, file, () => mp.errors, () => mp.close());
  // The page's own lines, as text, for waitLog and the tests' checks.
  const logs = [];
  const cons = {};
  for (const level of Object.keys(watched.console)) {
    cons[level] = (...a) => {
      watched.console[level](...a);
      logs.push(watched.lines[watched.lines.length - 1].text);
    };
  }
  mp = createMiniProgram({ root: pkg.root, console: cons });
  t.after(() => mp.close());
  mp.expectLog = watched.expectLog;
  const waitLog = (needle, ms) =>
    waitFor(() => logs.find((l) => l.includes(needle)), `a log with ${JSON.stringify(needle)}`, ms || 20000, () => logs.join('\n'));
  return { pkg, mp, logs, waitLog };
}

module.exports = { findSeed, skipWithout, loggedPage };
