'use strict';
// ZEGO's mixer over push tasks, end to end: two engines push solid colours, a third publishes
// the stream the mix goes into, and one engine's startMixerTask composes the two on a green
// canvas (setMixerTaskConfig's backgroundColor); ffmpeg pulls the mix and the test samples its
// pixels, as tests/e2e/tasks.test.js does for NetEase's push tasks. ZEGO's result and
// mixerRelayCDNStateUpdate callbacks report it; a stream-ID output is refused with 1010 and an
// input nobody publishes with 4024.

const test = require('node:test');
const assert = require('node:assert/strict');
const { layoutPackage } = require('../runtime');
const { startServer, pushColor, grabFrame, near } = require('./support');
const { miniProgram, waitFor, within } = require('./mp');

const RED = [255, 0, 0];
const BLUE = [0, 0, 255];
const GREEN = [0, 255, 0];
const plain = (x) => JSON.parse(JSON.stringify(x));

function mixTask(out, first, second) {
  return {
    taskID: 'zmix',
    inputList: [
      { streamID: 'anna-cam', contentType: 'video', layout: first },
      { streamID: 'ben-cam', contentType: 'video', layout: second },
    ],
    outputList: [{ target: out }],
    outputConfig: { outputBitrate: 1500, outputFPS: 15, outputWidth: 1280, outputHeight: 720 },
  };
}
const TOP_LEFT = { top: 0, left: 0, bottom: 360, right: 640 };
const BOTTOM_RIGHT = { top: 360, left: 640, bottom: 720, right: 1280 };

test('startMixerTask composes two streams; the output is checked pixel by pixel', { timeout: 180000 }, async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const pkg = layoutPackage({});
  t.after(() => pkg.cleanup());
  const room = 'zmix' + process.pid;
  const engine = async (userID) => {
    const { ZegoExpressEngine } = miniProgram(t, { root: pkg.root, name: userID }).require('mprtc');
    const zg = new ZegoExpressEngine('demo', server.endpoints.signal);
    t.after(() => zg.destroyEngine());
    await zg.loginRoom(room, '', { userID, userName: userID });
    return zg;
  };
  const [anna, ben, host] = [await engine('anna'), await engine('ben'), await engine('host')];
  const pushers = [];
  t.after(() => pushers.forEach((p) => p.stop()));
  // `engine` hears that stream `id` is up (within 30 s).
  const live = (engine, id) => within(new Promise((resolve) => engine.on('roomStreamUpdate', (_r, type, list) => type === 'ADD' && list.some((s) => s.streamID === id) && resolve())), `${id} up`, 30000);
  const bothLive = Promise.all([live(host, 'anna-cam'), live(host, 'ben-cam')]);
  pushers.push(pushColor((await anna.startPublishingStream('anna-cam')).url, 'red'));
  pushers.push(pushColor((await ben.startPublishingStream('ben-cam')).url, 'blue', { freq: 880 }));
  await bothLive;
  // The mix goes into the host's own stream on the embedded server, so anyone can play it.
  const { url: out } = await host.startPublishingStream('mix-out');

  const states = [];
  host.on('mixerRelayCDNStateUpdate', (taskID, list) => states.push([taskID, plain(list)]));
  // Refused: a ZEGO stream ID as the output (1010, said why), an input nobody publishes (4024).
  await assert.rejects(host.startMixerTask(mixTask('mix-stream', TOP_LEFT, BOTTOM_RIGHT)), (e) => e.code === 1010 && /stream ID/.test(e.message));
  const ghost = mixTask(out, TOP_LEFT, BOTTOM_RIGHT);
  ghost.inputList[1].streamID = 'nobody-cam';
  await assert.rejects(host.startMixerTask(ghost), (e) => e.code === 4024);
  // A rectangle outside the canvas: the server's 4005, naming the field.
  await assert.rejects(host.startMixerTask(mixTask(out, { top: 0, left: 700, bottom: 360, right: 1340 }, BOTTOM_RIGHT)), (e) => e.code === 4005 && /users\[0\]/.test(e.field));

  // A background image is not supported: refused with 1010, not ignored.
  host.setMixerTaskConfig({ backgroundImage: 'https://example.com/bg.png' });
  await assert.rejects(host.startMixerTask(mixTask(out, TOP_LEFT, BOTTOM_RIGHT)), (e) => e.code === 1010 && /backgroundImage/.test(e.message));
  assert.equal(host.setMixerTaskConfig({ backgroundColor: 0x00ff0000 }), true);
  const mixLive = live(anna, 'mix-out');
  assert.deepEqual(plain(await host.startMixerTask(mixTask(out, TOP_LEFT, BOTTOM_RIGHT))), { errorCode: 0, extendedData: '' });
  await waitFor(() => states.some(([id, l]) => id === 'zmix' && l[0].state === 'PUBLISHING'), 'the mix publishing', 60000, () => JSON.stringify(states));
  await mixLive;
  const { url: mixUrl } = await anna.startPlayingStream('mix-out');
  const sample = async () => {
    const f = await grabFrame(mixUrl, { skip: 10 });
    return { f, tl: f.cell(320, 180), br: f.cell(960, 540), bg: f.cell(960, 180) };
  };
  const s1 = await sample();
  assert.deepEqual([s1.f.width, s1.f.height], [1280, 720]);
  assert.ok(near(s1.tl, RED), `top-left is anna's red: ${s1.tl}`);
  assert.ok(near(s1.br, BLUE), `bottom-right is ben's blue: ${s1.br}`);
  assert.ok(near(s1.bg, GREEN), `the background is setMixerTaskConfig's green: ${s1.bg}`);

  // startMixerTask again with the same taskID updates the layout: the two swap.
  await host.startMixerTask(mixTask(out, BOTTOM_RIGHT, TOP_LEFT));
  let s2 = null;
  const start = performance.now();
  while (performance.now() - start < 60000) {
    s2 = await sample().catch(() => null);
    if (s2 && near(s2.tl, BLUE) && near(s2.br, RED)) break;
  }
  assert.ok(s2 && near(s2.tl, BLUE) && near(s2.br, RED), `swapped: ${s2 && [s2.tl, s2.br]}`);

  // stopMixerTask ends it: the state callback says NO_PUBLISH.
  assert.deepEqual(plain(await host.stopMixerTask('zmix')), { errorCode: 0 });
  await waitFor(() => states.some(([id, l]) => id === 'zmix' && l[0].state === 'NO_PUBLISH'), 'the mix ended', 30000, () => JSON.stringify(states));
  await assert.rejects(host.stopMixerTask('zmix'), (e) => e.code === 4027);
});
