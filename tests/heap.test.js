'use strict';
// The shipped SDK (pkg/) through its public API, with more than the e2e tests give it: a long
// session (members come and go, components report, requests are refused), and a join into a
// room of 5,000. The wasm's memory can only grow, so a leak, or an allocator that cannot reuse
// what was freed, shows as growth between a warmed-up session and the same session 20,000
// rounds later. The socket is a stand-in `wx.connectSocket` task whose frames the test writes
// as the server would; WXWebAssembly loads the real wasm and lets the test see its memory.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');

const PKG = path.join(__dirname, '..', 'pkg');

function platform() {
  const p = { memory: null, task: null, sent: [] };
  p.WXWebAssembly = {
    instantiate(file, imports) {
      // As WeChat does, a .wasm.br (what pkg/ ships) is brotli-decompressed first.
      const bytes = fs.readFileSync(path.join(PKG, path.basename(file)));
      return WebAssembly.instantiate(file.endsWith('.br') ? zlib.brotliDecompressSync(bytes) : bytes, imports).then((r) => {
        p.memory = r.instance.exports.memory;
        return r;
      });
    }
  };
  p.wx = {
    connectSocket() {
      const on = {};
      p.task = {
        on,
        onOpen: (f) => (on.open = f),
        onMessage: (f) => (on.message = f),
        onError: (f) => (on.error = f),
        onClose: (f) => (on.close = f),
        send: (o) => p.sent.push(JSON.parse(o.data)),
        close: () => {}
      };
      return p.task;
    }
  };
  p.server = (frame) => p.task.on.message({ data: JSON.stringify(frame) });
  return p;
}

// The next request the SDK sends of `type`, once its promise chain has run.
async function request(p, type) {
  for (let i = 0; i < 50; i++) {
    const at = p.sent.findIndex((f) => f.type === type);
    if (at >= 0) return p.sent.splice(at, 1)[0];
    await null;
  }
  throw new Error(`no ${type} request was sent`);
}

// A fresh copy of the SDK on a fresh platform, and its client; `done()` puts the globals back.
function start() {
  const p = platform();
  global.WXWebAssembly = p.WXWebAssembly;
  global.wx = p.wx;
  delete require.cache[require.resolve(path.join(PKG, 'index.js'))];
  const SDK = require(path.join(PKG, 'index.js'));
  const client = SDK.Client({ appkey: 'app', server: 'ws://127.0.0.1:9/ws' });
  const done = () => {
    client.destroy();
    delete global.WXWebAssembly;
    delete global.wx;
  };
  return { p, client, done };
}

// Joins `room` as uid 1, the server answering with `members`; resolves with the ms from that
// answer to the app's join promise settling.
async function join(p, client, room, members) {
  const joined = client.join({ channelName: room, uid: 1 });
  await client.init();
  for (let i = 0; i < 50 && !p.task; i++) await null;
  p.task.on.open();
  const req = await request(p, 'join');
  const t0 = process.hrtime.bigint();
  p.server({ v: 1, re: req.id, ok: true, body: { session: 's', room, uid: 1, role: 'broadcaster', members, seq: 0, server_time_ms: 0 } });
  await joined;
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

test('a long session does not grow the wasm heap', async (t) => {
  const { p, client, done } = start();
  try {
    await join(p, client, 'heap', []);

    let seq = 0;
    let refused = 0;
    const round = async (i) => {
      const uid = 1000 + (i % 64);
      p.server({ v: 1, seq: ++seq, type: 'member-joined', body: { uid, role: 'broadcaster', user: { id: `user-${i}`, name: `名字 ${i} 😀` } } });
      await client.dataReporter('push', 'bindnetstatus', { videoFPS: 15 + (i % 7) / 10, videoBitrate: 400 + (i % 300), netSpeed: i });
      const published = client.publish('video').catch((e) => e);
      const req = await request(p, 'publish');
      p.server({ v: 1, re: req.id, ok: false, err: { code: 4022, msg: `refused ${i}` } });
      if ((await published).code === 4022) refused++;
      p.server({ v: 1, seq: ++seq, type: 'member-left', body: { uid, reason: 'left' } });
    };

    for (let i = 0; i < 2_000; i++) await round(i);
    const warm = p.memory.buffer.byteLength;
    for (let i = 2_000; i < 22_000; i++) await round(i);
    const after = p.memory.buffer.byteLength;
    t.diagnostic(`wasm memory: ${warm} B after 2,000 rounds, ${after} B after 22,000`);
    assert.equal(refused, 22_000, 'every publish was refused with its code');
    assert.ok(after <= warm + 65_536, `the heap grew from ${warm} to ${after} B over 20,000 rounds`);
  } finally {
    done();
  }
});

test('a join into a 5,000-member room reaches the app whole', async (t) => {
  const { p, client, done } = start();
  try {
    const joins = [];
    const streams = [];
    client.on('clientJoin', (d) => joins.push(d.uid));
    client.on('stream-added', (d) => streams.push(d.uid));
    const members = Array.from({ length: 5_000 }, (_, i) => ({ uid: 10 + i, role: 'broadcaster', live: { audio: true, video: i % 2 === 0 } }));
    const ms = await join(p, client, 'big', members);
    t.diagnostic(`5,000 members and 7,500 streams applied in ${ms.toFixed(1)} ms`);
    assert.equal(joins.length, 5_000);
    assert.deepEqual(joins.slice(0, 3), [10, 11, 12], 'in uid order');
    assert.equal(streams.length, 7_500, 'audio for each, video for every other one');
  } finally {
    done();
  }
});
