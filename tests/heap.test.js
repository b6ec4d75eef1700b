'use strict';
// The shipped wasm (pkg/) over a long session, driven through its glue as the shim drives it:
// members come and go, components report, requests fail. The wasm's memory can only grow, so a
// leak or an allocator that cannot reuse what was freed shows as growth between a warmed-up
// session and the same session 20,000 rounds later. No server: the frames are the server's.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const PKG = path.join(__dirname, '..', 'pkg');

// pkg/index.js as Node loads it, with WXWebAssembly standing in for WeChat's and handing the
// instance's memory to the test; the core is then driven through the client's own glue object.
async function core() {
  let memory = null;
  global.WXWebAssembly = {
    instantiate(p, imports) {
      return WebAssembly.instantiate(fs.readFileSync(path.join(PKG, path.basename(p))), imports).then((r) => {
        memory = r.instance.exports.memory;
        return r;
      });
    }
  };
  try {
    const SDK = require(path.join(PKG, 'index.js'));
    const client = SDK.Client({ appkey: 'app', server: 'ws://127.0.0.1:9/ws' });
    await client.init();
    return { core: client._core, memory };
  } finally {
    delete global.WXWebAssembly;
  }
}

test('a long session does not grow the wasm heap', async (t) => {
  const { core: c, memory } = await core();
  let now = 1_000;
  const call = (name, args) => {
    const r = JSON.parse(c.call(name, JSON.stringify(args), now++));
    assert.equal(r.err, undefined, `${name}: ${JSON.stringify(r.err)}`);
    return r;
  };
  const sentId = (r) => JSON.parse(r.out.find((o) => o.kind === 'send').data).id;
  const message = (frame) => call('socketMessage', [JSON.stringify(frame)]);

  call('join', [{ channelName: 'heap', uid: 1 }]);
  const joinId = sentId(call('socketOpened', []));
  const joined = message({ v: 1, re: joinId, ok: true, body: { session: 's', room: 'heap', uid: 1, role: 'broadcaster', members: [], seq: 0, server_time_ms: 0 } });
  assert.ok(joined.out.some((o) => o.kind === 'resolve'), 'joined');

  let seq = 0;
  const round = (i) => {
    const uid = 1000 + (i % 64);
    message({ v: 1, seq: ++seq, type: 'member-joined', body: { uid, role: 'broadcaster', user: { id: `user-${i}`, name: `名字 ${i} 😀` } } });
    call('dataReporter', ['push', 'bindnetstatus', { videoFPS: 15 + (i % 7) / 10, videoBitrate: 400 + (i % 300), netSpeed: i }]);
    const id = sentId(call('publish', ['video']));
    const refused = message({ v: 1, re: id, ok: false, err: { code: 4022, msg: `refused ${i}` } });
    assert.ok(refused.out.some((o) => o.kind === 'reject' && o.error.code === 4022), 'the publish is refused');
    message({ v: 1, seq: ++seq, type: 'member-left', body: { uid, reason: 'left' } });
  };

  for (let i = 0; i < 2_000; i++) round(i);
  const warm = memory.buffer.byteLength;
  for (let i = 2_000; i < 22_000; i++) round(i);
  const after = memory.buffer.byteLength;
  t.diagnostic(`wasm memory: ${warm} B after 2,000 rounds, ${after} B after 22,000`);
  assert.ok(after <= warm + 65_536, `the heap grew from ${warm} to ${after} B over 20,000 rounds`);
});
