'use strict';
// The NetEase seed's "Sample code", as written, against mprtc: only the import line and the
// config (app key, server address, room name) change. When ../shared/seeds is not there (it is
// not part of this repository) the test says so and skips.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { createMiniProgram, layoutPackage } = require('../runtime');
const { REPO, startServer, pushTestPattern, pullFrames, nextEvent, sleep } = require('./support');

const SEEDS = process.env.MPRTC_SEEDS || path.join(REPO, '..', 'shared', 'seeds');

function findSample() {
  if (!fs.existsSync(SEEDS)) return null;
  for (const f of fs.readdirSync(SEEDS)) {
    const text = fs.readFileSync(path.join(SEEDS, f), 'utf8');
    const start = text.indexOf('import YunXinMiniappSDK');
    if (start < 0 || !text.includes('Sample code')) continue;
    let end = text.indexOf('此文档是否对你有帮助', start);
    if (end < 0) end = text.length;
    return { file: f, code: text.slice(start, end) };
  }
  return null;
}

test("NetEase seed sample code runs unchanged but for import and config", async (t) => {
  const sample = findSample();
  if (!sample) {
    console.log(`skipped: no NetEase seed sample found under ${SEEDS}`);
    t.skip(`seeds not present at ${SEEDS}`);
    return;
  }
  const server = await startServer();
  t.after(() => server.stop());
  const room = 'seed' + process.pid;

  // The only edits: the import line, and the Client / join config.
  let code = sample.code.replace(/^import YunXinMiniappSDK from .*$/m, "const YunXinMiniappSDK = require('mprtc')");
  code = code.replace(/appkey:\s*''/, `appkey: 'demo', server: '${server.endpoints.signal}'`);
  code = code.replace(/channelName:\s*''/, `channelName: '${room}'`);
  const edits = code.split('\n').filter((l, i) => l !== sample.code.split('\n')[i]);
  assert.ok(edits.length <= 3, `only import and config lines changed:\n${edits.join('\n')}`);

  const pkg = layoutPackage({ files: { 'pages/index/index.js': code } });
  t.after(() => pkg.cleanup());
  const logs = [];
  const sink = (...a) => logs.push(a.map((x) => (x instanceof Error ? `${x.code} ${x.message}` : typeof x === 'string' ? x : JSON.stringify(x))).join(' '));
  const mp = createMiniProgram({ root: pkg.root, console: { log: sink, info: sink, warn: sink, error: sink, debug: sink } });
  t.after(() => mp.close());
  const waitLog = async (needle, ms) => {
    const until = Date.now() + (ms || 15000);
    while (Date.now() < until) {
      const hit = logs.find((l) => l.includes(needle));
      if (hit) return hit;
      await sleep(50);
    }
    throw new Error(`no log containing ${needle}; logs:\n${logs.join('\n')}`);
  };

  mp.require('pages/index/index.js');
  // The sample's success branches: joined, published and got a push URL.
  await waitLog('房间房间成功');
  const pushed = await waitLog('推流成功');
  const pushUrl = pushed.match(/rtmp:\/\/\S+/)[0];
  const pusher = pushTestPattern(pushUrl);
  t.after(() => pusher.stop());

  // A second member (plain SDK use) publishes for real; the sample subscribes on stream-added.
  const peerMp = createMiniProgram({ root: pkg.root });
  t.after(() => peerMp.close());
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
