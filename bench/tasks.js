#!/usr/bin/env node
'use strict';
// Push-task benchmark (not a test: it measures, it does not pass or fail on numbers).
//
// Each run starts a fresh mprtc-server on loopback, joins four simulated mini-programs
// (tests/runtime), has members 1 and 2 push solid colours and measures:
//
//   1. addTasks() call -> rtmp-tasks-status 505, for a 1280x720 task composing 1 and 2 into
//      member 3's stream on the embedded server;
//   2. updateTasks() call (1 and 2 swap places) -> the swapped colours seen in the output,
//      by polling frames (each poll is one ffmpeg pull; the poll length is the resolution);
//   3. the compositor ffmpeg's CPU (utime + stime from /proc/<pid>/stat) over --cpu-secs,
//      as % of one core.
//
// Then, with the task deleted and the same members still pushing, the baseline on the same
// machine: a plain ffmpeg pulling member 1 and pushing it re-encoded like the compositor does
// (libx264 veryfast zerolatency, 1280x720, 15 fps, aac) into member 4's stream:
//
//   a. spawn -> first -progress block with frame > 0 and out_time_us > 0 (the condition the
//      server uses for 505): the floor for "start a compositor";
//   b. its CPU over --cpu-secs.
//
//   node bench/tasks.js [--runs N] [--cpu-secs S] [--out FILE | --out -]
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
    'usage: node bench/tasks.js [--runs N (3)] [--cpu-secs S (10)] [--out FILE | -]\n');
  process.exit(code);
}
const opts = { runs: 3, cpuSecs: 10, out: path.join(REPO, 'bench', 'results', 'tasks.json') };
{
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = () => (inline !== undefined ? inline : argv[++i]);
    if (flag === '--runs') opts.runs = Number(value());
    else if (flag === '--cpu-secs') opts.cpuSecs = Number(value());
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
const { startServer, pushRedAndBlue, videoAdded, grabFrame, near, nextEvent, sleep } = require('../tests/e2e/support');
const { createMiniProgram, layoutPackage } = require('../tests/runtime');

const SERVER_BIN = process.env.MPRTC_SERVER_BIN || path.join(REPO, 'target', 'debug', 'mprtc-server');
const FFMPEG = process.env.FFMPEG || 'ffmpeg';
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

const RED = [255, 0, 0];
const BLUE = [0, 0, 255];
const CANVAS = { width: 1280, height: 720, color: 0x00ff00 };
const FPS = 15; // the compositor's output rate (server/src/tasks/ffmpeg.rs)
const POLL_SKIP = 3; // frames decoded and dropped before the sampled one
const POLL_TIMEOUT_MS = 6000;
const UPDATE_DEADLINE_MS = 25000;

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

/** Pids of the compositors of the server: its children whose command line has -filter_complex. */
function compositorPids(serverPid) {
  const out = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const st = procStat(e);
    if (st && st.ppid === serverPid && cmdline(e).includes('-filter_complex')) out.push(Number(e));
  }
  return out;
}

async function waitCompositor(serverPid, timeoutMs) {
  const until = now() + timeoutMs;
  for (;;) {
    const pids = compositorPids(serverPid);
    if (pids.length === 1) return pids[0];
    if (pids.length > 1) throw new Error(`several compositors running: ${pids.join(', ')}`);
    if (now() > until) throw new Error('no compositor process (child of mprtc-server with -filter_complex)');
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
/** Video bitrate the compositor uses for a canvas (server/src/tasks/ffmpeg.rs video_kbps). */
function videoKbps(w, h) {
  return Math.min(6000, Math.max(300, Math.floor((w * h * FPS) / 10 / 1000)));
}

/**
 * A plain ffmpeg re-encoding `input` to `output` with the compositor's encoder settings and its
 * input/progress options. Resolves `firstFrame` with ms from spawn to the first -progress block
 * with frame > 0 and out_time_us > 0.
 */
function startBaseline(input, output) {
  const kbps = videoKbps(CANVAS.width, CANVAS.height);
  const args = [
    '-hide_banner', '-nostats', '-loglevel', 'error', '-progress', 'pipe:1', '-stats_period', '0.5',
    '-rw_timeout', '3000000', '-analyzeduration', '1000000', '-thread_queue_size', '512', '-i', input,
    '-map', '0:v:0', '-map', '0:a:0',
    '-vf', `scale=${CANVAS.width}:${CANVAS.height},setsar=1,format=yuv420p`, '-r', String(FPS),
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-profile:v', 'main', '-pix_fmt', 'yuv420p',
    '-g', String(FPS * 2), '-keyint_min', String(FPS * 2), '-sc_threshold', '0',
    '-b:v', `${kbps}k`, '-maxrate', `${kbps}k`, '-bufsize', `${kbps * 2}k`,
    '-c:a', 'aac', '-b:a', '64k', '-ar', '44100', '-ac', '1',
    '-f', 'flv', output,
  ];
  const t0 = now();
  const child = spawn(FFMPEG, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  mine.add(child);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
  const exited = new Promise((res) => child.on('exit', (code, signal) => {
    mine.delete(child);
    res(code === null ? signal : code);
  }));
  const firstFrame = new Promise((resolve, reject) => {
    let frames = 0;
    let outUs = 0;
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      const [k, v] = line.split('=', 2);
      if (k === 'frame') frames = Number(v) || frames;
      else if (k === 'out_time_us') outUs = Math.max(outUs, Number(v) || 0);
      else if (k === 'progress' && frames > 0 && outUs > 0) resolve(now() - t0);
    });
    exited.then((code) => reject(new Error(`baseline ffmpeg exited (${code}): ${stderr.trim()}`)));
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

/** Grabs one output frame; samples the centre of the top-left and bottom-right rectangles. */
async function sample(url) {
  const f = await grabFrame(url, { skip: POLL_SKIP, timeoutMs: POLL_TIMEOUT_MS });
  return { w: f.width, h: f.height, tl: f.pixel(320, 180), br: f.pixel(960, 540) };
}

/**
 * Polls the output until `tl`/`br` show the wanted colours. Returns
 * {ok, polls: [{start, end, ok, err?}]} with times relative to `t0`.
 */
async function pollLayout(url, want, t0, deadlineMs) {
  const polls = [];
  while (now() - t0 < deadlineMs) {
    const start = now() - t0;
    let s = null;
    let err = null;
    try {
      s = await sample(url);
    } catch (e) {
      err = e.message.split('\n')[0];
    }
    const end = now() - t0;
    const ok = !!s && s.w === CANVAS.width && s.h === CANVAS.height && near(s.tl, want.tl) && near(s.br, want.br);
    polls.push({ start: round(start), end: round(end), ok, err: err || undefined, tl: s && s.tl, br: s && s.br });
    if (ok) return { ok, polls };
    if (err) await sleep(100); // stream not there (compositor restarting): don't spin
  }
  return { ok: false, polls };
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
    const [a, b, c, d] = [client(), client(), client(), client()];
    const room = `bench${process.pid}r${index}`;
    for (const [cl, uid] of [[a, 1], [b, 2], [c, 3], [d, 4]]) await cl.join({ channelName: room, uid });

    const pushers = [];
    undo.push(() => Promise.all(pushers.map((p) => p.stop())));
    await pushRedAndBlue(pushers, a, b, c);
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

    // The output shows the initial layout before the update is timed.
    const pre = await pollLayout(play.url, { tl: RED, br: BLUE }, tAdd, 20000);
    if (!pre.ok) throw new Error(`initial layout never seen: ${JSON.stringify(pre.polls.slice(-2))}`);
    r.addSeenMs = pre.polls[pre.polls.length - 1].end;

    // 2. updateTasks -> swapped layout visible.
    const tUpd = now();
    await a.updateTasks({ rtmpTasks: [swapped] });
    r.updateAckMs = round(now() - tUpd, 1);
    const post = await pollLayout(play.url, { tl: BLUE, br: RED }, tUpd, UPDATE_DEADLINE_MS);
    r.updatePolls = post.polls;
    if (!post.ok) throw new Error(`swapped layout not seen within ${UPDATE_DEADLINE_MS} ms`);
    const hit = post.polls[post.polls.length - 1];
    r.updateVisibleMs = hit.end; // upper bound: the poll that saw it had finished
    r.updateVisibleAfterMs = hit.start; // the poll before it (ending here) still saw the old layout
    r.updateHitPollMs = round(hit.end - hit.start);
    // The poll granularity: the cycle of the polls before the hit (the hit started within one
    // cycle of the new picture becoming available). The hit itself is longer: it waited for the
    // restarted compositor's first frames. On a steady output a poll waits for the next keyframe.
    const cycles = post.polls.slice(1).map((p, i) => p.start - post.polls[i].start);
    r.updatePollMs = cycles.length ? round(p50(cycles)) : null;
    const steady = [];
    for (let i = 0; i < 3; i++) {
      const t = now();
      const s = await sample(play.url);
      if (!(near(s.tl, BLUE) && near(s.br, RED))) throw new Error(`swapped layout did not stay: ${s.tl} ${s.br}`);
      steady.push(now() - t);
    }
    r.steadyPollMs = round(p50(steady));
    log(`run ${index}: updateTasks -> swap visible in ${r.updateVisibleMs} ms ` +
      `(poll that saw it started at ${r.updateVisibleAfterMs} ms; ${post.polls.length} polls, cycle ${r.updatePollMs} ms; ` +
      `steady-output poll ${r.steadyPollMs} ms)`);

    // 3. Compositor CPU in steady state.
    const compPid = await waitCompositor(serverPid, 5000);
    const cpu = await sampleCpu(compPid, opts.cpuSecs);
    if (compositorPids(serverPid)[0] !== compPid) throw new Error('compositor restarted while sampling');
    r.compositorCpuPct = round(cpu.percent, 1);
    r.compositorCpuSample = { pid: compPid, cpuSecs: round(cpu.cpuSecs, 2), wallSecs: round(cpu.wallSecs, 2) };
    log(`run ${index}: compositor pid ${compPid} CPU ${r.compositorCpuPct}% of one core over ${round(cpu.wallSecs, 1)} s`);

    // The compositor goes before the baseline runs, so the two never compete for CPU.
    const ended = nextEvent(a, 'rtmp-tasks-status', (s) => s.taskId === taskId && s.code === 511, 15000);
    await a.deleteTasks({ taskIds: [taskId] });
    await ended;
    for (let i = 0; i < 50 && procStat(compPid); i++) await sleep(100);

    // Baseline: plain ffmpeg, member 1 re-encoded into member 4's stream.
    const input = (await c.subscribe(1)).url;
    const baseOut = await d.publish();
    const base = startBaseline(input, baseOut);
    undo.push(() => base.stop());
    r.baselineFirstFrameMs = round(await withTimeout(base.firstFrame, 30000, 'baseline first frame'), 1);
    log(`run ${index}: baseline ffmpeg first frame in ${r.baselineFirstFrameMs} ms`);
    const bcpu = await sampleCpu(base.pid, opts.cpuSecs);
    r.baselineCpuPct = round(bcpu.percent, 1);
    r.baselineCpuSample = { pid: base.pid, cpuSecs: round(bcpu.cpuSecs, 2), wallSecs: round(bcpu.wallSecs, 2) };
    log(`run ${index}: baseline CPU ${r.baselineCpuPct}% of one core`);
    await base.stop();
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
  const xs = runs.map((r) => r[key]).filter((x) => typeof x === 'number');
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
    ['update: updateTasks->swap seen in output',
      fmt(s.updateVisibleMs.p50, ' ms'), fmt(s.updateVisibleMs.max, ' ms'), '-', '-', '-'],
    ['CPU at 720p, % of one core',
      fmt(s.compositorCpuPct.p50, '%'), fmt(s.compositorCpuPct.max, '%'),
      fmt(s.baselineCpuPct.p50, '%'), fmt(s.baselineCpuPct.max, '%'),
      ratio(s.compositorCpuPct.p50, s.baselineCpuPct.p50)],
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
    updateVisibleMs: stat(runs, 'updateVisibleMs'),
    updateVisibleAfterMs: stat(runs, 'updateVisibleAfterMs'),
    addSeenMs: stat(runs, 'addSeenMs'),
    updateHitPollMs: stat(runs, 'updateHitPollMs'),
    steadyPollMs: stat(runs, 'steadyPollMs'),
    updatePollMs: stat(runs, 'updatePollMs'),
    compositorCpuPct: stat(runs, 'compositorCpuPct'),
    baselineFirstFrameMs: stat(runs, 'baselineFirstFrameMs'),
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
      updatePoll: `each poll pulls the output with ffmpeg and decodes frame ${POLL_SKIP + 1}; ` +
        'polls run back to back from the call; addSeenMs / updateVisibleMs: when the first poll that saw the ' +
        'layout ended; updateVisibleAfterMs: when that poll started; updateHitPollMs: its length; ' +
        'updatePollMs: median start-to-start cycle of the polls before it (the granularity); steadyPollMs: ' +
        'median length of 3 polls on the steady output afterwards (a new viewer waits for a keyframe, GOP 2 s)',
      baseline: 'plain ffmpeg pulling member 1 (same -rw_timeout/-analyzeduration/-progress 0.5 s as the ' +
        'compositor), libx264 veryfast zerolatency main, 1280x720, 15 fps, same bitrate, aac 64k, to a ' +
        'fourth member\'s stream; run after the task is deleted, so the two never share the CPU',
    },
    summary,
    failedRuns: failed,
    runs,
  };

  const json = JSON.stringify(result, null, 2) + '\n';
  report.write(`\nPush tasks: ${runs.length - failed}/${runs.length} runs ok, ${os.cpus().length} CPU(s) (${result.machine.cpuModel}), ${path.relative(REPO, SERVER_BIN)}\n\n`);
  report.write(table(summary) + '\n\n');
  report.write(`add/update: ffmpeg pulls of the output (grabFrame, frame ${POLL_SKIP + 1}) run back to back from the call; ` +
    `the time is when the first pull that saw the layout ended. Update poll granularity: ${summary.updatePollMs.p50} ms p50 ` +
    `(${summary.updatePollMs.max} ms max) between pulls while the output was down for the compositor restart; the pull that ` +
    `saw the swap started at ${summary.updateVisibleAfterMs.p50} ms p50 and took ${summary.updateHitPollMs.p50} ms p50 ` +
    `(waiting for the new compositor's first frames). A pull on a steady output takes ${summary.steadyPollMs.p50} ms p50 ` +
    `(it waits for the next keyframe, GOP 2 s).\n`);
  report.write(`start columns: mprtc = addTasks() call -> rtmp-tasks-status 505 (signaling + compositor start + first frame out); ` +
    'baseline = plain ffmpeg spawn -> first -progress block with frame > 0 (the 505 condition).\n');
  report.write(`CPU: utime + stime of the ffmpeg process over ${opts.cpuSecs} s; 100% = one core.\n`);
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
