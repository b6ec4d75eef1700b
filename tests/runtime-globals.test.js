'use strict';
// The simulated mini-program runtime (tests/runtime/): its globals, require, timers and
// WXWebAssembly. Run: cd tests && node --test runtime-globals.test.js

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const { REPO, loadWabt, wat2wasm, sleep, until, withMp } = require('./runtime-support');

test.before(loadWabt);
// ---------------------------------------------------------------------------------------- globals
test('logic-layer globals: web/node globals absent, mini-program globals present', () =>
  withMp({}, {}, (mp) => {
    const absent = ['WebAssembly', 'TextEncoder', 'TextDecoder', 'fetch', 'URL', 'URLSearchParams',
      'queueMicrotask', 'crypto', 'atob', 'btoa', 'performance', 'process', 'Buffer', 'setImmediate',
      'structuredClone', 'global'];
    const present = ['wx', 'WXWebAssembly', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval',
      'console', 'globalThis', 'getApp', 'Page', 'Component', 'App'];
    const seen = mp.evaluate(
      `module.exports = {
        absent: ${JSON.stringify(absent)}.filter(function (n) { return typeof globalThis[n] !== 'undefined'; }),
        present: ${JSON.stringify(present)}.filter(function (n) { return typeof globalThis[n] === 'undefined'; }),
        requireIsLocal: typeof require === 'function' && typeof globalThis.require === 'undefined'
      };`
    );
    assert.deepEqual([...seen.absent], []);
    assert.deepEqual([...seen.present], []);
    assert.equal(seen.requireIsLocal, true);
  }));

test('module wrapper: window/self/document/WebSocket... are undefined parameters', () =>
  withMp({ 'a.js': 'module.exports = [typeof window, typeof self, typeof document, typeof WebSocket, typeof XMLHttpRequest, typeof navigator, typeof location, typeof WeixinJSCore, typeof exports, typeof module];' }, {}, (mp) => {
    assert.deepEqual([...mp.require('a.js')], [
      'undefined', 'undefined', 'undefined', 'undefined', 'undefined', 'undefined', 'undefined', 'undefined', 'object', 'object'
    ]);
  }));

test('a module using TextEncoder throws ReferenceError', () =>
  withMp({ 'te.js': 'module.exports = new TextEncoder().encode("x");' }, {}, (mp) => {
    assert.throws(() => mp.require('te.js'), (e) => e.name === 'ReferenceError' && /TextEncoder/.test(e.message));
  }));

test('ES module syntax fails to load: import, export, import.meta', () =>
  withMp({
    'imp.js': 'import x from "./b.js";\n',
    'exp.js': 'export const a = 1;\n',
    'meta.js': 'module.exports = import.meta.url;\n',
    'await.js': 'await 1;\n'
  }, {}, (mp) => {
    for (const f of ['imp.js', 'exp.js', 'meta.js', 'await.js']) {
      assert.throws(() => mp.require(f), (e) => e.name === 'SyntaxError', f);
    }
  }));

test('no code generation from strings (eval / new Function)', () =>
  withMp({ 'ev.js': 'module.exports = eval("1 + 1");', 'fn.js': 'module.exports = new Function("return 1")();' }, {}, (mp) => {
    assert.throws(() => mp.require('ev.js'), (e) => e.name === 'EvalError');
    assert.throws(() => mp.require('fn.js'), (e) => e.name === 'EvalError');
  }));

test('require: relative paths, optional .js, miniprogram_npm packages, cycles; nothing outside root', () =>
  withMp({
    'pages/index/index.js': `
      var u = require('../../utils/util');
      var pkg = require('dep');
      var sub = require('dep/lib/sub.js');
      module.exports = { u: u.name, pkg: pkg.name, sub: sub.name, cyc: require('./c1.js').done };`,
    'pages/index/c1.js': 'exports.done = false; require("./c2.js"); exports.done = true;',
    'pages/index/c2.js': 'var c1 = require("./c1.js"); exports.seenPartial = c1.done === false;',
    'utils/util.js': 'exports.name = "util";',
    'miniprogram_npm/dep/package.json': JSON.stringify({ name: 'dep', main: 'lib/main.js' }),
    'miniprogram_npm/dep/lib/main.js': 'exports.name = "dep";',
    'miniprogram_npm/dep/lib/sub.js': 'exports.name = "sub";',
    'bad/escape.js': 'require("../../outside.js");',
    'bad/builtin.js': 'require("fs");',
    'bad/absolute.js': 'require("/utils/util.js");',
    'bad/missing.js': 'require("./nope.js");'
  }, {}, (mp, root) => {
    fs.writeFileSync(path.join(path.dirname(root), 'outside.js'), 'module.exports = 1;');
    try {
      assert.deepEqual({ ...mp.require('pages/index/index.js') }, { u: 'util', pkg: 'dep', sub: 'sub', cyc: true });
      assert.equal(mp.require('pages/index/c2.js').seenPartial, true);
      assert.equal(mp.require('dep').name, 'dep', 'harness require accepts a package name');
      assert.equal(mp.require('pages/index/index.js'), mp.require('/pages/index/index'), 'one module instance');
      for (const f of ['escape', 'builtin', 'absolute', 'missing']) {
        assert.throws(() => mp.require(`bad/${f}.js`), /is not defined|absolute/, f);
      }
    } finally {
      fs.rmSync(path.join(path.dirname(root), 'outside.js'));
    }
  }));

test('App/Page/Component/getApp minimal', () =>
  withMp({ 'app.js': 'App({ globalData: { n: 1 }, onLaunch: function () { this.launched = true; } }); Page({ a: 1 }); Component({ b: 2 });' }, {}, (mp) => {
    assert.equal(mp.evaluate('module.exports = { t: typeof getApp() };').t, 'undefined');
    mp.require('app.js');
    assert.equal(mp.evaluate('module.exports = { n: getApp().globalData.n };').n, 1);
    assert.equal(mp.app.launched, true);
    assert.equal(mp.pages.length, 1);
    assert.equal(mp.components.length, 1);
  }));

test('wx.getSystemInfoSync is minimal but present', () =>
  withMp({}, { systemInfo: { platform: 'ios' } }, (mp) => {
    const info = mp.evaluate('module.exports = wx.getSystemInfoSync();');
    assert.equal(info.platform, 'ios');
    assert.equal(typeof info.SDKVersion, 'string');
    assert.equal(typeof info.windowWidth, 'number');
  }));

test('timers return numbers and survive throwing callbacks', () =>
  withMp({}, { onError: () => {} }, async (mp) => {
    const box = mp.evaluate(`
      var box = { ticks: 0 };
      box.id = setTimeout(function () { throw new Error('boom'); }, 1);
      var iv = setInterval(function () { if (++box.ticks === 3) clearInterval(iv); }, 1);
      var never = setTimeout(function () { box.never = true; }, 5);
      clearTimeout(never);
      module.exports = box;`);
    assert.equal(typeof box.id, 'number');
    await until(() => box.ticks === 3 && mp.errors.length === 1, 'timers');
    await sleep(20);
    assert.equal(box.ticks, 3);
    assert.equal(box.never, undefined);
    assert.match(mp.errors[0].message, /boom/);
  }));

test('holdTimers holds timer callbacks until releaseTimers, in order', () =>
  withMp({}, {}, async (mp) => {
    mp.holdTimers();
    const box = mp.evaluate(`
      var box = { seen: [] };
      setTimeout(function () { box.seen.push('a'); }, 1);
      setTimeout(function () { box.seen.push('b'); }, 2);
      module.exports = box;`);
    await until(() => mp.heldTimers === 2, 'both timers due and held');
    assert.deepEqual([...box.seen], []);
    mp.releaseTimers();
    assert.deepEqual([...box.seen], ['a', 'b']);
    assert.equal(mp.heldTimers, 0);
  }));

// ---------------------------------------------------------------------------------- WXWebAssembly
const WAT_MVP = `(module
  (import "./x_bg.js" "hello" (func $hello (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "run") (param i32) (result i32) local.get 0 call $hello i32.const 1 i32.add))`;
const WAT_SIGN_EXT = '(module (func (export "s") (param i32) (result i32) local.get 0 i32.extend8_s))';
const WAT_MUT_GLOBAL = '(module (import "env" "g" (global (mut i32))) (func (export "f") (result i32) global.get 0))';
const WAT_BULK = '(module (memory 1) (func (export "cp") (param i32 i32 i32) local.get 0 local.get 1 local.get 2 memory.copy))';
const WAT_SAT = '(module (func (export "t") (param f64) (result i32) local.get 0 i32.trunc_sat_f64_u))';
const WAT_MULTI = '(module (func (export "m") (result i32 i32) i32.const 1 i32.const 2))';
const WAT_GLOBAL_EXPORT = '(module (global $g i32 (i32.const 1)) (export "__abort_handler" (global $g)))';

function wasmFiles() {
  return {
    'wasm/mvp.wasm': wat2wasm(WAT_MVP),
    'wasm/mvp_br.wasm.br': zlib.brotliCompressSync(wat2wasm(WAT_MVP)),
    'wasm/signext.wasm': wat2wasm(WAT_SIGN_EXT),
    'wasm/mutglobal.wasm': wat2wasm(WAT_MUT_GLOBAL),
    'wasm/bulk.wasm': wat2wasm(WAT_BULK),
    'wasm/sat.wasm': wat2wasm(WAT_SAT),
    'wasm/multi.wasm': wat2wasm(WAT_MULTI),
    'wasm/global.wasm': wat2wasm(WAT_GLOBAL_EXPORT),
    'wasm/loader.js': `
      module.exports = function (p, imports) {
        return WXWebAssembly.instantiate(p, imports).then(function (res) {
          var inst = res && res.instance ? res.instance : res;
          return { shape: res && res.instance ? 'pair' : 'instance', exports: inst.exports,
                   isInstance: inst instanceof WXWebAssembly.Instance };
        });
      };`
  };
}

for (const shape of ['pair', 'instance']) {
  test(`WXWebAssembly.instantiate(path) loads MVP/sign-ext/mutable-global modules, shape '${shape}'`, () =>
    withMp(wasmFiles(), { instantiateShape: shape }, async (mp) => {
      const load = mp.require('wasm/loader.js');
      const imports = { './x_bg.js': { hello: (x) => x * 10 } };
      for (const p of ['wasm/mvp.wasm', '/wasm/mvp.wasm', 'wasm/mvp_br.wasm.br']) {
        const r = await load(p, imports);
        assert.equal(r.shape, shape, p);
        assert.equal(r.isInstance, true);
        assert.equal(r.exports.run(4), 41, p);
      }
      assert.equal((await load('wasm/signext.wasm')).exports.s(0xff), -1);
      const g = new (mp.evaluate('module.exports = WXWebAssembly.Global;'))({ value: 'i32', mutable: true }, 7);
      assert.equal((await load('wasm/mutglobal.wasm', { env: { g } })).exports.f(), 7);
    }));
}

test('WXWebAssembly.instantiate rejects bytes, URLs, foreign paths and non-wasm files', () =>
  withMp(wasmFiles(), {}, async (mp) => {
    const load = mp.require('wasm/loader.js');
    const bytes = wat2wasm(WAT_MVP);
    const ab = mp.evaluate('module.exports = function (n) { return new ArrayBuffer(n); };')(bytes.length);
    new (mp.global.Uint8Array)(ab).set(bytes);
    const cases = [
      [ab, /path string, got ArrayBuffer/],
      [new (mp.global.Uint8Array)(ab), /path string, got Uint8Array/],
      ['http://example.com/x.wasm', /not support wxfile: or http: path/],
      ['https://example.com/x.wasm', /not support wxfile: or http: path/],
      ['wxfile://usr/x.wasm', /not support wxfile: or http: path/],
      ['wasm/none.wasm', /not found/],
      ['../../etc/x.wasm', /not found/],
      ['wasm/loader.js', /not a \.wasm/]
    ];
    for (const [arg, re] of cases) {
      await assert.rejects(load(arg, {}), (e) => e instanceof WebAssembly.CompileError && re.test(e.message), String(arg));
    }
    assert.equal(typeof mp.evaluate('module.exports = WXWebAssembly.compile;'), 'undefined');
    assert.throws(() => mp.evaluate('module.exports = new WXWebAssembly.Module(new Uint8Array(8));'), /not supported/);
  }));

test('WXWebAssembly refuses bulk-memory, non-trapping fptoint, multi-value and Global exports', () =>
  withMp(wasmFiles(), {}, async (mp) => {
    const load = mp.require('wasm/loader.js');
    for (const f of ['bulk', 'sat', 'multi']) {
      await assert.rejects(load(`wasm/${f}.wasm`, {}), (e) => e instanceof WebAssembly.CompileError && /features outside/.test(e.message), f);
    }
    await assert.rejects(load('wasm/global.wasm', {}), (e) => e instanceof WebAssembly.LinkError && /__abort_handler/.test(e.message));
  }));

const WASM_CHECK = process.env.MPRTC_WASM_CHECK || path.join(REPO, 'target', 'release', 'wasm-check');
test('tools/wasm-check as second validator (when built)', { skip: !fs.existsSync(WASM_CHECK) && 'target/release/wasm-check not built' }, () =>
  withMp(wasmFiles(), { wasmCheck: WASM_CHECK }, async (mp) => {
    const load = mp.require('wasm/loader.js');
    assert.equal((await load('wasm/signext.wasm')).exports.s(0x80), -128);
    await assert.rejects(load('wasm/bulk.wasm', {}), /outside MVP/);
  }));
