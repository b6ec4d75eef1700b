'use strict';
// pkg/ as a package mini-programs install, and the demo as WeChat's tools build it, offline:
// npm pack + npm install + 构建npm (miniprogram-ci packNpm) keep the wasm where the SDK looks
// for it; a hand copy works with wasmPath, a .wasm.br too; miniprogram-ci compiles the demo with
// the SDK built in, every compiled JS file parses as a CommonJS module body, and every package
// stays under WeChat's 2 MB (the SDK's share is printed).

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const vm = require('node:vm');
const zlib = require('node:zlib');
const { execFileSync } = require('node:child_process');
const { WRAPPER_PARAMS } = require('./runtime');
const { createHost, waitData } = require('./e2e/page-host');
// The console of each mini-program is watched as in the e2e suites: a swallowed error fails.
const { miniProgram } = require('./e2e/mp');
const wechat = require('./wechat-ci');
const { writeWasmBr } = require('../scripts/wasm-br');

const PKG = wechat.PKG;
const MB2 = 2 * 1024 * 1024;
// What WeChat keeps of a package (miniprogram-ci's extension whitelist, the part that matters here).
const SHIPPED = /\.(js|json|wasm|br|wxml|wxss)$/;

function tmp(t, prefix) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

function write(root, files) {
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  }
}

/** A one-page mini-program whose page loads the SDK from `sdk` (a require path) and says how it went. */
function fixtureFiles(sdk, before) {
  return {
    'project.config.json': JSON.stringify({ miniprogramRoot: './', compileType: 'miniprogram', appid: 'touristappid', setting: { es6: true } }),
    'app.json': JSON.stringify({ pages: ['pages/index/index'] }),
    'app.js': 'App({});\n',
    'pages/index/index.json': '{}\n',
    'pages/index/index.wxml': '<view>{{state}}</view>\n',
    'pages/index/index.js': `var SDK = require('${sdk}');
Page({
  data: { state: 'loading', code: 0, message: '' },
  onLoad: function () {
    var self = this;
    ${before || ''}
    SDK.Client({ appkey: 'demo', server: 'ws://127.0.0.1:9/ws' }).init().then(function () {
      self.setData({ state: 'loaded' });
    }, function (e) {
      self.setData({ state: 'failed', code: e.code, message: e.message });
    });
  }
});
`,
  };
}

/** Runs the fixture's page in the simulated runtime; resolves with its data once settled. */
async function runFixture(t, root) {
  const mp = miniProgram(t, { root, name: 'fixture' });
  const page = createHost(mp).launch();
  return waitData(page, (d) => d.state !== 'loading', 'the SDK loaded or failed', 15000);
}

const pkgFiles = () => wechat.listFiles(PKG).filter((f) => SHIPPED.test(f));

test('pkg/package.json makes pkg/ a mini-program npm package', () => {
  const meta = JSON.parse(fs.readFileSync(path.join(PKG, 'package.json'), 'utf8'));
  assert.equal(meta.name, 'mprtc');
  assert.equal(meta.main, 'index.js');
  assert.equal(meta.types, 'index.d.ts');
  // 构建npm copies the folder "miniprogram" names whole; pkg/ itself is that folder.
  assert.equal(meta.miniprogram, '.');
  assert.equal(meta.license, 'MIT OR Apache-2.0');
  assert.ok(fs.existsSync(path.join(PKG, meta.main)) && fs.existsSync(path.join(PKG, 'mprtc_bg.wasm.br')));
  // The plain .wasm is not shipped next to it: WeChat would count both.
  assert.ok(!fs.existsSync(path.join(PKG, 'mprtc_bg.wasm')), 'pkg/ ships the .wasm.br only');
});

test('npm pack, npm install and 构建npm keep the wasm where the SDK loads it from', async (t) => {
  const work = tmp(t, 'mprtc-npm-');
  const packed = JSON.parse(execFileSync('npm', ['pack', PKG, '--json', '--pack-destination', work], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  const inTarball = packed[0].files.map((f) => f.path).sort();
  for (const f of pkgFiles()) assert.ok(inTarball.includes(f), `${f} is in the npm tarball`);
  assert.ok(['index.d.ts', 'reports.d.ts', 'zego-engine.d.ts'].every((f) => inTarball.includes(f)) && inTarball.includes('LICENSE-MIT') && inTarball.includes('LICENSE-APACHE'));

  // The fixture installs the tarball as an app installs a published version.
  const project = path.join(work, 'project');
  write(project, fixtureFiles('mprtc'));
  write(project, { 'package.json': JSON.stringify({ name: 'fixture', private: true, dependencies: { mprtc: `file:${path.join(work, packed[0].filename)}` } }) });
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: project, stdio: 'ignore' });
  assert.ok(fs.existsSync(path.join(project, 'node_modules', 'mprtc', 'mprtc_bg.wasm.br')));

  const r = await wechat.packNpm(project);
  assert.deepEqual(r.warnings, [], 'packNpm warnings');
  const built = path.join(project, 'miniprogram_npm', 'mprtc');
  for (const f of pkgFiles()) {
    assert.ok(fs.existsSync(path.join(built, f)), `miniprogram_npm/mprtc/${f} exists`);
    assert.ok(fs.readFileSync(path.join(built, f)).equals(fs.readFileSync(path.join(PKG, f))), `miniprogram_npm/mprtc/${f} is pkg/${f} unchanged`);
  }
  // The SDK's default wasm path is right for a package 构建npm put there.
  const data = await runFixture(t, project);
  assert.equal(data.state, 'loaded', `${data.code} ${data.message}`);
});

test('copied into a project instead, the SDK loads with wasmPath, from the .wasm.br or a plain .wasm', async (t) => {
  const root = tmp(t, 'mprtc-copy-');
  const lib = path.join(root, 'libs', 'mprtc');
  fs.mkdirSync(lib, { recursive: true });
  for (const f of pkgFiles()) {
    fs.mkdirSync(path.dirname(path.join(lib, f)), { recursive: true });
    fs.copyFileSync(path.join(PKG, f), path.join(lib, f));
  }
  write(root, fixtureFiles('../../libs/mprtc/index.js'));

  // Without a path it looks in miniprogram_npm/ and says so.
  let data = await runFixture(t, root);
  assert.equal(data.state, 'failed');
  assert.equal(data.code, 1008);
  assert.match(data.message, /miniprogram_npm\/mprtc\/mprtc_bg\.wasm\.br/);

  write(root, fixtureFiles('../../libs/mprtc/index.js', "SDK.setWasmPath('libs/mprtc/mprtc_bg.wasm.br');"));
  data = await runFixture(t, root);
  assert.equal(data.state, 'loaded', `${data.code} ${data.message}`);

  // The plain .wasm instead (what a MPRTC_WASM_PLAIN=1 build ships, for base libraries before
  // 2.14.0): the .wasm.br decompressed, which loads the same.
  const br = path.join(lib, 'mprtc_bg.wasm.br');
  const plain = path.join(lib, 'mprtc_bg.wasm');
  fs.writeFileSync(plain, zlib.brotliDecompressSync(fs.readFileSync(br)));
  fs.rmSync(br);
  write(root, fixtureFiles('../../libs/mprtc/index.js', "SDK.setWasmPath('libs/mprtc/mprtc_bg.wasm');"));
  data = await runFixture(t, root);
  assert.equal(data.state, 'loaded', `${data.code} ${data.message}`);
  // scripts/wasm-br.js, which build-pkg writes the .wasm.br with, gives back the same bytes.
  writeWasmBr(plain, br);
  fs.rmSync(plain);
  // And the core in it works: it answers a call with its own typed error.
  const mp = miniProgram(t, { root, name: 'br' });
  const SDK = mp.require('libs/mprtc/index.js');
  SDK.setWasmPath('libs/mprtc/mprtc_bg.wasm.br');
  const c = SDK.Client({ appkey: 'demo', server: 'ws://127.0.0.1:9/ws' });
  await assert.rejects(c.join({ uid: 1 }), (e) => e.code === 1001 && e.reason === 'invalid_argument');
  t.diagnostic(`mprtc_bg.wasm.br: ${fs.statSync(br).size} B (the .wasm: ${zlib.brotliDecompressSync(fs.readFileSync(br)).length} B)`);
});

test('miniprogram-ci compiles the demo with the SDK built in; every package is under 2 MB', async (t) => {
  const project = wechat.prepareProject(path.join(wechat.REPO, 'miniprogram-demo'));
  t.after(() => project.cleanup());
  await wechat.packNpm(project.dir);
  const out = path.join(tmp(t, 'mprtc-compiled-'), 'dist');
  const r = await wechat.compile(project.dir, out);
  const files = new Map(r.files.map((f) => [f.path, f.size]));

  // Every page and component of app.json, and the SDK from pkg/ (what 构建npm put there).
  const appJson = JSON.parse(fs.readFileSync(path.join(out, 'app.json'), 'utf8'));
  const subpackages = appJson.subPackages || [];
  const pages = appJson.pages.concat(...subpackages.map((s) => s.pages.map((p) => path.posix.join(s.root, p))));
  for (const p of pages.concat(['components/stream-tile/stream-tile'])) {
    for (const ext of ['.js', '.json', '.wxml', '.wxss']) assert.ok(files.has(p + ext), `compiled ${p}${ext}`);
  }
  for (const f of pkgFiles()) {
    assert.ok(files.has(`miniprogram_npm/mprtc/${f}`), `the SDK's ${f} is in the package`);
  }
  assert.ok(fs.readFileSync(path.join(out, 'miniprogram_npm/mprtc/mprtc_bg.wasm.br')).equals(fs.readFileSync(path.join(PKG, 'mprtc_bg.wasm.br'))), 'the wasm is pkg/\'s, byte for byte');
  // What WeChat would not ship is not there (the declarations, READMEs, licence texts).
  for (const f of files.keys()) assert.ok(SHIPPED.test(f) || /\.(wxml|wxss)$/.test(f), `${f} should not be in the package`);

  // The compiled JS is what runs: each file must parse inside WeChat's module wrapper.
  const js = [...files.keys()].filter((f) => f.endsWith('.js'));
  assert.ok(js.length >= 15, `${js.length} compiled JS files`);
  for (const f of js) {
    const code = fs.readFileSync(path.join(out, f), 'utf8');
    assert.doesNotThrow(() => new vm.Script(`(function (${WRAPPER_PARAMS.join(', ')}) {${code}\n})`, { filename: f }), `${f} parses as a CommonJS module body`);
  }

  // Package sizes: a subpackage is everything under its root; the main package is the rest.
  const roots = subpackages.map((s) => s.root.replace(/\/?$/, '/'));
  const sizes = new Map([['main package', 0]].concat(roots.map((root) => [root, 0])));
  let sdk = 0;
  for (const [f, size] of files) {
    const root = roots.find((x) => f.startsWith(x));
    sizes.set(root || 'main package', sizes.get(root || 'main package') + size);
    if (f.startsWith('miniprogram_npm/mprtc/')) sdk += size;
  }
  const total = [...sizes.values()].reduce((a, b) => a + b, 0);
  for (const [name, size] of sizes) {
    const share = name === 'main package' ? `, of which the SDK (miniprogram_npm/mprtc) ${sdk} B = ${((100 * sdk) / size).toFixed(1)}%` : '';
    t.diagnostic(`${name}: ${size} B of ${MB2} B (${((100 * size) / MB2).toFixed(1)}%)${share}`);
    assert.ok(size <= MB2, `${name} is ${size} B, over WeChat's 2 MB`);
  }
  for (const f of [...files.keys()].filter((f) => f.startsWith('miniprogram_npm/mprtc/')).sort()) t.diagnostic(`  ${f}: ${files.get(f)} B`);
  t.diagnostic(`all packages: ${total} B; compile took ${r.ms} ms`);
  assert.ok(total <= 30 * 1024 * 1024);
});
