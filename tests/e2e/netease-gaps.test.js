'use strict';
// What NetEase's guide writes that mprtc once left open, through the built pkg/ against a real
// server: `Client({debug, appkey})` with no `server` (a clear 1001 naming the option, and
// `require('mprtc').setServer(url)` once so that the page keeps that line as it is), `debug:
// true` logging what the SDK does, and `dataReporter('pull', ...)` without a uid (attributed
// when one player can be meant, refused and logged otherwise, never dropped in silence).

const test = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./support');
const { miniProgram, waitFor } = require('./mp');

test('Client({debug, appkey}) without a server: a 1001 naming the option; setServer fills it in', async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const room = 'gaps' + process.pid;

  const bare = miniProgram(t, { name: 'bare' }).require('mprtc').Client({ appkey: 'demo' });
  await assert.rejects(bare.join({ channelName: room, uid: 1 }),
    (e) => e.code === 1001 && /server/.test(e.message) && /setServer/.test(e.message));

  // app.js calls setServer once; the page's line stays NetEase's.
  const mp = miniProgram(t, { name: 'app' });
  const SDK = mp.require('mprtc');
  SDK.setServer(server.endpoints.signal);
  const client = SDK.Client({ debug: true, appkey: 'demo' });
  await client.join({ channelName: room, uid: 1 });
  // debug: true logs the calls and the events, with console.debug.
  const debug = () => mp.logs.filter((l) => l.level === 'debug').map((l) => l.text);
  assert.ok(debug().some((l) => l.startsWith('mprtc: join')), debug().join('\n'));
  const otherMp = miniProgram(t, { name: 'other' });
  const other = otherMp.require('mprtc').Client({ appkey: 'demo', server: server.endpoints.signal });
  await other.join({ channelName: room, uid: 2 });
  await waitFor(() => debug().some((l) => l.startsWith('mprtc: event clientJoin')), 'the clientJoin event logged', 15000, () => debug().join('\n'));
  // Without debug, nothing is logged: the other client joined and saw a member too.
  await waitFor(() => debug().some((l) => l.startsWith('mprtc: event clientJoin')), 'A seen', 15000);
  assert.deepEqual(otherMp.logs.filter((l) => l.level === 'debug'), []);

  // dataReporter('pull') without a uid: with no player at all it is refused and says so.
  mp.expectLog(/^\[mprtc\] dataReporter ignored: 1001 dataReporter\('pull'\) needs the uid/);
  await client.dataReporter('pull', 'bindstatechange', { code: 2004 });
  await waitFor(() => mp.logs.some((l) => /dataReporter ignored: 1001/.test(l.text)), 'the refusal logged', 15000);
  await other.leave();
  await client.leave();
});
