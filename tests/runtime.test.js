'use strict';
// Unit tests of the simulated mini-program runtime (tests/runtime/), of the UTF-8 polyfill and of
// the JS shim driven by a throwaway fake core. Run: cd tests && npm ci && node --test runtime.test.js

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');
const { WebSocketServer } = require('ws');
const { createMiniProgram, layoutPackage } = require('./runtime');

const REPO = path.resolve(__dirname, '..');
const SHIM = path.join(REPO, 'js-shim');
const ALL_WABT = {
  exceptions: true, mutable_globals: true, sat_float_to_int: true, sign_extension: true, simd: true,
  threads: true, function_references: true, multi_value: true, tail_call: true, bulk_memory: true,
  reference_types: true, annotations: true, code_metadata: true, gc: true, memory64: true,
  multi_memory: true, extended_const: true, relaxed_simd: true
};

let wabt;
test.before(async () => {
  wabt = await require('wabt')();
});

function wat2wasm(text) {
  const m = wabt.parseWat('t.wat', text, ALL_WABT);
  try {
    return Buffer.from(m.toBinary({}).buffer);
  } finally {
    m.destroy();
  }
}

function tmpRoot(files) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mprtc-rt-'));
  for (const [rel, content] of Object.entries(files || {})) {
    const p = path.join(root, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
  }
  return root;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(cond, what, ms = 3000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

// Runs `body` in a fresh mini-program (and temp root); always closes both.
async function withMp(files, opts, body) {
  const root = tmpRoot(files);
  const mp = createMiniProgram(Object.assign({ root, wasmCheck: false }, opts));
  try {
    return await body(mp, root);
  } finally {
    await mp.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

async function wsServer(onConnection) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss.once('listening', r));
  const conns = [];
  wss.on('connection', (ws, req) => {
    conns.push(ws);
    ws.closeInfo = null;
    ws.received = [];
    ws.on('message', (d, bin) => ws.received.push(bin ? Buffer.from(d) : d.toString()));
    ws.on('close', (code, reason) => (ws.closeInfo = { code, reason: reason.toString() }));
    if (onConnection) onConnection(ws, req);
  });
  return {
    url: `ws://127.0.0.1:${wss.address().port}/ws`,
    conns,
    open: () => conns.filter((c) => c.readyState === 1).length,
    close: () => {
      for (const c of conns) c.terminate();
      return new Promise((r) => wss.close(r));
    }
  };
}

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

// ----------------------------------------------------------------------------------------- sockets
const SOCKET_HELPER = `
  module.exports = function (url, log, opts) {
    var t = wx.connectSocket(Object.assign({ url: url,
      success: function (r) { log.push('success:' + r.errMsg); },
      fail: function (r) { log.push('fail:' + r.errMsg); } }, opts || {}));
    t.onOpen(function (r) { log.push('open:' + typeof r.header); });
    t.onMessage(function (r) { log.push('message:' + (typeof r.data === 'string' ? r.data : 'bin' + r.data.byteLength + ':' + (r.data instanceof ArrayBuffer))); });
    t.onClose(function (r) { log.push('close:' + r.code + ':' + r.reason); });
    t.onError(function (r) { log.push('error:' + r.errMsg); });
    return t;
  };`;

test('wx.connectSocket: real WebSocket with WeChat-shaped SocketTask', async () => {
  const srv = await wsServer((ws) => {
    ws.on('message', (d, bin) => {
      if (bin) ws.send(d, { binary: true });
      else if (d.toString() === 'bye') ws.close(4001, 'server says bye');
      else ws.send('echo:' + d);
    });
  });
  try {
    await withMp({ 's.js': SOCKET_HELPER }, {}, async (mp) => {
      const open = mp.require('s.js');
      const log = [];
      const t = open(srv.url, log, { header: { 'X-Test': '1' }, protocols: [] });
      const early = [];
      t.send({ data: 'too early', fail: (r) => early.push(r.errMsg) });
      await until(() => log.includes('open:object'), 'open');
      assert.match(early[0], /not connected/);
      assert.equal(log[0], 'success:connectSocket:ok');
      assert.equal(mp.sockets, 1);
      const sent = [];
      t.send({ data: 'hi', success: (r) => sent.push(r.errMsg) });
      const ab = mp.evaluate('module.exports = new Uint8Array([1,2,3]).buffer;');
      t.send({ data: ab });
      await until(() => log.includes('message:echo:hi') && log.includes('message:bin3:true'), 'echo');
      assert.deepEqual(sent, ['sendSocketMessage:ok']);
      t.send({ data: 'bye' });
      await until(() => log.some((l) => l.startsWith('close:')), 'close');
      assert.ok(log.includes('close:4001:server says bye'), log.join('\n'));
      assert.equal(mp.sockets, 0);

      const log2 = [];
      const t2 = open(srv.url, log2);
      await until(() => log2.includes('open:object'), 'open 2');
      const badClose = [];
      t2.close({ code: 1006, fail: (r) => badClose.push(r.errMsg) });
      t2.close({ code: 4000, reason: 'client done' });
      await until(() => srv.conns[1].closeInfo, 'server sees close');
      assert.deepEqual(srv.conns[1].closeInfo, { code: 4000, reason: 'client done' });
      await until(() => log2.some((l) => l.startsWith('close:4000')), 'client close');
      assert.match(badClose[0], /1000, or between 3000 and 4999/);
    });
  } finally {
    await srv.close();
  }
});

test('wx.connectSocket: at most 5 at once; the 6th fails via fail + onError; a bad url fails', async () => {
  const srv = await wsServer();
  try {
    await withMp({ 's.js': SOCKET_HELPER }, {}, async (mp) => {
      const open = mp.require('s.js');
      const logs = [];
      const tasks = [];
      for (let i = 0; i < 5; i++) {
        logs.push([]);
        tasks.push(open(srv.url, logs[i]));
      }
      assert.equal(mp.sockets, 5);
      const log6 = [];
      open(srv.url, log6);
      await until(() => log6.length >= 2, '6th socket failure');
      assert.match(log6[0], /^fail:connectSocket:fail .*max/);
      assert.match(log6[1], /^error:connectSocket:fail .*max/);
      await until(() => srv.open() === 5, 'five server connections');
      await sleep(30);
      assert.equal(srv.conns.length, 5);
      tasks[0].close({});
      await until(() => mp.sockets === 4, 'one closed');
      const log7 = [];
      open(srv.url, log7);
      await until(() => log7.includes('open:object'), '7th opens after one closed');
      const logBad = [];
      open('http://127.0.0.1:1/ws', logBad);
      await until(() => logBad.length >= 2, 'bad url');
      assert.match(logBad[0], /fail:connectSocket:fail invalid url/);
    });
  } finally {
    await srv.close();
  }
});

test('wx.connectSocket: refused connection reports onError then onClose', () =>
  withMp({ 's.js': SOCKET_HELPER }, {}, async (mp) => {
    const log = [];
    mp.require('s.js')('ws://127.0.0.1:1/ws', log);
    await until(() => log.some((l) => l.startsWith('close:')), 'close after refusal');
    assert.ok(log.some((l) => l.startsWith('error:')), log.join('\n'));
    assert.equal(mp.sockets, 0);
  }));

test('hideApp closes sockets after the delay and suspends callbacks until showApp', async () => {
  const srv = await wsServer();
  try {
    await withMp({ 's.js': SOCKET_HELPER }, { hideCloseDelayMs: 100 }, async (mp) => {
      const box = mp.evaluate(`
        var box = { events: [] };
        wx.onAppHide(function () { box.events.push('hide'); });
        wx.onAppShow(function (r) { box.events.push('show:' + r.scene); });
        module.exports = box;`);
      const log = [];
      mp.require('s.js')(srv.url, log);
      await until(() => log.includes('open:object'), 'open');
      mp.hideApp();
      assert.deepEqual([...box.events], ['hide']);
      const timerBox = mp.evaluate('var b = {}; setTimeout(function () { b.fired = Date.now(); }, 150); module.exports = b;');
      await until(() => srv.conns[0].closeInfo, 'server sees the socket die');
      assert.equal(mp.sockets, 0);
      assert.equal(mp.suspended, true);
      await sleep(120);
      assert.equal(timerBox.fired, undefined, 'timers are held while suspended');
      assert.ok(!log.some((l) => l.startsWith('close:')), 'onClose is held while suspended');
      const failLog = [];
      mp.require('s.js')(srv.url, failLog);
      mp.showApp();
      await until(() => log.some((l) => l.startsWith('close:')) && timerBox.fired, 'held callbacks after show');
      assert.ok(log.includes('close:1006:interrupted'), log.join('\n'));
      assert.deepEqual([...box.events], ['hide', 'show:1001']);
      await until(() => failLog.length >= 1, 'connect while suspended failed');
      assert.match(failLog[0], /fail:connectSocket:fail interrupted/);
    });
  } finally {
    await srv.close();
  }
});

test('showApp before the delay keeps sockets; offAppHide removes listeners', async () => {
  const srv = await wsServer();
  try {
    await withMp({ 's.js': SOCKET_HELPER }, { hideCloseDelayMs: 80 }, async (mp) => {
      const box = mp.evaluate(`
        var box = { n: 0 };
        function h() { box.n++; }
        wx.onAppHide(h);
        box.off = function () { wx.offAppHide(h); };
        module.exports = box;`);
      const log = [];
      mp.require('s.js')(srv.url, log);
      await until(() => log.includes('open:object'), 'open');
      mp.hideApp();
      await sleep(30);
      mp.showApp();
      await sleep(120);
      assert.equal(mp.sockets, 1);
      assert.equal(srv.open(), 1);
      box.off();
      mp.hideApp();
      mp.showApp();
      assert.equal(box.n, 1);
    });
  } finally {
    await srv.close();
  }
});

// --------------------------------------------------------------------------- text-codec polyfill
test('text-codec polyfill matches the platform UTF-8 codec', () =>
  withMp({ 'tc.js': fs.readFileSync(path.join(SHIM, 'text-codec.js'), 'utf8') }, {}, (mp) => {
    const { TextEncoder: TE, TextDecoder: TD } = mp.require('tc.js');
    const strings = ['', 'hello', 'héllo wörld', '中文频道', '😀 emoji 🎉', 'a\u0000b', '\ud800 lone', 'x\udc00', '\udc00\udc00\ud800',
      '\ud83d\ude00\ud83d', '\u07ff\u0800\uffff', 'x'.repeat(20000) + '中'];
    for (let i = 0; i < 300; i++) {
      let s = '';
      for (let j = 0; j < 20; j++) s += String.fromCharCode(Math.floor(Math.random() * 0x10000));
      strings.push(s);
    }
    const te = new TE();
    for (const s of strings) {
      const ours = Buffer.from(te.encode(s));
      assert.deepEqual(ours, Buffer.from(new TextEncoder().encode(s)), JSON.stringify(s));
      // As the glue decodes: a view into the wasm's memory, BOM kept.
      const mem = new (mp.global.Uint8Array)(ours.length + 8);
      mem.set(ours, 5);
      assert.equal(new TD('utf-8', { ignoreBOM: true }).decode(mem.subarray(5, 5 + ours.length)), new TextDecoder().decode(ours));
    }
    assert.equal(new TD().decode(Buffer.from([0xef, 0xbb, 0xbf, 0x41])), '\ufeffA');
    assert.equal(new TD().decode(new Uint8Array([0x41, 0xe4, 0xb8, 0xad]).buffer), 'A中');
    assert.equal(new TD().decode(), '');
    // The wasm only writes valid UTF-8; anything else is refused, not guessed at.
    for (const bad of [[0xe0, 0x80, 0x80], [0xc3], [0xff, 0x41], [0xed, 0xa0, 0x80]]) {
      assert.throws(() => new TD().decode(Buffer.from(bad)), (e) => e.name === 'TypeError', Buffer.from(bad).toString('hex'));
    }
  }));

// ------------------------------------------------------------------ shim with a throwaway fake core
// A stand-in for the wasm-bindgen glue: WasmClient.call(name, argsJson, now) answers as the real
// bridge does ({ok|err, out, next}), from a fake core whose requests go over the socket as
// {op, method, arg}; the server answers {op, ok, value|error} or pushes {event, data}.
const FAKE_GLUE = `
  var wasm;
  exports.__wbg_set_wasm = function (w) { wasm = w; };
  exports.started = 0;
  exports.__wbg_started = function () { exports.started++; };
  function err(code, msg) { return { code: code, reason: 'fake', message: msg }; }
  function WasmClient() {
    if (!wasm) throw new Error('wasm not set');
    this.core = null;
  }
  WasmClient.prototype.call = function (name, text, now) {
    var args = JSON.parse(text);
    var r = { ok: null };
    try {
      if (name === 'init') this.core = new Core(args[0]);
      else if (typeof this.core[name] === 'function') r.ok = this.core[name].apply(this.core, args.concat([now]));
      if (r.ok === undefined) r.ok = null;
    } catch (e) {
      if (!e || e.reason !== 'fake') throw e;
      r.err = e;
    }
    r.out = this.core ? this.core.out.splice(0) : [];
    r.next = this.core ? this.core.nextDeadline() : null;
    return JSON.stringify(r);
  };
  WasmClient.prototype.free = function () { this.freed = true; };
  function Core(o) {
    if (!o || typeof o.appkey !== 'string' || !o.appkey) throw err('INVALID_PARAMS', 'appkey required');
    this.server = o.server; this.out = []; this.next = 1; this.pending = []; this.open = false; this.queued = []; this.connecting = false;
    this.keys = Object.keys(o).sort().join(',');
  }
  Core.prototype.request = function (method, arg, now) {
    var op = this.next++;
    var frame = JSON.stringify({ op: op, method: method, arg: arg === undefined ? null : arg });
    this.pending.push({ op: op, method: method, deadline: now + (method === 'slow' ? 50 : 5000) });
    if (this.open) this.out.push({ kind: 'send', data: frame });
    else { this.queued.push(frame); if (!this.connecting) { this.connecting = true; this.out.push({ kind: 'connect', url: this.server }); } }
    return op;
  };
  Core.prototype.join = function (p, now) {
    if (!p || typeof p.channelName !== 'string') throw err('INVALID_PARAMS', 'channelName required');
    return this.request(p.channelName === 'slow' ? 'slow' : 'join', p, now);
  };
  Core.prototype.leave = function (now) { return this.request('leave', null, now); };
  Core.prototype.publish = function (m, now) { return this.request('publish', m, now); };
  Core.prototype.unpublish = function (m, now) { return this.request('unpublish', m, now); };
  Core.prototype.subscribe = function (uid, m, now) { return this.request('subscribe', { uid: uid, media: m }, now); };
  Core.prototype.unsubscribe = function (uid, m, now) { return this.request('unsubscribe', { uid: uid, media: m }, now); };
  Core.prototype.setRole = function (r, now) { return this.request('setRole', r, now); };
  Core.prototype.socketOpened = function () {
    this.open = true; this.connecting = false;
    var q = this.queued; this.queued = [];
    for (var i = 0; i < q.length; i++) this.out.push({ kind: 'send', data: q[i] });
    this.out.push({ kind: 'event', name: 'connection-state-change', data: 'CONNECTED' });
  };
  Core.prototype.socketMessage = function (text) {
    var v = JSON.parse(text);
    if (v.event) {
      this.out.push({ kind: 'event', name: v.event, data: v.data });
      if (v.event === 'kick') this.out.push({ kind: 'close', code: 4000, reason: 'kicked' });
      return;
    }
    for (var i = 0; i < this.pending.length; i++) if (this.pending[i].op === v.op) {
      this.pending.splice(i, 1);
      this.out.push(v.ok ? { kind: 'resolve', op: v.op, value: v.value } : { kind: 'reject', op: v.op, error: err('SERVER', v.error) });
      return;
    }
  };
  Core.prototype.socketClosed = function (code, reason) {
    this.open = false; this.connecting = false;
    this.out.push({ kind: 'event', name: 'disconnect', data: { code: code, reason: reason } });
  };
  Core.prototype.socketError = function (m) { this.out.push({ kind: 'event', name: 'socket-error', data: m }); };
  Core.prototype.appHidden = function () { this.out.push({ kind: 'event', name: 'app', data: 'hidden' }); };
  Core.prototype.appShown = function () { this.out.push({ kind: 'event', name: 'app', data: 'shown' }); };
  Core.prototype.tick = function (now) {
    var keep = [];
    for (var i = 0; i < this.pending.length; i++) {
      var p = this.pending[i];
      if (p.deadline <= now) this.out.push({ kind: 'reject', op: p.op, error: err('TIMEOUT', p.method + ' timed out') });
      else keep.push(p);
    }
    this.pending = keep;
  };
  Core.prototype.nextDeadline = function () {
    var d; for (var i = 0; i < this.pending.length; i++) if (d === undefined || this.pending[i].deadline < d) d = this.pending[i].deadline;
    return d === undefined ? null : d;
  };
  exports.WasmClient = WasmClient;`;

const WAT_FAKE_CORE = `(module
  (import "./mprtc_bg.js" "__wbg_started" (func $started))
  (memory (export "memory") 1)
  (func (export "__wbindgen_start") call $started))`;

function fakePkg(extraFiles) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mprtc-fakepkg-'));
  for (const f of fs.readdirSync(SHIM).filter((f) => f.endsWith('.js'))) fs.copyFileSync(path.join(SHIM, f), path.join(dir, f));
  fs.writeFileSync(path.join(dir, 'mprtc_bg.js'), FAKE_GLUE);
  fs.writeFileSync(path.join(dir, 'mprtc_bg.wasm'), wat2wasm(WAT_FAKE_CORE));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'mprtc', main: 'index.js', miniprogram: '.' }));
  for (const [rel, text] of Object.entries(extraFiles || {})) fs.writeFileSync(path.join(dir, rel), text);
  return dir;
}

// Answers {op, method, arg} requests; 'fail' channel is rejected; publish resolves with a URL.
function fakeServerBehaviour(ws) {
  ws.on('message', (d) => {
    const req = JSON.parse(d.toString());
    if (req.method === 'slow') return;
    if (req.method === 'join' && req.arg.channelName === 'fail') return ws.send(JSON.stringify({ op: req.op, ok: false, error: 'no such room' }));
    const value = req.method === 'publish' ? 'rtmp://push/' + (req.arg || 'both') : req.method === 'join' ? { uid: req.arg.uid } : null;
    ws.send(JSON.stringify({ op: req.op, ok: true, value }));
    if (req.method === 'join') ws.send(JSON.stringify({ event: 'peer-online', data: { uid: 7 } }));
  });
}

for (const shape of ['pair', 'instance']) {
  test(`shim + fake core: load, join/publish/leave, events, errors, shape '${shape}'`, async () => {
    const srv = await wsServer(fakeServerBehaviour);
    const pkgDir = fakePkg();
    const { root, cleanup } = layoutPackage({ pkgDir });
    const logged = [];
    const quiet = Object.assign(Object.create(console), { error: (...a) => logged.push(a.map(String).join(' ')) });
    const mp = createMiniProgram({ root, instantiateShape: shape, wasmCheck: false, console: quiet });
    try {
      const SDK = mp.require('miniprogram_npm/mprtc/index.js');
      assert.equal(SDK.default, SDK);
      assert.equal(mp.require('mprtc'), SDK);
      const client = SDK.Client({ appkey: 'k', server: srv.url, wasmPath: 'ignored-later.wasm' });
      SDK.setWasmPath('/miniprogram_npm/mprtc/mprtc_bg.wasm');
      assert.equal(client instanceof SDK.Client, true, 'callable without new');
      const events = [];
      client.on('peer-online', (d) => events.push(['peer-online', d.uid]));
      client.on('peer-online', () => {
        throw new Error('listener bug');
      });
      client.on('connection-state-change', (d) => events.push(['state', d]));
      client.on('disconnect', (d) => events.push(['disconnect', d.code, d.reason]));
      await client.init();
      const bg = mp.require('miniprogram_npm/mprtc/mprtc_bg.js');
      assert.equal(bg.started, 1, '__wbindgen_start ran once');
      assert.deepEqual({ ...(await client.join({ channelName: 'room', uid: 5 })) }, { uid: 5 });
      assert.equal(await client.publish('video'), 'rtmp://push/video');
      assert.equal(await client.publish(), 'rtmp://push/both');
      await until(() => events.some((e) => e[0] === 'peer-online'), 'event');
      assert.deepEqual(events.slice(0, 2), [['state', 'CONNECTED'], ['peer-online', 7]]);
      assert.equal(srv.conns.length, 1, 'one socket for all calls');
      assert.equal(srv.conns[0].received.length, 3);
      assert.ok(logged.some((l) => /listener for "peer-online" threw.*listener bug/.test(l)), 'listener error logged');
      assert.deepEqual(JSON.parse(srv.conns[0].received[0]), { op: 1, method: 'join', arg: { channelName: 'room', uid: 5 } });

      await assert.rejects(client.join({ channelName: 'fail', uid: 1 }), (e) => e.code === 'SERVER' && /no such room/.test(e.message));
      await assert.rejects(client.join({}), (e) => e.code === 'INVALID_PARAMS', 'sync throw becomes a rejection');
      const t0 = Date.now();
      await assert.rejects(client.join({ channelName: 'slow', uid: 1 }), (e) => e.code === 'TIMEOUT');
      assert.ok(Date.now() - t0 >= 45, 'deadline timer fired at nextDeadline');

      assert.equal(SDK.Client({ appkey: 'k2', server: srv.url }), client, 'one client per mini-program, as NetEase has it');
      assert.equal(new SDK.Client({}), client, 'with new too');

      srv.conns[0].send(JSON.stringify({ event: 'kick', data: {} }));
      await until(() => events.some((e) => e[0] === 'disconnect'), 'kick closes the socket');
      assert.deepEqual(events.find((e) => e[0] === 'disconnect'), ['disconnect', 4000, 'kicked']);
      assert.deepEqual(srv.conns[0].closeInfo, { code: 4000, reason: 'kicked' });

      assert.equal(await client.leave(), null, 'core reconnects through a new socket');
      assert.equal(srv.conns.length, 2);
      const pending = client.join({ channelName: 'slow', uid: 2 });
      client.destroy();
      await assert.rejects(pending, (e) => e.code === 1007);
      await assert.rejects(client.leave(), (e) => e.code === 1007);
      await until(() => mp.sockets === 0, 'destroy closes the socket');
      // Once destroyed, Client makes a new one (its options are checked by the core).
      const fresh = SDK.Client({});
      assert.notEqual(fresh, client);
      await assert.rejects(fresh.init(), (e) => e.code === 'INVALID_PARAMS');
      assert.equal(bg.started, 1, 'wasm loaded once for all clients');
      SDK.destroy();
      assert.equal(mp.errors.length, 0, mp.errors.map(String).join('\n'));
    } finally {
      await mp.close();
      cleanup();
      fs.rmSync(pkgDir, { recursive: true, force: true });
      await srv.close();
    }
  });
}

test('shim forwards app hide/show to the core when it has appHidden/appShown', async () => {
  const srv = await wsServer(fakeServerBehaviour);
  const pkgDir = fakePkg();
  const { root, cleanup } = layoutPackage({ pkgDir, link: true });
  const mp = createMiniProgram({ root, wasmCheck: false });
  try {
    const SDK = mp.require('mprtc');
    const c = SDK.Client({ appkey: 'k', server: srv.url });
    const seen = [];
    c.on('app', (d) => seen.push(d));
    await c.init();
    mp.hideApp();
    mp.showApp();
    assert.deepEqual(seen, ['hidden', 'shown']);
    c.destroy();
    mp.hideApp();
    mp.showApp();
    assert.deepEqual(seen, ['hidden', 'shown'], 'unhooked on destroy');
  } finally {
    await mp.close();
    cleanup();
    fs.rmSync(pkgDir, { recursive: true, force: true });
    await srv.close();
  }
});

test('shim: a bad wasm path rejects init with the runtime error, and a later fixed path works', async () => {
  const pkgDir = fakePkg();
  const { root, cleanup } = layoutPackage({ pkgDir });
  const mp = createMiniProgram({ root, wasmCheck: false });
  try {
    const SDK = mp.require('mprtc');
    await assert.rejects(SDK.Client({ appkey: 'k', wasmPath: 'nope/mprtc_bg.wasm' }).init(), /not found/);
    SDK.setWasmPath('miniprogram_npm/mprtc/mprtc_bg.wasm');
    await SDK.Client({ appkey: 'k' }).init();
  } finally {
    await mp.close();
    cleanup();
    fs.rmSync(pkgDir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------- the real pkg/, when it has been built
const PKG = process.env.MPRTC_PKG_DIR ? path.resolve(process.env.MPRTC_PKG_DIR) : path.join(REPO, 'pkg');
const havePkg = fs.existsSync(path.join(PKG, 'mprtc_bg.wasm'));
for (const shape of ['pair', 'instance']) {
  test(`built pkg/ loads in the strict runtime, shape '${shape}'`, { skip: !havePkg && 'pkg/ not built (scripts/build-pkg)' }, async () => {
    const { root, cleanup } = layoutPackage({ pkgDir: PKG });
    const mp = createMiniProgram({ root, instantiateShape: shape });
    try {
      const SDK = mp.require('mprtc');
      const client = SDK.Client({ appkey: 'test-app', server: 'ws://127.0.0.1:1/ws' });
      await client.init();
      client.destroy();
      await assert.rejects(SDK.Client({}).init(), (e) => typeof e.code === 'string' || typeof e.code === 'number');
      assert.equal(mp.errors.length, 0);
    } finally {
      await mp.close();
      cleanup();
    }
  });
}

// ------------------------------------------------------------------ syntax level of shipped JS
// Nothing newer than ES2017 (old iOS JavaScriptCore): esbuild must have nothing to lower.
test('js-shim (and the built pkg/index.js, glue included) use no syntax newer than ES2017', () => {
  const esbuild = require('esbuild');
  const files = fs.readdirSync(SHIM).filter((f) => f.endsWith('.js')).map((f) => path.join(SHIM, f));
  if (havePkg) files.push(path.join(PKG, 'index.js'));
  for (const f of files) {
    const code = fs.readFileSync(f, 'utf8');
    const as = (target) => esbuild.transformSync(code, { target, loader: 'js', supported: { bigint: true } }).code;
    assert.equal(as('es2017'), as('esnext'), `${path.relative(REPO, f)} needs lowering for es2017`);
  }
  assert.notEqual(
    esbuild.transformSync('var a = b?.c;', { target: 'es2017' }).code,
    esbuild.transformSync('var a = b?.c;', { target: 'esnext' }).code,
    'the check detects optional chaining'
  );
});
