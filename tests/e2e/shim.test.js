'use strict';
// The shim's own behaviours, through the built pkg/ against a real server: what the shim does
// around the core (listeners, destroy, loading the wasm, the wasm path) rather than what the core
// decides. These replaced tests against an invented core and server.

const test = require('node:test');
const assert = require('node:assert/strict');
const { types } = require('node:util');
const { startServer, nextEvent } = require('./support');
const { startProxy } = require('./proxy');
const { miniProgram, waitFor } = require('./mp');

async function server(t) {
  const s = await startServer();
  t.after(() => s.stop());
  return s;
}

test('a listener that throws is logged and the other listeners of the event still run', async (t) => {
  const s = await server(t);
  const mpA = miniProgram(t, { name: 'A' });
  const a = mpA.require('mprtc').Client({ appkey: 'demo', server: s.endpoints.signal });
  const b = miniProgram(t, { name: 'B' }).require('mprtc').Client({ appkey: 'demo', server: s.endpoints.signal });
  const calls = [];
  a.on('clientJoin', (d) => calls.push(['first', d.uid]));
  a.on('clientJoin', () => {
    calls.push(['throws']);
    throw new Error('a bug in the app');
  });
  a.on('clientJoin', (d) => calls.push(['last', d.uid]));
  mpA.expectLog(/^\[mprtc\] listener for "clientJoin" threw a bug in the app/);
  await a.join({ channelName: 'listeners', uid: 1 });
  const heard = nextEvent(a, 'clientJoin');
  await b.join({ channelName: 'listeners', uid: 2 });
  await heard;
  assert.deepEqual(calls, [['first', 2], ['throws'], ['last', 2]]);
  // The throw did not reach the core's output loop: the client goes on.
  assert.match(await a.publish(), /^rtmp:/);
  assert.equal(mpA.errors.length, 0, 'nothing escaped into the mini-program');
  await Promise.all([a.leave(), b.leave()]);
});

test('destroy rejects every pending call with 1007 and later calls too', async (t) => {
  const s = await server(t);
  const proxy = await startProxy(Number(new URL(s.endpoints.signal).port));
  t.after(() => proxy.close());
  const mp = miniProgram(t);
  const SDK = mp.require('mprtc');
  const a = SDK.Client({ appkey: 'demo', server: `ws://127.0.0.1:${proxy.port}/ws`, requestTimeout: 60000 });
  await a.join({ channelName: 'destroy', uid: 1 });
  // The path goes dead: the calls stay pending (their timeout is a minute away).
  proxy.stall();
  const pending = [a.setRole('audience'), a.publish()];
  // The requests were lost on the way; the path works again for the close that destroy sends.
  proxy.unstall();
  a.destroy();
  for (const p of pending) {
    await assert.rejects(p, (e) => types.isNativeError(e) && e.code === 1007 && e.reason === 'cancelled');
  }
  await assert.rejects(a.leave(), (e) => e.code === 1007);
  // Its socket is closed, and the next Client is a new one.
  await waitFor(() => mp.sockets === 0, 'the destroyed client\'s socket closed');
  const fresh = SDK.Client({ appkey: 'demo', server: s.endpoints.signal });
  assert.notEqual(fresh, a);
  await fresh.join({ channelName: 'destroy', uid: 2 });
  await fresh.leave();
});

test('the wasm is instantiated once per mini-program, however many clients and engines', async (t) => {
  const s = await server(t);
  const mp = miniProgram(t);
  const real = mp.global.WXWebAssembly.instantiate;
  let instantiated = 0;
  mp.global.WXWebAssembly.instantiate = function (...args) {
    instantiated += 1;
    return real.apply(this, args);
  };
  const SDK = mp.require('mprtc');
  // SDK.load() is the optional preload; Client and the ZEGO engine load through the same promise.
  await Promise.all([SDK.load(), SDK.load()]);
  assert.equal(instantiated, 1);
  const a = SDK.Client({ appkey: 'demo', server: s.endpoints.signal });
  await a.join({ channelName: 'once', uid: 1 });
  const engine = new SDK.ZegoExpressEngine('demo', s.endpoints.signal);
  assert.equal(await engine.loginRoom('once', undefined, { userID: 'z' }), true);
  a.destroy();
  const b = SDK.Client({ appkey: 'demo', server: s.endpoints.signal });
  assert.notEqual(b, a);
  await b.join({ channelName: 'once', uid: 2 });
  assert.equal(instantiated, 1, 'one instantiate for the whole mini-program');
  await Promise.all([b.leave(), engine.logoutRoom('once')]);
  engine.destroyEngine();
});

test('a wrong wasm path rejects init with 1008, and after setWasmPath the same client works', async (t) => {
  const s = await server(t);
  const mp = miniProgram(t);
  const SDK = mp.require('mprtc');
  const a = SDK.Client({ appkey: 'demo', server: s.endpoints.signal, wasmPath: 'nope/mprtc_bg.wasm' });
  await assert.rejects(a.join({ channelName: 'path', uid: 1 }), (e) => types.isNativeError(e) && e.code === 1008 && e.reason === 'wasm_unavailable' && /nope\/mprtc_bg\.wasm/.test(e.message));
  SDK.setWasmPath('miniprogram_npm/mprtc/mprtc_bg.wasm.br');
  assert.equal(SDK.Client({ appkey: 'demo' }), a, 'still the one client');
  await a.join({ channelName: 'path', uid: 1 });
  // A call the core refuses before sending anything rejects too; it does not throw.
  await assert.rejects(a.subscribe(undefined, 'video'), (e) => e.code === 1001);
  await a.leave();
});

test('the e2e harness fails a test whose SDK swallowed an error it did not expect', async () => {
  // A test context of our own, to run the harness's end-of-test hooks and see what they say.
  const hooks = [];
  const run = async () => {
    const failures = [];
    for (const h of hooks.splice(0)) {
      try {
        await h();
      } catch (e) {
        failures.push(e.message);
      }
    }
    return failures;
  };
  const refused = async (mp) => {
    const a = mp.require('mprtc').Client({ appkey: 'demo', server: 'ws://127.0.0.1:9/ws' });
    await a.dataReporter('screen', 'bindstatechange', { code: 1 });
    a.destroy();
  };
  await refused(miniProgram({ after: (fn) => hooks.push(fn) }, { name: 'quiet' }));
  const failures = await run();
  assert.equal(failures.length, 1, failures.join('\n'));
  assert.match(failures[0], /mini-program quiet: the SDK swallowed errors:\n {2}warn: \[mprtc\] dataReporter ignored: 1001 /);

  const told = miniProgram({ after: (fn) => hooks.push(fn) }, { name: 'told' });
  told.expectLog(/dataReporter ignored: 1001/);
  await refused(told);
  assert.deepEqual(await run(), [], 'an expected line passes');
  miniProgram({ after: (fn) => hooks.push(fn) }, { name: 'waiting' }).expectLog(/never/);
  assert.deepEqual(await run(), ['mini-program waiting: expected SDK log lines never came: /never/']);
});
