#!/usr/bin/env node
'use strict';
// Push-task benchmark (not a test: it measures, it does not pass or fail on numbers).
//
// Each run starts a fresh mprtc-server on loopback, joins six simulated mini-programs
// (tests/runtime), has members 1, 2, 4 and 5 push solid colours and measures:
//
//   1. addTasks() call -> rtmp-tasks-status 505, for a 1280x720 task composing 1 and 2 into
//      member 3's stream on the embedded server; baseline: a plain ffmpeg re-encoding member 1
//      into member 6's stream, spawn -> first -progress block with frame > 0 and
//      out_time_us > 0 (the condition the server uses for 505);
//   2. with one viewer reading the output continuously (an ffmpeg decoding every frame, as a
//      player would), --updates updateTasks() calls (1 and 2 swap places, back and forth):
//      call -> the first decoded frame showing the new layout; and the largest gap between
//      consecutive output frame timestamps over all of them (15 fps: 67 ms a frame);
//   3. the CPU (utime + stime from /proc/<pid>/stat over --cpu-secs, % of one core) of the live
//      compositor (mprtc-compositor, run directly) composing the four members at 1280x720, 30 fps,
//      beside a plain ffmpeg re-encoding one member at 1280x720, 30 fps with the same encoder
//      settings; one after the other, never sharing the CPU.
//
//   node bench/tasks.js [--runs N] [--updates N] [--cpu-secs S] [--out FILE | --out -]
//
// Prints a table (stderr when --out -) and writes JSON (default bench/results/tasks.json;
// `--out -` writes it to stdout). Uses MPRTC_SERVER_BIN, else target/release/mprtc-server if
// built, else target/debug/mprtc-server. Every child is killed on exit, failure or signal.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');
const { performance } = require('node:perf_hooks');
const readline = require('node:readline');

const REPO = path.resolve(__dirname, '..');

// ------------------------------------------------------------------ options
function usage(code) {
  (code ? process.stderr : process.stdout).write(
    'usage: node bench/tasks.js [--runs N (3)] [--updates N (6)] [--cpu-secs S (10)] [--out FILE | -]\n');
  process.exit(code);
}
const opts = { runs: 3, updates: 6, cpuSecs: 10, out: path.join(REPO, 'bench', 'results', 'tasks.json') };
{
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = () => (inline !== undefined ? inline : argv[++i]);
    if (flag === '--runs') opts.runs = Number(value());
    else if (flag === '--cpu-secs') opts.cpuSecs = Number(value());
    else if (flag === '--updates') opts.updates = Number(value());
    else if (flag === '--out') opts.out = value();
    else if (flag === '-h' || flag === '--help') usage(0);
    else {
      process.stderr.write(`unknown argument ${argv[i]}\n`);
      usage(2);
    }
  }
  if (!Number.isInteger(opts.runs) || opts.runs < 1 || opts.runs > 50) {
    process.stderr.write('--runs must be an integer 1..50\n');
    usage(2);
  }
  if (!Number.isInteger(opts.updates) || opts.updates < 1 || opts.updates > 50) {
    process.stderr.write('--updates must be an integer 1..50\n');
    usage(2);
  }
  if (!(opts.cpuSecs >= 1 && opts.cpuSecs <= 120)) {
    process.stderr.write('--cpu-secs must be 1..120\n');
    usage(2);
  }
  if (!opts.out) usage(2);
}
const toStdout = opts.out === '-';
const report = toStdout ? process.stderr : process.stdout;

if (!process.env.MPRTC_SERVER_BIN) {
  const release = path.join(REPO, 'target', 'release', 'mprtc-server');
  if (fs.existsSync(release)) process.env.MPRTC_SERVER_BIN = release;
}
// support.js reads MPRTC_SERVER_BIN when loaded.
const { startServer, pushRedAndBlue, pushColor, videoAdded, near, nextEvent, sleep } = require('../tests/e2e/support');
const { createMiniProgram, layoutPackage } = require('../tests/runtime');

const SERVER_BIN = process.env.MPRTC_SERVER_BIN || path.join(REPO, 'target', 'debug', 'mprtc-server');
const FFMPEG = process.env.FFMPEG || 'ffmpeg';
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

const RED = [255, 0, 0];
const BLUE = [0, 0, 255];
const CANVAS = { width: 1280, height: 720, color: 0x00ff00 };
const FPS = 15; // a task's output rate (server/src/tasks/live/mod.rs DEFAULT_FPS)
const CPU_FPS = 30; // the CPU comparison's rate, both sides
const UPDATE_DEADLINE_MS = 25000;
const COMPOSITOR_BIN = process.env.MPRTC_COMPOSITOR_BIN || path.join(path.dirname(SERVER_BIN), 'mprtc-compositor');
// The viewer's picture: the 1280x720 output scaled by 1/8.
const VW = 160;
const VH = 90;

const log = (...a) => process.stderr.write(`[bench] ${a.join(' ')}\n`);
const now = () => performance.now();
const round = (x, d = 0) => (x === null || x === undefined || Number.isNaN(x) ? null : Number(x.toFixed(d)));

// ------------------------------------------------------------------ children
// Children this file spawns itself (support.js kills its own on exit).
const mine = new Set();
function killMine() {
  for (const c of mine) {
    try {
      c.kill('SIGKILL');
    } catch (_) { /* gone */ }
  }
}
process.on('exit', killMine);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    log(`${sig}: stopping`);
    process.exit(130); // exit handlers here and in support.js SIGKILL every child
  });
}

// ------------------------------------------------------------------ /proc
/** {ppid, ticks (utime + stime), start} of a pid, or null when it is gone. */
function procStat(pid) {
  let s;
  try {
    s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (_) {
    return null;
  }
  // Fields after "(comm)": state is field 3, so field n is f[n - 3].
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]), start: Number(f[19]) };
}

function cmdline(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch (_) {
    return [];
  }
}

/** Pids of the compositors of the server: its children running mprtc-compositor (or ffmpeg). */
function compositorPids(serverPid) {
  const out = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const st = procStat(e);
    const cmd = st && st.ppid === serverPid ? cmdline(e) : [];
    if (cmd.includes('-filter_complex') || (cmd[0] || '').endsWith('mprtc-compositor')) out.push(Number(e));
  }
  return out;
}

async function waitCompositor(serverPid, timeoutMs) {
  const until = now() + timeoutMs;
  for (;;) {
    const pids = compositorPids(serverPid);
    if (pids.length === 1) return pids[0];
    if (pids.length > 1) throw new Error(`several compositors running: ${pids.join(', ')}`);
    if (now() > until) throw new Error('no compositor process (child of mprtc-server)');
    await sleep(100);
  }
}

/** CPU of `pid` over `secs`, in % of one core (100 = one core busy). */
async function sampleCpu(pid, secs) {
  const a = procStat(pid);
  const t0 = now();
  if (!a) throw new Error(`pid ${pid} gone before sampling`);
  await sleep(secs * 1000);
  const b = procStat(pid);
  const t1 = now();
  if (!b || b.start !== a.start) throw new Error(`pid ${pid} exited or was replaced while sampling`);
  const cpuSecs = (b.ticks - a.ticks) / CLK_TCK;
  return { pid, percent: (100 * cpuSecs) / ((t1 - t0) / 1000), cpuSecs, wallSecs: (t1 - t0) / 1000 };
}

// ------------------------------------------------------------------ baseline ffmpeg
/** Spawns `bin` as one of mine: {child, exited (resolves with the code or signal), stderr()}. */
function spawnMine(bin, args, stdio) {
  const child = spawn(bin, args, { stdio });
  mine.add(child);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
  const exited = new Promise((res) => child.on('exit', (code, signal) => {
    mine.delete(child);
    res(code === null ? signal : code);
  }));
  return { child, exited, stderr: () => stderr };
}

/** Video bitrate the compositor uses for a canvas (server/src/tasks/live/scene.rs video_kbps). */
function videoKbps(w, h, fps) {
  return Math.min(6000, Math.max(300, Math.floor((w * h * fps) / 10 / 1000)));
}

/**
 * A plain ffmpeg re-encoding `input` to `output` with the compositor's encoder settings and its
 * input/progress options. Resolves `firstFrame` with ms from spawn to the first -progress block
 * with frame > 0 and out_time_us > 0.
 */
function startBaseline(input, output, fps) {
  const kbps = videoKbps(CANVAS.width, CANVAS.height, fps);
  const args = [
    '-hide_banner', '-nostats', '-loglevel', 'error', '-progress', 'pipe:1', '-stats_period', '0.5',
    '-rw_timeout', '3000000', '-analyzeduration', '1000000', '-thread_queue_size', '512', '-i', input,
    '-map', '0:v:0', '-map', '0:a:0',
    '-vf', `scale=${CANVAS.width}:${CANVAS.height},setsar=1,format=yuv420p`, '-r', String(fps),
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-profile:v', 'main', '-pix_fmt', 'yuv420p',
    '-g', String(fps * 2), '-keyint_min', String(fps * 2), '-sc_threshold', '0',
    '-b:v', `${kbps}k`, '-maxrate', `${kbps}k`, '-bufsize', `${kbps * 2}k`,
    '-c:a', 'aac', '-b:a', '64k', '-ar', '44100', '-ac', '1',
    '-f', 'flv', output,
  ];
  const t0 = now();
  const { child, exited, stderr } = spawnMine(FFMPEG, args, ['ignore', 'pipe', 'pipe']);
  const firstFrame = new Promise((resolve, reject) => {
    let frames = 0;
    let outUs = 0;
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      const [k, v] = line.split('=', 2);
      if (k === 'frame') frames = Number(v) || frames;
      else if (k === 'out_time_us') outUs = Math.max(outUs, Number(v) || 0);
      else if (k === 'progress' && frames > 0 && outUs > 0) resolve(now() - t0);
    });
    exited.then((code) => reject(new Error(`baseline ffmpeg exited (${code}): ${stderr().trim()}`)));
  });
  firstFrame.catch(() => {});
  return {
    pid: child.pid,
    firstFrame,
    stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return exited;
    },
  };
}

// ------------------------------------------------------------------ helpers
function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

function task(taskId, streamUrl, a, b) {
  const user = (uid, pos, z) => Object.assign(
    { uid, width: 640, height: 360, adaption: 0, zOrder: z, pushAudio: true, pushVideo: true }, pos);
  return {
    taskId,
    streamUrl,
    record: false,
    layout: { canvas: CANVAS, users: [user(1, a, 1), user(2, b, 2)] },
    config: { audioParam: { bitRate: 64, channels: 1, codecProfile: 0, sampleRate: 44100 } },
  };
}

/** Resolves with the task's next 505; rejects on 506 (with its reason) or after `ms`. */
function nextPushing(client, taskId, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`no rtmp-tasks-status 505 within ${ms} ms`)), ms);
    function on(s) {
      if (s.taskId !== taskId) return;
      if (s.code === 505) done(null, s);
      else if (s.code === 506) done(new Error(`task failed (506): ${s.msg}`));
    }
    function done(err, s) {
      clearTimeout(timer);
      client.off('rtmp-tasks-status', on);
      if (err) reject(err);
      else resolve(s);
    }
    client.on('rtmp-tasks-status', on);
  });
}

// ------------------------------------------------------------------ continuous viewer
/**
 * A viewer reading `url` continuously: every decoded frame, scaled to VWxVH RGB, with its
 * arrival time and stream timestamp (showinfo's pts_time). `waitFor(pred, ms)` resolves with the
 * arrival time of the first frame (from now on) for which pred(pixel) holds.
 */
function startViewer(url) {
  const size = VW * VH * 3;
  // Decoded in one thread, as a live player does: ffmpeg's default frame threading holds each
  // frame back by one frame per thread, the player's delay rather than the server's.
  const child = spawn(FFMPEG, ['-hide_banner', '-loglevel', 'info', '-nostdin', '-rw_timeout', '10000000', '-threads', '1', '-i', url,
    '-an', '-vf', `scale=${VW}:${VH},showinfo`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
  mine.add(child);
  child.on('exit', () => mine.delete(child));
  const v = { pts: [], frames: 0, waiters: new Set() };
  let buf = Buffer.alloc(0);
  child.stdout.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= size) {
      const f = Buffer.from(buf.subarray(0, size));
      buf = buf.subarray(size);
      v.frames++;
      const at = now();
      // Canvas coordinates (1280x720) to the viewer's picture.
      const pixel = (x, y) => {
        const i = (Math.floor(y / 8) * VW + Math.floor(x / 8)) * 3;
        return [f[i], f[i + 1], f[i + 2]];
      };
      for (const w of [...v.waiters]) w(pixel, at);
    }
  });
  readline.createInterface({ input: child.stderr }).on('line', (line) => {
    const m = /pts_time:(\S+)/.exec(line);
    if (m) v.pts.push(Number(m[1]));
  });
  v.waitFor = (pred, ms) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      v.waiters.delete(w);
      reject(new Error(`viewer: layout not seen within ${ms} ms`));
    }, ms);
    function w(pixel, at) {
      if (!pred(pixel)) return;
      clearTimeout(timer);
      v.waiters.delete(w);
      resolve(at);
    }
    v.waiters.add(w);
  });
  /** Largest step between consecutive frame timestamps from frame `from` on, in ms. */
  v.largestGapMs = (from) => {
    const p = v.pts.slice(from);
    let gap = 0;
    for (let i = 1; i < p.length; i++) gap = Math.max(gap, p[i] - p[i - 1]);
    return gap * 1000;
  };
  v.stop = () => child.kill('SIGKILL');
  return v;
}

// ------------------------------------------------------------------ the compositor, directly
/**
 * Runs mprtc-compositor itself (as the server would) composing `inputs` (play URLs) in a 2x2
 * grid at 1280x720, CPU_FPS, into `output`. Resolves once it composes frames, with its pid and
 * stop().
 */
function startCompositor(inputs, output) {
  const { child, exited, stderr } = spawnMine(COMPOSITOR_BIN, [], ['pipe', 'pipe', 'pipe']);
  const members = inputs.map((url, i) => ({
    uid: i + 1, url, audio: true,
    video: { x: (i % 2) * 640, y: Math.floor(i / 2) * 360, width: 640, height: 360, z: i + 1, fill: true },
  }));
  child.stdin.write(JSON.stringify({
    cmd: 'start',
    output: {
      url: output, record: null, width: CANVAS.width, height: CANVAS.height, fps: CPU_FPS,
      video_kbps: videoKbps(CANVAS.width, CANVAS.height, CPU_FPS),
      audio: { rate: 44100, channels: 1, kbps: 64, he_aac: false },
    },
    scene: { canvas: CANVAS.color, members, images: [] },
  }) + '\n');
  const composing = new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      const ev = JSON.parse(line);
      if (ev.event === 'progress' && ev.frames > CPU_FPS) resolve();
      if (ev.event === 'error') reject(new Error(`compositor: ${line}`));
    });
    exited.then((code) => reject(new Error(`compositor exited (${code}): ${stderr().trim()}`)));
  });
  return composing.then(() => ({
    pid: child.pid,
    stop() {
      child.stdin.end(JSON.stringify({ cmd: 'stop' }) + '\n');
      return withTimeout(exited, 10000, 'compositor stop').catch(() => child.kill('SIGKILL'));
    },
  }));
}

// ------------------------------------------------------------------ one run
async function oneRun(index, pkgRoot) {
  const r = { run: index };
  const undo = [];
  const clean = async () => {
    for (const f of undo.reverse()) {
      try {
        await withTimeout(Promise.resolve().then(f), 10000, 'cleanup');
      } catch (e) {
        log(`cleanup: ${e.message}`);
      }
    }
  };
  try {
    const server = await startServer();
    undo.push(() => server.stop());
    const serverPid = server.process.pid;
    const mps = [];
    undo.push(() => Promise.all(mps.map((mp) => mp.close())));
    const client = () => {
      const mp = createMiniProgram({ root: pkgRoot });
      mps.push(mp);
      return mp.require('mprtc').Client({ appkey: 'demo', server: server.endpoints.signal });
    };
    const [a, b, c, d, e, f] = [client(), client(), client(), client(), client(), client()];
    const room = `bench${process.pid}r${index}`;
    for (const [cl, uid] of [[a, 1], [b, 2], [c, 3], [d, 4], [e, 5], [f, 6]]) await cl.join({ channelName: room, uid });

    const pushers = [];
    undo.push(() => Promise.all(pushers.map((p) => p.stop())));
    await pushRedAndBlue(pushers, a, b, c);
    const more = [videoAdded(c, 4), videoAdded(c, 5)];
    pushers.push(pushColor(await d.publish(), 'white', { size: '640x360', rate: CPU_FPS }));
    pushers.push(pushColor(await e.publish(), 'yellow', { size: '640x360', rate: CPU_FPS }));
    await Promise.all(more);
    const out = await c.publish();

    // 1. addTasks -> 505.
    const taskId = `bench_${index}`;
    const initial = task(taskId, out, { x: 0, y: 0 }, { x: 640, y: 360 });
    const swapped = task(taskId, out, { x: 640, y: 360 }, { x: 0, y: 0 });
    const pushing = nextPushing(a, taskId, 30000);
    const outLive = videoAdded(a, 3);
    const tAdd = now();
    await a.addTasks({ rtmpTasks: [initial] });
    r.addAckMs = round(now() - tAdd, 1);
    await pushing;
    r.addTo505Ms = round(now() - tAdd, 1);
    log(`run ${index}: addTasks -> 505 in ${r.addTo505Ms} ms (request acknowledged after ${r.addAckMs} ms)`);
    await outLive;
    const play = await a.subscribe(3, 'video');

    // 2. updateTasks, seen by a viewer that reads every frame.
    const viewer = startViewer(play.url);
    undo.push(() => viewer.stop());
    const shows = (want) => (px) => near(px(320, 180), want.tl) && near(px(960, 540), want.br);
    await viewer.waitFor(shows({ tl: RED, br: BLUE }), 20000);
    r.addSeenMs = round(now() - tAdd);
    const from = viewer.pts.length;
    r.updateMs = [];
    for (let i = 0; i < opts.updates; i++) {
      const [next, want] = i % 2 === 0 ? [swapped, { tl: BLUE, br: RED }] : [initial, { tl: RED, br: BLUE }];
      const seen = viewer.waitFor(shows(want), UPDATE_DEADLINE_MS);
      const t = now();
      await a.updateTasks({ rtmpTasks: [next] });
      r.updateMs.push(round((await seen) - t, 1));
    }
    r.updateVisibleMs = p50(r.updateMs);
    r.largestGapMs = round(viewer.largestGapMs(from), 1);
    r.viewerFrames = viewer.pts.length - from;
    viewer.stop();
    log(`run ${index}: updateTasks -> new layout in the viewer's frames: ${r.updateMs.join(', ')} ms; ` +
      `largest gap between output frames ${r.largestGapMs} ms over ${r.viewerFrames} frames`);

    // The task's own compositor (1280x720 at FPS, two members), steady state.
    const compPid = await waitCompositor(serverPid, 5000);
    const tcpu = await sampleCpu(compPid, opts.cpuSecs);
    r.taskCpuPct = round(tcpu.percent, 1);
    const ended = nextEvent(a, 'rtmp-tasks-status', (s) => s.taskId === taskId && s.code === 511, 15000);
    await a.deleteTasks({ taskIds: [taskId] });
    await ended;
    for (let i = 0; i < 50 && procStat(compPid); i++) await sleep(100);

    // Baseline of 1: plain ffmpeg, member 1 re-encoded into member 6's stream.
    const input = (await c.subscribe(1)).url;
    const baseOut = await f.publish();
    const base = startBaseline(input, baseOut, FPS);
    undo.push(() => base.stop());
    r.baselineFirstFrameMs = round(await withTimeout(base.firstFrame, 30000, 'baseline first frame'), 1);
    log(`run ${index}: baseline ffmpeg first frame in ${r.baselineFirstFrameMs} ms`);
    await base.stop();

    // 3. CPU at 720p30: the live compositor with four members, then ffmpeg re-encoding one.
    const inputs = [];
    for (const uid of [1, 2, 4, 5]) inputs.push((await c.subscribe(uid)).url);
    const comp = await withTimeout(startCompositor(inputs, out), 30000, 'compositor start');
    undo.push(() => comp.stop());
    const cpu = await sampleCpu(comp.pid, opts.cpuSecs);
    r.compositorCpuPct = round(cpu.percent, 1);
    r.compositorCpuSample = { pid: comp.pid, cpuSecs: round(cpu.cpuSecs, 2), wallSecs: round(cpu.wallSecs, 2) };
    log(`run ${index}: mprtc-compositor (4 members, 720p${CPU_FPS}) CPU ${r.compositorCpuPct}% of one core`);
    await comp.stop();
    const base30 = startBaseline(input, baseOut, CPU_FPS);
    undo.push(() => base30.stop());
    await withTimeout(base30.firstFrame, 30000, 'baseline first frame');
    const bcpu = await sampleCpu(base30.pid, opts.cpuSecs);
    r.baselineCpuPct = round(bcpu.percent, 1);
    r.baselineCpuSample = { pid: base30.pid, cpuSecs: round(bcpu.cpuSecs, 2), wallSecs: round(bcpu.wallSecs, 2) };
    log(`run ${index}: baseline ffmpeg (1 member, 720p${CPU_FPS}) CPU ${r.baselineCpuPct}% of one core`);
    await base30.stop();
    await a.leave().catch(() => {});
  } catch (e) {
    r.error = e.message;
    log(`run ${index} FAILED: ${e.message}`);
  } finally {
    await clean();
  }
  return r;
}

// ------------------------------------------------------------------ stats and output
function p50(xs) {
  if (!xs.length) return null;
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
function stat(runs, key) {
  const xs = runs.flatMap((r) => r[key]).filter((x) => typeof x === 'number');
  return { n: xs.length, p50: round(p50(xs), 1), max: xs.length ? round(Math.max(...xs), 1) : null, values: xs };
}

function machine() {
  const cpus = os.cpus();
  let ffmpeg = '';
  try {
    ffmpeg = execFileSync(FFMPEG, ['-version']).toString().split('\n')[0];
  } catch (_) { /* reported as empty */ }
  return {
    host: os.hostname(),
    cpuModel: cpus[0] && cpus[0].model,
    cpus: cpus.length,
    loadavg: os.loadavg().map((x) => round(x, 2)),
    kernel: os.release(),
    node: process.version,
    ffmpeg,
  };
}

function table(s) {
  const fmt = (x, unit) => (x === null || x === undefined ? '-' : `${x}${unit}`);
  const ratio = (m, b) => (typeof m === 'number' && typeof b === 'number' && b > 0 ? `${(m / b).toFixed(2)}x` : '-');
  const rows = [
    ['metric', 'mprtc p50', 'mprtc max', 'baseline p50', 'baseline max', 'ratio (p50)'],
    ['start: addTasks->505 / ffmpeg spawn->frame>0',
      fmt(s.addTo505Ms.p50, ' ms'), fmt(s.addTo505Ms.max, ' ms'),
      fmt(s.baselineFirstFrameMs.p50, ' ms'), fmt(s.baselineFirstFrameMs.max, ' ms'),
      ratio(s.addTo505Ms.p50, s.baselineFirstFrameMs.p50)],
    ['add: addTasks->layout seen in output',
      fmt(s.addSeenMs.p50, ' ms'), fmt(s.addSeenMs.max, ' ms'), '-', '-', '-'],
    ['update: updateTasks->new layout in viewer frames',
      fmt(s.updateVisibleMs.p50, ' ms'), fmt(s.updateVisibleMs.max, ' ms'), '-', '-', '-'],
    ['largest gap between output frames (updates)',
      fmt(s.largestGapMs.p50, ' ms'), fmt(s.largestGapMs.max, ' ms'), '-', '-', '-'],
    [`CPU 720p${CPU_FPS}: 4 members / ffmpeg 1, % core`,
      fmt(s.compositorCpuPct.p50, '%'), fmt(s.compositorCpuPct.max, '%'),
      fmt(s.baselineCpuPct.p50, '%'), fmt(s.baselineCpuPct.max, '%'),
      ratio(s.compositorCpuPct.p50, s.baselineCpuPct.p50)],
    [`CPU of a task's compositor (2 members, 720p${FPS})`,
      fmt(s.taskCpuPct.p50, '%'), fmt(s.taskCpuPct.max, '%'), '-', '-', '-'],
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r) => '| ' + r.map((c, i) => (i ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ') + ' |';
  const sep = '|' + widths.map((w, i) => (i ? '-'.repeat(w + 1) + ':' : '-'.repeat(w + 2))).join('|') + '|';
  return [line(rows[0]), sep, ...rows.slice(1).map(line)].join('\n');
}

// ------------------------------------------------------------------ main
async function main() {
  if (!fs.existsSync(SERVER_BIN)) throw new Error(`${SERVER_BIN} missing (scripts/bench builds it)`);
  // Bound the whole benchmark: each run takes about 2 * cpu-secs + 15 s.
  const budgetMs = 30000 + opts.runs * (2 * opts.cpuSecs * 1000 + 60000);
  const watchdog = setTimeout(() => {
    log(`watchdog: not done after ${budgetMs / 1000} s, killing everything`);
    process.exit(1);
  }, budgetMs);
  watchdog.unref();

  const started = new Date();
  log(`server ${path.relative(REPO, SERVER_BIN)}, ${opts.runs} run(s), CPU windows of ${opts.cpuSecs} s, ${os.cpus().length} CPU(s)`);
  const pkg = layoutPackage({});
  const runs = [];
  try {
    for (let i = 1; i <= opts.runs; i++) runs.push(await oneRun(i, pkg.root));
  } finally {
    pkg.cleanup();
  }
  clearTimeout(watchdog);

  const summary = {
    addTo505Ms: stat(runs, 'addTo505Ms'),
    baselineFirstFrameMs: stat(runs, 'baselineFirstFrameMs'),
    addSeenMs: stat(runs, 'addSeenMs'),
    updateVisibleMs: stat(runs, 'updateMs'),
    largestGapMs: stat(runs, 'largestGapMs'),
    taskCpuPct: stat(runs, 'taskCpuPct'),
    compositorCpuPct: stat(runs, 'compositorCpuPct'),
    baselineCpuPct: stat(runs, 'baselineCpuPct'),
  };
  const failed = runs.filter((r) => r.error).length;
  const result = {
    benchmark: 'push tasks',
    startedAt: started.toISOString(),
    durationSecs: round((Date.now() - started.getTime()) / 1000, 1),
    machine: machine(),
    setup: {
      serverBin: path.relative(REPO, SERVER_BIN),
      runs: opts.runs,
      cpuWindowSecs: opts.cpuSecs,
      clockTicksPerSec: CLK_TCK,
      canvas: `${CANVAS.width}x${CANVAS.height}@${FPS}`,
      members: 'two members push solid colours (320x240, 15 fps, libx264 ultrafast, aac) via ffmpeg',
      output: "the embedded server, into a third member's stream",
      updates: `${opts.updates} updateTasks() per run, each timed from the call to the arrival of the first ` +
        'frame showing the new layout at a viewer that decodes every frame (ffmpeg, scaled to 160x90 RGB); ' +
        'largestGapMs: largest step between consecutive output frame timestamps while they ran',
      baseline: 'plain ffmpeg pulling member 1 (same -rw_timeout/-analyzeduration/-progress 0.5 s as the ' +
        'ffmpeg compositor), libx264 veryfast zerolatency main, 1280x720, same bitrate rule, aac 64k, to a ' +
        `sixth member's stream; start at ${FPS} fps, CPU at ${CPU_FPS} fps`,
      cpu: `mprtc-compositor run directly, four members (320x240 red/blue, 640x360 white/yellow) in a 2x2 grid ` +
        `at 1280x720 ${CPU_FPS} fps, x264enc veryfast zerolatency, same bitrate rule; then the baseline; ` +
        'one after the other, never sharing the CPU',
    },
    summary,
    failedRuns: failed,
    runs,
  };

  const json = JSON.stringify(result, null, 2) + '\n';
  report.write(`\nPush tasks: ${runs.length - failed}/${runs.length} runs ok, ${os.cpus().length} CPU(s) (${result.machine.cpuModel}), ${path.relative(REPO, SERVER_BIN)}\n\n`);
  report.write(table(summary) + '\n\n');
  report.write(`update: from the updateTasks() call to the first frame with the new layout at a viewer decoding every ` +
    `frame (${opts.updates} per run); gap: largest step between output frame timestamps meanwhile.\n`);
  report.write(`start columns: mprtc = addTasks() call -> rtmp-tasks-status 505 (signaling + compositor start + first frame out); ` +
    'baseline = plain ffmpeg spawn -> first -progress block with frame > 0 (the 505 condition).\n');
  report.write(`CPU: utime + stime of the process over ${opts.cpuSecs} s; 100% = one core.\n`);
  for (const r of runs.filter((x) => x.error)) report.write(`run ${r.run} failed: ${r.error}\n`);
  if (toStdout) {
    process.stdout.write(json);
  } else {
    fs.mkdirSync(path.dirname(path.resolve(opts.out)), { recursive: true });
    fs.writeFileSync(opts.out, json);
    report.write(`\nJSON: ${path.relative(process.cwd(), path.resolve(opts.out)) || opts.out}\n`);
  }
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    log(`error: ${e.stack || e.message}`);
    process.exit(1);
  },
);
