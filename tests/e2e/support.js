'use strict';
// Shared pieces of the end-to-end tests and the demo: a real mprtc-server process, real ffmpeg
// standing in for <live-pusher> and <live-player>, and small waiting helpers.

const { spawn } = require('node:child_process');
const path = require('node:path');
const fs = require('node:fs');
const readline = require('node:readline');

const REPO = path.resolve(__dirname, '..', '..');
const SERVER_BIN = process.env.MPRTC_SERVER_BIN || path.join(REPO, 'target', 'debug', 'mprtc-server');
const FFMPEG = process.env.FFMPEG || 'ffmpeg';

const children = new Set();
function track(child) {
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}
// No child outlives the test process.
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/**
 * Starts mprtc-server on loopback with ephemeral ports. Apps: `demo` (debug mode, no token) and
 * `secure` (token signed with `secureSecret`). Resolves with {endpoints, stop(), logs}.
 */
// `opts.demoMaxRooms`: rooms the token-less `demo` app may hold (the server's default for such an
// app is 100; the scale bench's crowd needs more).
function startServer(extraArgs, opts) {
  if (!fs.existsSync(SERVER_BIN)) throw new Error(`${SERVER_BIN} missing: build with cargo build -p mprtc-server`);
  // Push-task recordings go to a temporary directory that goes with the server.
  const recordings = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'mprtc-rec-'));
  // Push tasks (and recording) are off for token-less apps unless the operator turns them on;
  // the demo app uses them, and this loopback-only server may push to loopback addresses.
  const confDir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'mprtc-conf-'));
  const conf = path.join(confDir, 'mprtc.toml');
  const demoRooms = opts && opts.demoMaxRooms ? `max_rooms = ${Number(opts.demoMaxRooms)}\n` : '';
  fs.writeFileSync(conf, '[[apps]]\nkey = "demo"\ninsecure = true\n' + demoRooms +
    '[tasks]\ninsecure_apps = true\ninsecure_apps_record = true\noutput_allow_private = true\n');
  const args = [
    '--config', conf,
    '--listen', '127.0.0.1:0', '--rtmp-listen', '127.0.0.1:0', '--flv-listen', '127.0.0.1:0',
    '--app', 'secure:secure-secret', '--recordings-dir', recordings,
  ].concat(extraArgs || []);
  const child = track(spawn(SERVER_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env: Object.assign({}, process.env, { MPRTC_LOG: process.env.MPRTC_LOG || 'info' }) }));
  const logs = [];
  readline.createInterface({ input: child.stderr }).on('line', (l) => {
    logs.push(l);
    if (process.env.MPRTC_E2E_VERBOSE) console.error('[server]', l);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not become ready:\n' + logs.join('\n'))), 15000);
    child.on('exit', (code) => reject(new Error(`server exited early (${code}):\n${logs.join('\n')}`)));
    readline.createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      const ready = JSON.parse(line);
      resolve({
        endpoints: ready.endpoints,
        recordings,
        logs,
        process: child,
        stop() {
          return new Promise((res) => {
            const done = (code) => {
              fs.rmSync(recordings, { recursive: true, force: true });
              fs.rmSync(confDir, { recursive: true, force: true });
              res(code);
            };
            if (child.exitCode !== null) return done(child.exitCode);
            child.once('exit', (code, signal) => done(code === null ? signal : code));
            child.kill('SIGTERM');
          });
        },
      });
    });
  });
}

/**
 * Pushes the lavfi `video` source at `rate` fps with a `freq` Hz tone to `url` as RTMP (H.264 with
 * a keyframe a second, AAC), as <live-pusher> would. Returns {child, exited, stop()}.
 */
function pushLavfi(url, video, rate, freq) {
  const args = [
    '-hide_banner', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', video,
    '-f', 'lavfi', '-i', `sine=frequency=${freq}:sample_rate=44100`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', String(rate), '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', url,
  ];
  const child = track(spawn(FFMPEG, args, { stdio: ['ignore', 'ignore', 'pipe'] }));
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((res) => child.on('exit', (code) => res({ code, stderr })));
  return { child, exited, stop: () => { child.kill('SIGKILL'); return exited; } };
}

/** Pushes a 320x240 test pattern with a 440 Hz tone, as <live-pusher> would. */
function pushTestPattern(url, opts) {
  const o = Object.assign({ size: '320x240', rate: 15 }, opts);
  return pushLavfi(url, `testsrc2=size=${o.size}:rate=${o.rate}`, o.rate, 440);
}

/**
 * Plays `url` as <live-player> would and decodes `frames` video frames. Resolves with
 * {frames: [{w, h}], audio: {rate, channels} | null, code, stderr}.
 */
function pullFrames(url, frames, timeoutMs) {
  // Note: -nostats keeps ffmpeg's progress lines (with carriage returns) out of the way.
  const args = ['-hide_banner', '-nostats', '-loglevel', 'info', '-rw_timeout', '8000000', '-i', url,
    '-map', '0:v:0', '-frames:v', String(frames), '-vf', 'showinfo', '-f', 'null', '-'];
  const child = track(spawn(FFMPEG, args, { stdio: ['ignore', 'ignore', 'pipe'] }));
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs || 20000);
  return new Promise((resolve) => {
    child.on('exit', (code) => {
      clearTimeout(timer);
      // One showinfo line per decoded frame: "n: 3 pts: ... s:320x240 ...".
      const byIndex = new Map();
      for (const m of stderr.matchAll(/\bn:\s*(\d+)\s+pts:[^\n]*?\bs:(\d+)x(\d+)/g)) byIndex.set(+m[1], { w: +m[2], h: +m[3] });
      const decoded = [...byIndex.values()];
      const a = /Audio: [^,]+, (\d+) Hz, (mono|stereo)/.exec(stderr);
      resolve({ frames: decoded, audio: a ? { rate: +a[1], channels: a[2] === 'mono' ? 1 : 2 } : null, code, stderr });
    });
  });
}

/** Pushes a solid colour (an ffmpeg colour name or 0xRRGGBB) with a tone, as a camera would. */
function pushColor(url, color, opts) {
  const o = Object.assign({ size: '320x240', rate: 15, freq: 440 }, opts);
  return pushLavfi(url, `color=c=${color}:s=${o.size}:r=${o.rate}`, o.rate, o.freq);
}

/**
 * Decodes one video frame (the `skip`-th, so the picture has settled) of `url` as RGB. Resolves
 * with {width, height, pixel(x, y) -> [r, g, b], cell(x, y, size) -> mean [r, g, b],
 * audio: {rate, channels} | null}.
 */
function grabFrame(url, opts) {
  const o = Object.assign({ skip: 5, timeoutMs: 20000 }, opts);
  const args = ['-hide_banner', '-nostats', '-loglevel', 'info', '-rw_timeout', '8000000', '-i', url,
    '-map', '0:v:0', '-vf', `select=gte(n\\,${o.skip})`, '-fps_mode', 'passthrough', '-frames:v', '1',
    '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'];
  const child = track(spawn(FFMPEG, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  const chunks = [];
  let stderr = '';
  child.stdout.on('data', (d) => chunks.push(d));
  child.stderr.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs);
  return new Promise((resolve, reject) => {
    child.on('exit', () => {
      clearTimeout(timer);
      const v = /Stream #0:\d+.*?: Video: .*?, (\d+)x(\d+)/.exec(stderr);
      const a = /Audio: [^,]+, (\d+) Hz, (mono|stereo)/.exec(stderr);
      const buf = Buffer.concat(chunks);
      if (!v || buf.length === 0) return reject(new Error(`no frame from ${url.split('?')[0]}:\n${stderr.slice(-800)}`));
      const width = +v[1];
      const height = +v[2];
      resolve({
        width,
        height,
        audio: a ? { rate: +a[1], channels: a[2] === 'mono' ? 1 : 2 } : null,
        pixel(x, y) {
          const i = (y * width + x) * 3;
          return [buf[i], buf[i + 1], buf[i + 2]];
        },
        // The mean colour of the `size` px square (48 by default) centred on (x, y), kept inside
        // the frame: one pixel can sit on an encoder's block edge or ringing, a cell cannot.
        cell(x, y, size) {
          const n = size || 48;
          const x0 = Math.max(0, Math.min(width - n, x - (n >> 1)));
          const y0 = Math.max(0, Math.min(height - n, y - (n >> 1)));
          const sum = [0, 0, 0];
          for (let yy = y0; yy < y0 + n; yy++) {
            for (let xx = x0; xx < x0 + n; xx++) {
              const i = (yy * width + xx) * 3;
              for (let c = 0; c < 3; c++) sum[c] += buf[i + c];
            }
          }
          return sum.map((v) => Math.round(v / (n * n)));
        },
      });
    });
  });
}

/** Whether an RGB sample is close to a colour (encoding shifts colours a little). */
function near(rgb, want, tolerance) {
  return rgb.every((c, i) => Math.abs(c - want[i]) <= (tolerance || 60));
}

/** Resolves with the first event `name` on `client` whose data passes `pred`. */
function nextEvent(client, name, pred, timeoutMs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off(name, on);
      reject(new Error(`no ${name} event within ${timeoutMs || 15000} ms`));
    }, timeoutMs || 15000);
    function on(data) {
      if (pred && !pred(data)) return;
      clearTimeout(timer);
      client.off(name, on);
      resolve(data);
    }
    client.on(name, on);
  });
}

/** Resolves when `client` has `stream-added` for the video of `uid` (20 s at most). */
function videoAdded(client, uid) {
  return nextEvent(client, 'stream-added', (d) => d.uid === uid && d.mediaType === 'video', 20000);
}

/**
 * The two-colour scene of the push-task test and benchmark: member `a` (uid 1) publishes red,
 * `b` (uid 2) blue with an 880 Hz tone; their ffmpeg pushers go into `pushers`, for the caller to
 * stop. Resolves once `c` has both videos.
 */
async function pushRedAndBlue(pushers, a, b, c) {
  const aLive = videoAdded(c, 1);
  const bLive = videoAdded(c, 2);
  pushers.push(pushColor(await a.publish(), 'red'));
  pushers.push(pushColor(await b.publish(), 'blue', { freq: 880 }));
  await Promise.all([aLive, bLive]);
}

/** Records every listed event of a client, in order. */
function recordEvents(client, names) {
  const seen = [];
  for (const n of names) client.on(n, (d) => seen.push({ name: n, data: d }));
  return seen;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

module.exports = { REPO, startServer, pushTestPattern, pushColor, pullFrames, grabFrame, near, nextEvent, videoAdded, pushRedAndBlue, recordEvents, sleep };
