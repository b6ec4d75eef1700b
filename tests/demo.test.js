'use strict';
// The demo mini-program's sources, checked offline with WeChat's own compilers and the
// official typings: every .wxml through wcc and every .wxss through wcsc (miniprogram-compiler),
// the JavaScript as ES2017 CommonJS (what old iOS runs) and type-checked against
// miniprogram-api-typings and the SDK's declarations, the JSON files and what they point at,
// every event handler and data name the WXML uses, and both languages' UI text.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const acorn = require('acorn');
const { createMiniProgram, layoutPackage } = require('./runtime');
const { wcc, wcsc } = require('./wechat-compilers');

const TESTS = __dirname;
const DEMO = path.join(TESTS, '..', 'miniprogram-demo');
const TSC = path.join(TESTS, 'node_modules', '.bin', 'tsc');

function sources(ext) {
  const out = [];
  (function walk(dir) {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (e.name === 'node_modules' || e.name === 'miniprogram_npm' || e.name.startsWith('.')) continue;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(ext)) out.push(path.relative(DEMO, p).split(path.sep).join('/'));
    }
  })(DEMO);
  return out.sort();
}

test('every .wxml compiles with wcc (WeChat\'s WXML compiler)', (t) => {
  const files = sources('.wxml');
  assert.ok(files.length >= 4, files.join(', '));
  const r = wcc(DEMO, files);
  assert.equal(r.status, 0, `wcc failed:\n${r.stderr}`);
  assert.ok(files.every((f) => r.stdout.includes(f)), 'each file is in the output');
  // The gate is live: the same compiler refuses a tag left open.
  const bad = fs.mkdtempSync(path.join(os.tmpdir(), 'mprtc-wxml-'));
  t.after(() => fs.rmSync(bad, { recursive: true, force: true }));
  fs.writeFileSync(path.join(bad, 'x.wxml'), fs.readFileSync(path.join(DEMO, 'pages/room/room.wxml'), 'utf8').replace('</view>', ''));
  assert.notEqual(wcc(bad, ['x.wxml']).status, 0, 'wcc refuses broken WXML');
});

test('every .wxss compiles with wcsc (WeChat\'s WXSS compiler)', (t) => {
  const files = sources('.wxss');
  assert.ok(files.length >= 5, files.join(', '));
  const r = wcsc(DEMO, files);
  assert.equal(r.status, 0, `wcsc failed:\n${r.stderr}`);
  const bad = fs.mkdtempSync(path.join(os.tmpdir(), 'mprtc-wxss-'));
  t.after(() => fs.rmSync(bad, { recursive: true, force: true }));
  fs.writeFileSync(path.join(bad, 'x.wxss'), '.a { color: red; }}\n');
  assert.notEqual(wcsc(bad, ['x.wxss']).status, 0, 'wcsc refuses broken WXSS');
});

test('the JavaScript is ES2017 CommonJS (no ?. ?? import export), and declares its license', () => {
  const files = sources('.js');
  assert.ok(files.length >= 12, files.join(', '));
  for (const f of files) {
    const code = fs.readFileSync(path.join(DEMO, f), 'utf8');
    assert.doesNotThrow(() => acorn.parse(code, { ecmaVersion: 2017, sourceType: 'script' }), `${f} is ES2017 script syntax`);
  }
  assert.throws(() => acorn.parse('a?.b', { ecmaVersion: 2017 }), 'the parser refuses ES2020');
  const meta = JSON.parse(fs.readFileSync(path.join(DEMO, 'package.json'), 'utf8'));
  assert.equal(meta.license, 'MIT OR Apache-2.0');
  assert.equal(meta.dependencies.mprtc, 'file:../pkg', 'the SDK comes from pkg/ through npm');
});

test('the JavaScript type-checks against miniprogram-api-typings and the SDK declarations', () => {
  const r = spawnSync(TSC, ['-p', 'types/tsconfig.demo.json', '--pretty', 'false'], { cwd: TESTS, encoding: 'utf8' });
  assert.equal(r.status, 0, `tsc:\n${r.stdout}${r.stderr}`);
});

test('the project files hang together: JSON, pages, subpackages, components', () => {
  for (const f of sources('.json')) assert.doesNotThrow(() => JSON.parse(fs.readFileSync(path.join(DEMO, f), 'utf8')), `${f} is JSON`);
  const project = JSON.parse(fs.readFileSync(path.join(DEMO, 'project.config.json'), 'utf8'));
  assert.equal(project.compileType, 'miniprogram');
  assert.equal(project.setting.urlCheck, false, 'development: domains not checked (see README)');
  const app = JSON.parse(fs.readFileSync(path.join(DEMO, 'app.json'), 'utf8'));
  assert.ok(fs.existsSync(path.join(DEMO, app.sitemapLocation)));
  const pages = app.pages.concat(...(app.subPackages || []).map((s) => s.pages.map((p) => path.posix.join(s.root, p))));
  assert.deepEqual(pages, ['pages/join/join', 'pages/room/room', 'packageLive/pages/live/live']);
  for (const p of pages) {
    for (const ext of ['.js', '.json', '.wxml', '.wxss']) assert.ok(fs.existsSync(path.join(DEMO, p + ext)), `${p}${ext}`);
    const json = JSON.parse(fs.readFileSync(path.join(DEMO, p + '.json'), 'utf8'));
    for (const [tag, ref] of Object.entries(json.usingComponents || {})) {
      const c = path.join(DEMO, path.dirname(p), ref);
      assert.ok(fs.existsSync(c + '.js') && fs.existsSync(c + '.wxml'), `${p}: <${tag}> at ${ref}`);
      assert.equal(JSON.parse(fs.readFileSync(c + '.json', 'utf8')).component, true);
    }
  }
});

// Names a WXML expression reads at its top level: identifiers not after a dot, outside strings.
function expressionRoots(wxml) {
  const roots = new Set();
  for (const m of wxml.matchAll(/\{\{([\s\S]*?)\}\}/g)) {
    const expr = m[1].replace(/'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/g, "''");
    for (const id of expr.matchAll(/(^|[^.\w$])([A-Za-z_$][\w$]*)/g)) roots.add(id[2]);
  }
  for (const k of ['true', 'false', 'null', 'undefined', 'item', 'index']) roots.delete(k);
  return roots;
}

test('every handler and data name the WXML uses exists in its page or component', (t) => {
  const pkg = layoutPackage({});
  t.after(() => pkg.cleanup());
  // The demo's sources over a package root that has the SDK in miniprogram_npm/.
  const skip = (s) => path.relative(DEMO, s).split(path.sep).some((d) => d === 'node_modules' || d === 'miniprogram_npm');
  fs.cpSync(DEMO, pkg.root, { recursive: true, filter: (s) => !skip(s) });
  const mp = createMiniProgram({ root: pkg.root, console: { log() {}, info() {}, warn() {}, error() {}, debug() {} } });
  t.after(() => mp.close());
  const app = JSON.parse(fs.readFileSync(path.join(DEMO, 'app.json'), 'utf8'));
  const pages = app.pages.concat(...(app.subPackages || []).map((s) => s.pages.map((p) => path.posix.join(s.root, p))));
  const checked = [];
  for (const p of pages.concat(['components/stream-tile/stream-tile'])) {
    const isComponent = p.startsWith('components/');
    const before = isComponent ? mp.components.length : mp.pages.length;
    mp.require(`${p}.js`);
    const def = isComponent ? mp.components[before] : mp.pages[before];
    assert.ok(def, `${p}.js registers a ${isComponent ? 'Component' : 'Page'}`);
    const wxml = fs.readFileSync(path.join(DEMO, `${p}.wxml`), 'utf8');
    const methods = isComponent ? def.methods || {} : def;
    for (const m of wxml.matchAll(/\b(?:bind|catch|capture-bind|capture-catch|mut-bind):?([\w-]+)="([^"]*)"/g)) {
      assert.equal(typeof methods[m[2]], 'function', `${p}.wxml: ${m[0]} names a handler`);
      checked.push(m[2]);
    }
    const known = new Set(Object.keys(def.data || {}).concat(Object.keys(def.properties || {})));
    for (const name of expressionRoots(wxml)) assert.ok(known.has(name), `${p}.wxml reads {{${name}}}, which its data does not have`);
  }
  assert.ok(checked.length >= 20, `${checked.length} handlers checked`);
});

test('Chinese and English UI text: the same keys, and every key the pages use exists', () => {
  const i18n = require(path.join(DEMO, 'lib', 'i18n.js'));
  const zh = i18n.TABLES.zh;
  const en = i18n.TABLES.en;
  assert.deepEqual(Object.keys(en).sort(), Object.keys(zh).sort());
  for (const [k, v] of Object.entries(zh)) {
    assert.ok(Array.isArray(v) ? v.length === en[k].length : typeof v === 'string' && v && en[k], `text ${k}`);
    if (typeof v === 'string') {
      const vars = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort().join();
      assert.equal(vars(en[k]), vars(v), `${k}: both languages take the same {values}`);
    }
  }
  assert.match(zh.join + zh.broadcaster, /[\u4e00-\u9fff]/, 'Chinese is Chinese');
  const used = new Set();
  for (const f of sources('.wxml').concat(sources('.js'))) {
    const text = fs.readFileSync(path.join(DEMO, f), 'utf8');
    for (const m of text.matchAll(/\bt\.([A-Za-z_]\w*)/g)) used.add(m[1]);
  }
  // Keys built from a prefix: connection states, component phases, task status codes.
  for (const k of ['connecting', 'connected', 'reconnecting', 'background', 'disconnected', 'kicked', 'replaced', 'token_expired', 'closed', 'failed', 'left']) used.add(`conn_${k}`);
  for (const k of ['requesting', 'active', 'failed']) used.add(`phase_${k}`);
  for (const k of [505, 506, 511]) used.add(`task_${k}`);
  for (const k of used) assert.ok(k in zh, `text ${k} is defined`);
});
