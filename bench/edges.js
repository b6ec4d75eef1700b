'use strict';
// Edge viewers (issue #15, part of `scripts/bench cluster`; alone: `scripts/bench edges`): N
// concurrent viewers of one stream through an nginx-rtmp origin and two edges started from
// deploy/nginx-rtmp/ (placeholders replaced, nothing else) with mprtc-server admitting every
// player through the hooks, against the embedded single node, in one run, with the same
// publisher and the same viewer client (`mprtc-loadgen viewers`, see bench/loadgen/src/viewers.rs).
//
//   embedded rtmp   one mprtc-server with its embedded media server; RTMP viewers (like for
//                   like with the edges, which speak RTMP only: Debian's nginx RTMP module has
//                   no HTTP-FLV)
//   embedded flv    the same server afresh; HTTP-FLV viewers (what mini-program players use
//                   when RTMP is not an option)
//   edges rtmp      mprtc-server with media = "nginx-rtmp" + origin + two edges; RTMP viewers
//                   on the play URLs mprtc hands out (spread over the edges by uid, signed per
//                   member, admitted by the on_play hook)
//
// Every viewer is a member of the room: it joins, subscribes and plays its own signed URL.
// The publisher loops a 30 s clip made here once (640x360 25 fps H.264 at 1 Mbit/s CBR, GOP 2 s,
// AAC 64 kbit/s) with ffmpeg -c copy, so it costs almost no CPU. Viewers are added step by step
// until a step does not hold ("holds" is defined by the load generator and printed with the
// results); the CPU per viewer is the server-side processes' CPU (mprtc-server, and for the edges
// also the origin's and both edges' nginx master and worker) per viewer per second, at `cpuAt`.

const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { REPO, log, round, sleep, table, runJson, startReady, spawnTracked, stopChild, freePort } = require('./common');

const SERVER_BIN = () => process.env.MPRTC_SERVER_BIN || path.join(REPO, 'target', 'release', 'mprtc-server');
const NGINX = '/usr/sbin/nginx';
const RTMP_MODULE = '/usr/lib/nginx/modules/ngx_rtmp_module.so';
const HOOK_SECRET = 'benchEdgesHookSecret0123456789abcdef';
const MEDIA_SECRET = 'bench-edges-media-secret-0123456789abcdef';
/** Everything comes from 127.0.0.1: lift the per-IP caps, and the room's member cap. */
const CROWD = ['--max-connections', '1000000', '--max-connections-per-ip', '1000000', '--max-members-per-room', '1000000'];
const MEDIA_CROWD = ['--rtmp-max-connections', '1000000', '--rtmp-max-connections-per-ip', '1000000',
  '--flv-max-connections', '1000000', '--flv-max-connections-per-ip', '1000000'];
const CLIP = '640x360 25 fps H.264 1 Mbit/s CBR, GOP 2 s, + AAC 64 kbit/s, 30 s looped with -c copy';

/** The publisher's clip (see the header), made once per run. */
function makeClip(dir) {
  const clip = path.join(dir, 'clip.flv');
  execFileSync(process.env.FFMPEG || 'ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
    '-t', '30', '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '1000k', '-maxrate', '1000k', '-bufsize', '1000k',
    '-x264-params', 'nal-hrd=cbr', '-g', '50', '-keyint_min', '50', '-sc_threshold', '0', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', clip], { stdio: ['ignore', 'ignore', 'inherit'] });
  return clip;
}

/** mprtc-server on a chosen port with `extra` flags: {url, pid, addr, stop}. */
async function startServer(conf, extra) {
  const port = await freePort();
  const s = await startReady(SERVER_BIN(), ['--config', conf, '--listen', `127.0.0.1:${port}`, ...CROWD, ...extra]);
  return { url: s.ready.endpoints.signal, pid: s.child.pid, addr: `127.0.0.1:${port}`, stop: s.stop };
}

/** Resolves once 127.0.0.1:`port` accepts a connection; rejects after `ms`. */
async function accepting(port, ms = 15000) {
  const until = Date.now() + ms;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on ${port}`);
    await sleep(50);
  }
}

/**
 * Starts deploy/nginx-rtmp/`conf` under `dir` with its placeholders replaced by `vars` (as
 * server/tests/engine/nginx.rs does): {pid, stop}, once its listeners accept connections.
 */
async function startNginx(conf, dir, ports, vars) {
  let text = fs.readFileSync(path.join(REPO, 'deploy', 'nginx-rtmp', conf), 'utf8');
  const all = { RTMP_LISTEN: `127.0.0.1:${ports.rtmp}`, CONTROL_LISTEN: `127.0.0.1:${ports.control}`, ...vars };
  for (const [k, v] of Object.entries(all)) text = text.split(`@${k}@`).join(v);
  if (text.includes('@')) throw new Error(`a placeholder of ${conf} is left`);
  for (const d of ['logs', 'tmp']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  const file = path.join(dir, 'nginx.conf');
  fs.writeFileSync(file, text);
  const prefix = `${dir}/`;
  execFileSync(NGINX, ['-t', '-q', '-p', prefix, '-c', file], { stdio: ['ignore', 'ignore', 'inherit'] });
  const child = spawnTracked(NGINX, ['-p', prefix, '-c', file], { stdio: 'ignore' });
  await accepting(ports.rtmp);
  await accepting(ports.control);
  return { pid: child.pid, stop: () => stopChild(child) };
}

/** mprtc-server with media on an nginx-rtmp origin and two edges: {url, pids, stop}. */
async function startEdges(dir, conf) {
  const ports = [];
  for (let i = 0; i < 3; i++) ports.push({ rtmp: await freePort(), control: await freePort() });
  const rtmp = (p) => `rtmp://127.0.0.1:${p.rtmp}/live`;
  const args = ['--media', 'nginx-rtmp', '--media-rtmp-base', rtmp(ports[0]), '--media-hook-secret', HOOK_SECRET,
    '--media-secret', MEDIA_SECRET, '--media-hook-source', '127.0.0.1'];
  for (const p of ports) args.push('--media-control', `http://127.0.0.1:${p.control}/control`);
  for (const p of ports.slice(1)) args.push('--media-play-base', rtmp(p));
  const server = await startServer(conf, args);
  const hooks = (node) => `http://${server.addr}/hooks/nginx-rtmp/${HOOK_SECRET}/${node}`;
  const nodes = [];
  try {
    nodes.push(await startNginx('origin.conf', path.join(dir, 'origin'), ports[0], { HOOKS: hooks(0) }));
    for (const i of [1, 2]) {
      nodes.push(await startNginx('edge.conf', path.join(dir, `edge${i}`), ports[i],
        { HOOKS: hooks(i), ORIGIN: `127.0.0.1:${ports[0].rtmp}`, HOOK_SECRET }));
    }
  } catch (e) {
    for (const n of nodes) await n.stop();
    await server.stop();
    throw e;
  }
  return {
    url: server.url,
    pids: [server.pid, ...nodes.map((n) => n.pid)],
    stop: async () => {
      for (const n of nodes) await n.stop();
      await server.stop();
    },
  };
}

/** One series: `start()` gives the servers; the load generator steps viewers of `protocol` up. */
async function series(name, start, protocol, o) {
  log(`edges: ${name}`);
  const s = await start();
  try {
    return await runJson(o.loadgen, ['viewers', '--url', s.url, '--server-pid', s.pids.join(','), '--protocol', protocol,
      '--steps', o.steps.join(','), '--window-secs', String(o.windowSecs), '--max-secs', String(o.maxSecs),
      '--clip', o.clip, '--ffmpeg', process.env.FFMPEG || 'ffmpeg', '--room', name.replace(/\W/g, '')],
    { timeoutMs: (o.maxSecs + 240) * 1000, prefix: '  ' });
  } finally {
    await s.stop();
  }
}

async function run({ loadgen, steps = [50, 100, 200, 400, 800, 1600, 3200], windowSecs = 10, maxSecs = 200, cpuAt = 200 } = {}) {
  for (const f of [NGINX, RTMP_MODULE]) {
    if (!fs.existsSync(f)) throw new Error(`${f} missing: scripts/setup installs nginx and libnginx-mod-rtmp`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mprtc-bench-edges-'));
  const conf = path.join(dir, 'mprtc.toml');
  fs.writeFileSync(conf, '[[apps]]\nkey = "demo"\ninsecure = true\nmax_rooms = 1000000\n');
  const r = { loadavg: os.loadavg().map((x) => round(x, 2)), cpus: os.cpus().length, clip: CLIP, steps, windowSecs, maxSecs, cpuAt };
  log(`edges: load average at the start ${r.loadavg.join(', ')} (${r.cpus} cores, shared with whatever else runs)`);
  try {
    const o = { loadgen, steps, windowSecs, maxSecs, clip: makeClip(dir) };
    const embedded = () => startServer(conf, ['--rtmp-listen', '127.0.0.1:0', '--flv-listen', '127.0.0.1:0', ...MEDIA_CROWD])
      .then((s) => ({ url: s.url, pids: [s.pid], stop: s.stop }));
    r.embeddedRtmp = await series('embedded rtmp', embedded, 'rtmp', o);
    r.embeddedFlv = await series('embedded flv', embedded, 'flv', o);
    r.edgesRtmp = await series('edges rtmp', () => startEdges(dir, conf), 'rtmp', o);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  r.loadavgEnd = os.loadavg().map((x) => round(x, 2));
  return r;
}

/** The step of `s` with `n` viewers, if it was measured. */
const stepAt = (s, n) => s.steps.find((x) => x.viewers === n);
/** Server-side core-ms per viewer-second at `n`, or null. */
const cpuAtN = (s, n) => (stepAt(s, n) ? stepAt(s, n).serverCpuMsPerViewerSec : null);
/** "N" held, "≥ N" when every step held (the cap, not the servers, stopped it). */
const largest = (s) => (s.stopped === 'a step did not hold' ? `${s.largestHeld}` : `>= ${s.largestHeld}`);
const ms = (x) => (x === null ? '-' : `${x} ms`);

function rows(r) {
  const e = r.edgesRtmp;
  const rt = r.embeddedRtmp;
  const fl = r.embeddedFlv;
  return [
    [`edges: CPU per RTMP viewer at N=${r.cpuAt}, server-side (core-ms per viewer-second)`,
      `${ms(cpuAtN(e, r.cpuAt))} (mprtc-server + 3 nginx)`, `embedded single node: ${ms(cpuAtN(rt, r.cpuAt))}`, '-', null],
    ['edges: largest N of RTMP viewers held (origin + 2 edges)', largest(e), `embedded single node: ${largest(rt)}`, '-', null],
    [`edges: embedded single node, HTTP-FLV viewers: CPU per viewer at N=${r.cpuAt} / largest N held`,
      `${ms(cpuAtN(fl, r.cpuAt))} / ${largest(fl)}`, `same node, RTMP: ${ms(cpuAtN(rt, r.cpuAt))} / ${largest(rt)}`, '-', null],
  ];
}

function detail(r) {
  const lines = [['viewers', 'series', 'holds', 'admitted', 'held', 'covered min / p50 %', 'server CPU', 'core-ms / viewer-s',
    'loadgen CPU', 'Mbit/s per viewer p50', 'join s', 'start s']];
  for (const [name, s] of [['embedded, RTMP', r.embeddedRtmp], ['embedded, HTTP-FLV', r.embeddedFlv], ['origin + 2 edges, RTMP', r.edgesRtmp]]) {
    for (const x of s.steps) {
      lines.push([x.viewers, name, x.holds ? 'yes' : '**no**', x.admitted, x.held, `${x.coveredPct.min} / ${x.coveredPct.p50}`,
        `${x.serverCpuPct}%`, x.serverCpuMsPerViewerSec, `${x.loadgenCpuPct}%`, x.mbitPerViewer.p50, x.joinSecs, x.startSecs]);
    }
  }
  const why = (s) => s.steps.flatMap((x) => x.endReasons).filter((v, i, a) => a.indexOf(v) === i).slice(0, 3);
  const ended = [['embedded RTMP', r.embeddedRtmp], ['embedded HTTP-FLV', r.embeddedFlv], ['edges', r.edgesRtmp]]
    .filter(([, s]) => why(s).length).map(([n, s]) => `${n}: ${why(s).join('; ')}`);
  const split = stepAt(r.edgesRtmp, r.cpuAt);
  const parts = split && split.serverCpuPctEach && split.serverCpuPctEach.length === 4
    ? [`Through the edges at ${r.cpuAt} viewers, the server-side CPU was mprtc-server ${split.serverCpuPctEach[0]}%, ` +
      `the origin ${split.serverCpuPctEach[1]}%, the edges ${split.serverCpuPctEach[2]}% and ${split.serverCpuPctEach[3]}% of a core.`]
    : [];
  return [
    `Edge viewers: one publisher (${r.clip}), viewers added in steps of ${r.steps.join(', ')} until a step does not hold ` +
      `or a series has run ${r.maxSecs} s. A step **holds** when ${r.edgesRtmp.holds}. ` +
      'Each step\'s new viewers first join and subscribe ("join s", until the room\'s join events have drained), then ' +
      'start playing 50 at a time, each batch admitted before the next ("start s"). ' +
      'CPU: the server-side processes\' CPU time over the window (mprtc-server; for the edges also the nginx master and worker ' +
      'of the origin and of each edge, read from /proc over their process trees) per viewer per second; the load generator, ' +
      `which plays every viewer on the same ${r.cpus} cores, is the "loadgen CPU" column. Load average at the start: ` +
      `${r.loadavg.join(', ')}; at the end: ${(r.loadavgEnd || []).join(', ')} (other work shares this machine).`,
    '',
    table(lines),
    ...(parts.length ? ['', ...parts] : []),
    ...(ended.length ? ['', `Why viewers ended: ${ended.join(' / ')}.`] : []),
  ].join('\n');
}

module.exports = { run, rows, detail };
