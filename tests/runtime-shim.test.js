'use strict';
// The JS shim driven by a throwaway fake core, the built pkg/ in the strict runtime, and the
// syntax level of the shipped JS. Run: cd tests && node --test runtime-shim.test.js

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { createMiniProgram, layoutPackage } = require('./runtime');
const { REPO, SHIM, loadWabt, wat2wasm, until, wsServer } = require('./runtime-support');

test.before(loadWabt);
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
