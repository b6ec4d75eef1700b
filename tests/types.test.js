'use strict';
// The TypeScript declarations (js-shim/*.d.ts) and the shim's own JavaScript, checked with
// the pinned tsc. See types/ for what each tsconfig covers.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const TESTS = __dirname;
const REPO = path.join(TESTS, '..');
const TSC = path.join(TESTS, 'node_modules', '.bin', 'tsc');
const DTS = path.join(REPO, 'js-shim', 'index.d.ts');

function tsc(project) {
  const r = spawnSync(TSC, ['-p', project, '--pretty', 'false'], { cwd: TESTS, encoding: 'utf8' });
  if (r.error) throw r.error;
  const out = `${r.stdout}${r.stderr}`.trim();
  assert.equal(r.status, 0, `tsc -p ${project} exited ${r.status}:\n${out}`);
}

test('declarations: typical use type-checks, wrong use is refused', () => {
  tsc('types/tsconfig.json');
});

test('shim JavaScript type-checks against the mini-program globals only (ES2017, wx, no DOM)', () => {
  tsc('types/tsconfig.shim.json');
});

test('declared error codes and reasons are exactly those of src/protocol/error.rs', () => {
  const rs = fs.readFileSync(path.join(REPO, 'src', 'protocol', 'error.rs'), 'utf8');
  const codes = new Map([...rs.matchAll(/^\s+(\w+) = (\d+),$/gm)].map((m) => [m[1], Number(m[2])]));
  const names = new Map([...rs.matchAll(/Self::(\w+) => "(\w+)"/g)].map((m) => [m[1], m[2]]));
  assert.ok(codes.size >= 30, `parsed ${codes.size} codes from error.rs`);
  const want = [...codes].map(([v, n]) => `${n} ${names.get(v)}`).sort();

  const dts = fs.readFileSync(DTS, 'utf8');
  const codeBlock = dts.slice(dts.indexOf('type MprtcErrorCode ='), dts.indexOf('type MprtcErrorReason ='));
  const got = [...codeBlock.matchAll(/\| (\d+);? \/\/ (\w+):/g)].map((m) => `${m[1]} ${m[2]}`).sort();
  assert.deepEqual(got, want, 'MprtcErrorCode (each line: code // reason)');

  const reasonBlock = dts.match(/type MprtcErrorReason =([^;]*);/)[1];
  const reasons = [...reasonBlock.matchAll(/'(\w+)'/g)].map((m) => m[1]).sort();
  assert.deepEqual(reasons, [...names.values()].sort(), 'MprtcErrorReason');
});

test('declared events are exactly those the core emits (src/core/output.rs)', () => {
  const rs = fs.readFileSync(path.join(REPO, 'src', 'core', 'output.rs'), 'utf8');
  const start = rs.indexOf('impl AppEvent');
  const fn = rs.slice(start, rs.indexOf('\n}\n', start));
  const want = [...fn.matchAll(/=> "([\w-]+)"/g)].map((m) => m[1]).sort();
  assert.ok(want.length >= 8, `parsed ${want.length} events from output.rs`);

  const dts = fs.readFileSync(DTS, 'utf8');
  const map = dts.match(/interface ClientEventMap \{([^}]*)\}/)[1];
  const inMap = [...map.matchAll(/^\s+'?([\w-]+)'?:/gm)].map((m) => m[1]).sort();
  const onOverloads = [...dts.matchAll(/^\s+on\(event: '([\w-]+)'/gm)].map((m) => m[1]).sort();
  assert.deepEqual(inMap, want, 'ClientEventMap');
  assert.deepEqual(onOverloads, want, 'on() overloads');
});

test('pkg/ ships the declarations (after scripts/build-pkg)', (t) => {
  const pkg = path.join(REPO, 'pkg');
  if (!fs.existsSync(path.join(pkg, 'index.js'))) {
    t.skip('pkg/ is not built');
    return;
  }
  const stale = 'pkg/ is older than js-shim/index.d.ts or scripts/build-pkg: run scripts/build-pkg';
  const meta = JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8'));
  assert.equal(meta.types, 'index.d.ts', stale);
  for (const name of ['index.d.ts', 'reports.d.ts', 'zego-engine.d.ts']) {
    const shipped = path.join(pkg, name);
    assert.ok(fs.existsSync(shipped), stale);
    assert.equal(fs.readFileSync(shipped, 'utf8'), fs.readFileSync(path.join(REPO, 'js-shim', name), 'utf8'), stale);
  }
  tsc('types/tsconfig.pkg.json');
});
