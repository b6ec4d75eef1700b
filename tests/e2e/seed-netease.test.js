'use strict';
// The NetEase seed's "Sample code", as written, against mprtc: only the import line and the
// config (app key, server address, room name) change. When ../shared/seeds is not there (it is
// not part of this repository) the test says so and skips.

const test = require('node:test');
const assert = require('node:assert/strict');
const { miniProgram } = require('./mp');
const { startServer, pushTestPattern, pullFrames, nextEvent } = require('./support');
const { findSeed, skipWithout, loggedPage } = require('./seeds');

function findSample() {
  const seed = findSeed((text) => text.includes('import YunXinMiniappSDK') && text.includes('Sample code'));
  if (!seed) return null;
  const start = seed.text.indexOf('import YunXinMiniappSDK');
  let end = seed.text.indexOf('此文档是否对你有帮助', start);
  if (end < 0) end = seed.text.length;
  return { file: seed.file, code: seed.text.slice(start, end) };
}

test("NetEase seed sample code runs unchanged but for import and config", async (t) => {
  const sample = findSample();
  if (!sample) return skipWithout(t, 'NetEase seed sample');
  const server = await startServer();
  t.after(() => server.stop());
  const room = 'seed' + process.pid;

  // The only edits: the import line, and the Client / join config.
  let code = sample.code.replace(/^import YunXinMiniappSDK from .*$/m, "const YunXinMiniappSDK = require('mprtc')");
  code = code.replace(/appkey:\s*''/, `appkey: 'demo', server: '${server.endpoints.signal}'`);
  code = code.replace(/channelName:\s*''/, `channelName: '${room}'`);
  const edits = code.split('\n').filter((l, i) => l !== sample.code.split('\n')[i]);
  assert.ok(edits.length <= 3, `only import and config lines changed:\n${edits.join('\n')}`);

  const { pkg, mp, logs, waitLog } = loggedPage(t, 'pages/index/index.js', code);

  mp.require('pages/index/index.js');
  // The sample's success branches: joined, published and got a push URL.
  await waitLog('房间房间成功');
  const pushed = await waitLog('推流成功');
  const pushUrl = pushed.match(/rtmp:\/\/\S+/)[0];
  const pusher = pushTestPattern(pushUrl);
  t.after(() => pusher.stop());

  // A second member (plain SDK use) publishes for real; the sample subscribes on stream-added.
  const peerMp = miniProgram(t, { root: pkg.root, name: 'peer' });
  const SDK = peerMp.require('mprtc');
  const peer = SDK.Client({ appkey: 'demo', server: server.endpoints.signal });
  const sawSample = nextEvent(peer, 'stream-added', (d) => d.uid === 100, 20000);
  await peer.join({ channelName: room, uid: 200 });
  const peerUrl = await peer.publish();
  const peerPusher = pushTestPattern(peerUrl);
  t.after(() => peerPusher.stop());
  await sawSample;

  const sub = await waitLog('订阅别人成功', 20000);
  const playUrl = sub.match(/rtmp:\/\/\S+/)[0];
  const got = await pullFrames(playUrl, 3);
  assert.ok(got.frames.length >= 3, `decoded ${got.frames.length} frames\n${got.stderr.slice(-600)}`);
  assert.ok(!logs.some((l) => l.includes('失败')), `no failure branch taken:\n${logs.join('\n')}`);
  assert.deepEqual(mp.errors, []);
  await peer.leave();
});
