'use strict';
// Media section: time from publish() to the first decoded frame at a subscriber, with ffmpeg
// standing in for <live-pusher> and <live-player> (tests/e2e/support.js pushTestPattern:
// 320x240, 15 fps, GOP 1 s) and the embedded RTMP server with its GOP cache in between.
//
//   publish() call -> push URL -> pusher spawned -> stream-added at the subscriber ->
//   subscribe() -> player spawned -> first decoded frame (ffmpeg showinfo, frame 0)
//
// Then, with the stream running for a while, a new player on it: the GOP cache should hand it
// the last keyframe at once instead of making it wait for the next one (up to one GOP).
//
// ffmpeg's own start-up weighs heavily in those (it sits on the first GOP for about a second
// however fast the bytes come), so the section also reads the play URL's HTTP-FLV itself and
// times the arrival of the first video keyframe: what the server contributes.
//
// Baseline in the same run, no server at all: an ffmpeg player listening for RTMP
// (-listen 1) and the same pusher pushing straight into it; pusher spawn -> first frame.
// Push-task start (addTasks -> 505) is measured by the tasks section (bench/tasks.js).
//
// Glass to glass: a pusher whose picture flips between black and white twice a second (lavfi
// drawbox at known times) prints, through showinfo, when each picture leaves its source; the
// subscriber's player prints when it decoded each picture. For every flip: decoded at the
// subscriber minus left the pusher, the same picture (the same pts: the player keeps the
// stream's timestamps with -copyts, and the server passes them through). Through mprtc
// (publish() URL -> server -> subscribe() URL) against the same pusher straight into a
// listening ffmpeg player with the same options; the difference is what the server adds.

const http = require('node:http');
const readline = require('node:readline');
const { now, log, summary, sleep, table, spawnTracked, withTimeout, miniPrograms, freePort } = require('./common');
const { startServer, pushTestPattern, nextEvent } = require('../tests/e2e/support');
const { layoutPackage } = require('../tests/runtime');

const FFMPEG = process.env.FFMPEG || 'ffmpeg';
// The player, the same on both sides (mprtc and the no-server baseline). ffmpeg by default
// reads seconds of a live stream to learn its format before decoding anything; a <live-player>
// starts on the first keyframe. -probesize 32 -analyzeduration 0 make ffmpeg do the same (the
// H.264 parameters arrive in the FLV sequence header). No -fflags nobuffer: it makes ffmpeg
// drop the packets it read while probing, which for a server with a GOP cache is the cached
// keyframe sent at once, so the player then waits up to a whole GOP for the next one, which no
// real player does; it measured the flag, not the server.
const PLAYER_OPTS = (process.env.MPRTC_BENCH_PLAYER_OPTS || '-probesize 32 -analyzeduration 0').split(' ').filter(Boolean);

/**
 * Starts an ffmpeg player on `input` (extra input options before -i). `firstFrame` resolves
 * with the time (now()) its first video frame was decoded.
 */
function player(input, inputOpts = [], onFrame = null) {
  // Watching pictures: every frame, original timestamps; otherwise the first frame only.
  const frames = onFrame ? ['-copyts'] : ['-frames:v', '1'];
  const args = ['-hide_banner', '-nostats', '-loglevel', 'info', ...PLAYER_OPTS, ...inputOpts, '-rw_timeout', '8000000', '-i', input,
    '-map', '0:v:0', ...frames, '-vf', 'showinfo', '-f', 'null', '-'];
  const spawned = now();
  const child = spawnTracked(FFMPEG, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let tail = '';
  const firstFrame = new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stderr }).on('line', (l) => {
      const at = now();
      tail = (tail + l + '\n').slice(-1500);
      if (/\bn:\s*0\s+pts:/.test(l)) resolve(at);
      const shown = onFrame && picture(l);
      if (shown) onFrame(shown, at);
    });
    child.on('exit', (code) => reject(new Error(`player exited (${code}) before a frame:\n${tail}`)));
  });
  firstFrame.catch(() => {});
  return { spawned, firstFrame, stop: () => child.kill('SIGKILL') };
}

/**
 * Reads the HTTP-FLV stream at `url` until its first H.264 keyframe tag; resolves with the
 * time (now()) it arrived.
 */
function flvKeyframe(url, timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    let off = 13; // FLV header (9) + PreviousTagSize0 (4)
    const req = http.get(url, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode} from the FLV URL`));
      res.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= off + 11) {
          const type = buf[off];
          const size = buf.readUIntBE(off + 1, 3);
          if (buf.length < off + 11 + size) break;
          // Video tag: frame type 1 (keyframe), codec 7 (AVC), AVCPacketType 1 (a NAL unit).
          if (type === 9 && buf[off + 11] === 0x17 && buf[off + 12] === 1) {
            resolve(now());
            req.destroy();
            return;
          }
          off += 11 + size + 4;
        }
      });
    });
    req.on('error', (e) => reject(e));
    setTimeout(() => {
      req.destroy();
      reject(new Error('no keyframe on the FLV URL'));
    }, timeoutMs).unref();
  });
}

/** A showinfo line's picture: its pts in seconds and whether it is light (luma mean > 128). */
function picture(line) {
  const m = /\bpts_time:\s*([-\d.]+)\b.*?\bmean:\[(\d+)/.exec(line);
  return m ? { pts: +m[1], light: +m[2] > 128 } : null;
}

// Black with a white picture every other half second, 30 fps, a key frame a second.
const FLIP_SOURCE = "color=c=black:size=320x240:rate=30,drawbox=c=white:t=fill:enable='gte(mod(t,1),0.5)'";

/**
 * Pushes the flipping picture to `url` (as pushTestPattern does, at 30 fps) and records when
 * each flip left the source: Map(pts in ms -> {at: now(), light}).
 */
function flipPusher(url) {
  const args = ['-hide_banner', '-nostats', '-loglevel', 'info', '-re',
    '-f', 'lavfi', '-i', FLIP_SOURCE, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-vf', 'showinfo', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '30',
    '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', url];
  const child = spawnTracked(FFMPEG, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const flips = new Map();
  let light = null;
  readline.createInterface({ input: child.stderr }).on('line', (l) => {
    const at = now();
    const p = picture(l);
    if (!p) return;
    if (light !== null && p.light !== light) flips.set(Math.round(p.pts * 1000), { at, light: p.light });
    light = p.light;
  });
  const exited = new Promise((res) => child.on('exit', res));
  return { flips, stop: () => { child.kill('SIGKILL'); return exited; } };
}

/**
 * Watches `url` with the bench's player until it has seen `count` flips of the pusher `push`;
 * resolves with each flip's glass-to-glass time (ms). A flip is paired with the pusher's by its
 * pts, and must be the same change (dark to light or back) the pusher made. The pts agree to
 * within the FLV muxer's shift for the AAC priming (23 ms at 44.1 kHz); flips are 500 ms apart.
 */
function watchFlips(url, push, inputOpts, count = 8) {
  return new Promise((resolve, reject) => {
    const out = [];
    let light = null;
    const p = player(url, inputOpts, (shown, at) => {
      const flipped = light !== null && shown.light !== light;
      light = shown.light;
      if (!flipped) return;
      const pts = shown.pts * 1000;
      const left = [...push.flips].find(([t, f]) => Math.abs(t - pts) < 100 && f.light === shown.light);
      if (!left) return;
      out.push(at - left[1].at);
      if (out.length >= count) {
        p.stop();
        resolve(out);
      }
    });
    p.firstFrame.catch(reject);
    setTimeout(() => { p.stop(); reject(new Error(`${out.length} of ${count} flips seen`)); }, 30000).unref();
  });
}

/** Glass to glass without a server: the flipping pusher straight into a listening player. */
async function glassBaseline() {
  const url = `rtmp://127.0.0.1:${await freePort()}/live/g`;
  let push = { flips: new Map() };
  const watched = watchFlips(url, { get flips() { return push.flips; } }, ['-listen', '1']);
  await sleep(700); // the listening player is up (as in baselineOnce)
  push = flipPusher(url);
  try {
    return await watched;
  } finally {
    await push.stop();
  }
}

async function baselineOnce() {
  const port = await freePort();
  const url = `rtmp://127.0.0.1:${port}/live/s`;
  const p = player(url, ['-listen', '1']);
  await sleep(700); // the listening player is up (ffmpeg starts in well under that)
  const t0 = now();
  const pusher = pushTestPattern(url);
  try {
    return (await withTimeout(p.firstFrame, 15000, 'baseline first frame')) - t0;
  } finally {
    p.stop();
    await pusher.stop();
  }
}

async function run({ runs = 3, lateAfterMs = 3000 } = {}) {
  const server = await startServer();
  const pkg = layoutPackage({});
  const sims = miniPrograms(pkg.root);
  const client = () => sims.client({ appkey: 'demo', server: server.endpoints.signal });
  const stops = [];
  try {
    const a = client();
    const b = client();
    await a.join({ channelName: 'media', uid: 1 });
    await b.join({ channelName: 'media', uid: 2 });
    const parts = {
      total: [], publishCall: [], pushToAdded: [], subscribeCall: [], playerToFrame: [], flvKeyframe: [],
      lateJoin: [], lateFlvKeyframe: [], baseline: [], glass: [], glassBaseline: [],
    };
    for (let i = 0; i < runs; i++) {
      const added = nextEvent(b, 'stream-added', (d) => d.uid === 1 && d.mediaType === 'video', 20000);
      const t0 = now();
      const pushUrl = await a.publish();
      const t1 = now();
      const pusher = pushTestPattern(pushUrl);
      stops.push(() => pusher.stop());
      await added;
      const t2 = now();
      const play = await b.subscribe(1);
      const t3 = now();
      const p = player(play.url);
      const key = flvKeyframe(play.flvUrl);
      const frame = await withTimeout(p.firstFrame, 20000, 'first frame');
      p.stop();
      parts.flvKeyframe.push((await key) - t0);
      parts.total.push(frame - t0);
      parts.publishCall.push(t1 - t0);
      parts.pushToAdded.push(t2 - t1);
      parts.subscribeCall.push(t3 - t2);
      parts.playerToFrame.push(frame - p.spawned);
      log(`media: run ${i + 1}: publish() -> first frame ${Math.round(frame - t0)} ms ` +
        `(push start -> stream-added ${Math.round(t2 - t1)} ms, player -> frame ${Math.round(frame - p.spawned)} ms)`);

      // A late subscriber on the running stream: the GOP cache should serve a keyframe at once.
      await sleep(lateAfterMs);
      const again = await b.subscribe(1);
      const t4 = now();
      parts.lateFlvKeyframe.push((await flvKeyframe(again.flvUrl)) - t4);
      const late = player(again.url);
      parts.lateJoin.push((await withTimeout(late.firstFrame, 20000, 'late first frame')) - late.spawned);
      late.stop();

      const removed = nextEvent(b, 'stream-removed', (d) => d.uid === 1 && d.mediaType === 'video', 20000);
      await a.unpublish();
      await pusher.stop();
      await removed;
      parts.baseline.push(await baselineOnce());
      log(`media: run ${i + 1}: late player -> frame ${Math.round(parts.lateJoin[i])} ms ` +
        `(keyframe bytes after ${parts.lateFlvKeyframe[i].toFixed(1)} ms); ` +
        `baseline ffmpeg -> ffmpeg ${Math.round(parts.baseline[i])} ms`);
    }
    for (let i = 0; i < runs; i++) {
      const added = nextEvent(b, 'stream-added', (d) => d.uid === 1 && d.mediaType === 'video', 20000);
      const push = flipPusher(await a.publish());
      stops.push(() => push.stop());
      await added;
      const play = await b.subscribe(1);
      const g = await watchFlips(play.url, push, []);
      const removed = nextEvent(b, 'stream-removed', (d) => d.uid === 1 && d.mediaType === 'video', 20000);
      await a.unpublish();
      await push.stop();
      await removed;
      const d = await glassBaseline();
      parts.glass.push(...g);
      parts.glassBaseline.push(...d);
      log(`media: run ${i + 1}: glass to glass p50 ${summary(g).p50} ms through mprtc, ${summary(d).p50} ms ffmpeg -> ffmpeg`);
    }
    const r = { runs, stream: '320x240 testsrc2, 15 fps, libx264 ultrafast zerolatency, GOP 15 frames (1 s), aac' };
    for (const [k, v] of Object.entries(parts)) r[k] = summary(v);
    return r;
  } finally {
    for (const s of stops) await s();
    await sims.close();
    pkg.cleanup();
    await server.stop();
  }
}

const ratio = (a, b) => Math.round((a / b) * 100) / 100;

function rows(r) {
  return [
    ['media: publish() -> first frame at subscriber, p50', `${r.total.p50} ms`, `ffmpeg->ffmpeg ${r.baseline.p50} ms`, '-', null],
    ['media: publish() -> first keyframe bytes at subscriber, p50', `${r.flvKeyframe.p50} ms`, '-', '-', null],
    ['media: new viewer of a running stream -> keyframe bytes', `${r.lateFlvKeyframe.p50} ms`, 'GOP 1000 ms', '-', null],
    ['media: new player on a running stream -> first frame', `${r.lateJoin.p50} ms`, 'GOP 1000 ms', '-', null],
    ['media: publish() -> first frame, mprtc / ffmpeg->ffmpeg', `${ratio(r.total.p50, r.baseline.p50)}x`, '-', '<= 1.5x',
      r.total.p50 <= 1.5 * r.baseline.p50],
    ['media: glass to glass (picture flip -> decoded), p50', `${r.glass.p50} ms`, `ffmpeg->ffmpeg ${r.glassBaseline.p50} ms`,
      'server adds < 100 ms', r.glass.p50 - r.glassBaseline.p50 < 100],
  ];
}

function detail(r) {
  const line = (name, k) => [name, r[k].p50, r[k].max];
  return table([
    ['ms', 'p50', 'max'],
    line('**publish() call -> first decoded frame at the subscriber**', 'total'),
    line('publish() call -> push URL', 'publishCall'),
    line('pusher spawned -> stream-added at the subscriber', 'pushToAdded'),
    line('subscribe() call -> play URL', 'subscribeCall'),
    line('player spawned -> first decoded frame', 'playerToFrame'),
    line('publish() call -> first keyframe tag read from the play URL (HTTP-FLV)', 'flvKeyframe'),
    line('new viewer of the running stream -> keyframe tag (GOP cache)', 'lateFlvKeyframe'),
    line('new ffmpeg player on the running stream -> first decoded frame', 'lateJoin'),
    line('baseline: pusher spawned -> first frame at a listening ffmpeg, no server', 'baseline'),
    line('**glass to glass: a flip leaves the pusher\'s source -> decoded at the subscriber (RTMP)**', 'glass'),
    line('baseline: the same, pusher straight into a listening ffmpeg, no server', 'glassBaseline'),
  ]);
}

module.exports = { run, rows, detail };
