'use strict';
// Push tasks end to end: two members push solid colours, a task composes them on a canvas of a
// third colour and pushes to the embedded RTMP server (into a third member's stream); ffmpeg
// pulls the result and the test samples its pixels and audio. Then the layout is swapped, a
// member leaves (both applied to the running compositor: one recording file throughout), the
// task is deleted, and an unreachable destination fails.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { layoutPackage } = require('../runtime');
const { startServer, pushRedAndBlue, videoAdded, grabFrame, near, nextEvent } = require('./support');
const { miniProgram } = require('./mp');

const RED = [255, 0, 0];
const BLUE = [0, 0, 255];
const GREEN = [0, 255, 0];

function task(streamUrl, a, b) {
  return {
    taskId: 'mix_1',
    streamUrl,
    record: true,
    layout: {
      canvas: { width: 1280, height: 720, color: 0x00ff00 },
      users: [
        Object.assign({ uid: 1, width: 640, height: 360, adaption: 0, zOrder: 1, pushAudio: true, pushVideo: true }, a),
        Object.assign({ uid: 2, width: 640, height: 360, adaption: 0, zOrder: 2, pushAudio: true, pushVideo: true }, b),
      ],
    },
    config: { audioParam: { bitRate: 64, channels: 1, codecProfile: 0, sampleRate: 44100 } },
  };
}

test('a push task composes members, follows updates and reports its status', { timeout: 180000 }, async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const pkg = layoutPackage({});
  t.after(() => pkg.cleanup());
  const client = () => {
    const mp = miniProgram(t, { root: pkg.root });
    return mp.require('mprtc').Client({ appkey: 'demo', server: server.endpoints.signal });
  };
  const [a, b, c] = [client(), client(), client()];
  const room = 'tasks' + process.pid;
  await a.join({ channelName: room, uid: 1 });
  await b.join({ channelName: room, uid: 2 });
  await c.join({ channelName: room, uid: 3 });
  const pushers = [];
  t.after(() => pushers.forEach((p) => p.stop()));
  await pushRedAndBlue(pushers, a, b, c);

  // The task pushes into member 3's stream on the embedded server, so anyone can watch it.
  const out = await c.publish();
  const statuses = [];
  a.on('rtmp-tasks-status', (s) => statuses.push(s));
  const pushing = nextEvent(a, 'rtmp-tasks-status', (s) => s.code === 505, 30000);
  const outLive = videoAdded(a, 3);

  // Validation happens before anything is sent, naming the field.
  await assert.rejects(a.addTasks({ rtmpTasks: [task(out, { x: 700, y: 0 }, { x: 640, y: 360 })] }),
    (e) => e.code === 4005 && e.field === 'rtmpTasks[0].layout.users[0].x');
  await a.addTasks({ rtmpTasks: [task(out, { x: 0, y: 0 }, { x: 640, y: 360 })] });
  const st = await pushing;
  assert.equal(st.taskId, 'mix_1');
  assert.equal(st.streamUrl, out);
  await outLive;
  const play = await a.subscribe(3, 'video');

  const sample = async () => {
    const f = await grabFrame(play.url, { skip: 10 });
    return { f, tl: f.cell(320, 180), br: f.cell(960, 540), bg: f.cell(960, 180) };
  };
  // Frames until one shows `pred` (a new layout takes a few frames), for 60 s at most:
  // each grab decodes fresh frames, so no pause between them is needed.
  const sampleUntil = async (pred) => {
    const start = performance.now();
    let s = null;
    while (performance.now() - start < 60000) {
      s = await sample().catch(() => null);
      if (s && pred(s)) break;
    }
    return s;
  };
  const s1 = await sample();
  assert.deepEqual([s1.f.width, s1.f.height], [1280, 720]);
  assert.ok(near(s1.tl, RED), `top-left is red: ${s1.tl}`);
  assert.ok(near(s1.br, BLUE), `bottom-right is blue: ${s1.br}`);
  assert.ok(near(s1.bg, GREEN), `background is green: ${s1.bg}`);
  assert.deepEqual(s1.f.audio, { rate: 44100, channels: 1 });

  // updateTasks replaces the whole layout: positions swap and the samples follow.
  await a.updateTasks({ rtmpTasks: [task(out, { x: 640, y: 360 }, { x: 0, y: 0 })] });
  const s2 = await sampleUntil((s) => near(s.tl, BLUE) && near(s.br, RED));
  assert.ok(s2 && near(s2.tl, BLUE) && near(s2.br, RED), `swapped: ${s2 && [s2.tl, s2.br]}`);

  // A member leaving does not stop the output; their rectangle shows the canvas.
  await b.leave();
  const s3 = await sampleUntil((s) => near(s.tl, GREEN) && near(s.br, RED));
  assert.ok(s3 && near(s3.tl, GREEN) && near(s3.br, RED), `after leave: ${s3 && [s3.tl, s3.br]}`);

  // deleteTasks ends it with 511.
  const ended = nextEvent(a, 'rtmp-tasks-status', (s) => s.code === 511, 15000);
  await a.deleteTasks({ taskIds: ['mix_1'] });
  await ended;
  await assert.rejects(a.deleteTasks({ taskIds: ['mix_1'] }), (e) => e.code === 4027);
  // record: true wrote the composed stream to the recordings directory.
  const files = [];
  const walk = (d) => fs.readdirSync(d, { withFileTypes: true }).forEach((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : files.push(path.join(d, e.name))));
  walk(server.recordings);
  const flv = files.filter((f) => f.includes('mix_1') && f.endsWith('.flv') && fs.statSync(f).size > 10000);
  // The swap and the leave changed the running compositor: still the one recording.
  assert.equal(flv.length, 1, `one recording of mix_1 across the updates: ${files.join(', ')}`);

  // An unreachable destination reports 506 with a reason.
  const failed = nextEvent(a, 'rtmp-tasks-status', (s) => s.code === 506, 30000);
  const bad = task('rtmp://127.0.0.1:1/live/nowhere', { x: 0, y: 0 }, { x: 640, y: 360 });
  bad.taskId = 'broken';
  await a.addTasks({ rtmpTasks: [bad] });
  const f = await failed;
  assert.equal(f.taskId, 'broken');
  assert.ok(f.msg.length > 0);
  const codes = statuses.filter((s) => s.taskId === 'mix_1').map((s) => s.code);
  assert.deepEqual(codes.filter((c, i) => c !== codes[i - 1]).slice(-2), [505, 511]);
  await a.leave();
  await c.leave();
});
