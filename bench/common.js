'use strict';
// Pieces every benchmark section shares: statistics, /proc sampling, child processes that
// print one JSON line, a table printer and a description of the machine.

const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { spawn, execFileSync } = require('node:child_process');
const { performance } = require('node:perf_hooks');

const REPO = path.resolve(__dirname, '..');
const now = () => performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => process.stderr.write(`[bench] ${a.join(' ')}\n`);

function round(x, d = 0) {
  return x === null || x === undefined || Number.isNaN(x) ? null : Number(x.toFixed(d));
}

/** Nearest-rank percentile of an ascending array. */
function pct(sorted, q) {
  if (!sorted.length) return null;
  const rank = Math.ceil((q / 100) * sorted.length);
  return sorted[Math.min(Math.max(rank, 1), sorted.length) - 1];
}

/** {n, p50, p90, p99, max} of samples in ms, to 0.01 ms. */
function summary(xs) {
  const s = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return { n: 0 };
  return { n: s.length, p50: round(pct(s, 50), 2), p90: round(pct(s, 90), 2), p99: round(pct(s, 99), 2), max: round(s[s.length - 1], 2) };
}

// ------------------------------------------------------------------ /proc
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch (_) {
    return 100;
  }
})();

/** {cpuSecs (utime + stime), rss (bytes), at (ms)} of a live pid, or null. */
function procSample(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+) kB/.exec(status);
    return { at: now(), cpuSecs: (Number(f[11]) + Number(f[12])) / CLK_TCK, rss: rss ? Number(rss[1]) * 1024 : 0 };
  } catch (_) {
    return null;
  }
}

/** CPU between two samples in % of one core. */
function cpuPct(a, b) {
  return a && b && b.at > a.at ? (100 * (b.cpuSecs - a.cpuSecs)) / ((b.at - a.at) / 1000) : null;
}

// ------------------------------------------------------------------ children
const children = new Set();
process.on('exit', () => {
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch (_) { /* gone */ }
  }
});

/** Spawns a child that is killed when the bench exits. */
function spawnTracked(cmd, args, options) {
  const child = spawn(cmd, args, options);
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

/**
 * Runs `cmd args` to completion and parses the last line of its stdout as JSON. stderr is
 * passed through, prefixed, so progress shows. Rejects on a non-zero exit or after `timeoutMs`.
 */
function runJson(cmd, args, { timeoutMs = 300000, prefix = '', env } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawnTracked(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env || process.env });
    let out = '';
    let tail = '';
    child.stdout.on('data', (d) => (out += d));
    readline.createInterface({ input: child.stderr }).on('line', (l) => {
      tail = (tail + l + '\n').slice(-4000);
      process.stderr.write(`${prefix}${l}\n`);
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${path.basename(cmd)} ${args[0]}: no result within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`${path.basename(cmd)} ${args[0]} exited with ${code ?? signal}:\n${tail}`));
      const line = out.trim().split('\n').pop();
      try {
        resolve(JSON.parse(line));
      } catch (e) {
        reject(new Error(`${path.basename(cmd)} ${args[0]}: unreadable output ${JSON.stringify(line)}`));
      }
    });
  });
}

/** Spawns a server-like child that prints one JSON "ready" line; resolves {child, ready}. */
function startReady(cmd, args, timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    const child = spawnTracked(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err = (err + d).slice(-2000)));
    const timer = setTimeout(() => reject(new Error(`${cmd} not ready:\n${err}`)), timeoutMs);
    child.on('exit', (code) => reject(new Error(`${cmd} exited early (${code}):\n${err}`)));
    readline.createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      resolve({ child, ready: JSON.parse(line), stop: () => stopChild(child) });
    });
  });
}

function stopChild(child) {
  return new Promise((res) => {
    if (child.exitCode !== null || child.signalCode !== null) return res();
    child.once('exit', () => res());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}

/**
 * Simulated mini-programs over the package laid out at `root` (tests/runtime): `client(options)`
 * starts one more and returns its mprtc Client, `mps` are the mini-programs so far, `close()`
 * closes them all.
 */
function miniPrograms(root) {
  const { createMiniProgram } = require('../tests/runtime');
  const mps = [];
  return {
    mps,
    client(options) {
      const mp = createMiniProgram({ root, wasmCheck: false });
      mps.push(mp);
      return mp.require('mprtc').Client(options);
    },
    close: () => Promise.all(mps.map((mp) => mp.close())),
  };
}

/** Rejects with `what` if `promise` takes longer than `ms`. */
function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

/** A port on 127.0.0.1 nobody listens on now. */
function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// ------------------------------------------------------------------ output
/** A Markdown table: first row is the header; columns after the first are right-aligned. */
function table(rows) {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))));
  const widths = cells[0].map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const line = (r) => '| ' + r.map((c, i) => (i ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ') + ' |';
  const sep = '|' + widths.map((w, i) => (i ? '-'.repeat(w + 1) + ':' : '-'.repeat(w + 2))).join('|') + '|';
  return [line(cells[0]), sep, ...cells.slice(1).map(line)].join('\n');
}

function machine() {
  const cpus = os.cpus();
  const tool = (cmd, args) => {
    try {
      return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] }).toString().split('\n')[0].trim();
    } catch (_) {
      return null;
    }
  };
  let limits = null;
  try {
    limits = tool('bash', ['-c', 'echo "nofile soft $(ulimit -Sn) hard $(ulimit -Hn)"']);
  } catch (_) { /* none */ }
  return {
    cpuModel: cpus[0] && cpus[0].model,
    cpus: cpus.length,
    memGiB: round(os.totalmem() / 2 ** 30, 1),
    kernel: os.release(),
    node: process.version,
    rustc: tool('rustc', ['--version']),
    ffmpeg: tool(process.env.FFMPEG || 'ffmpeg', ['-version']),
    limits,
    loadavg: os.loadavg().map((x) => round(x, 2)),
  };
}

const kib = (b) => (typeof b === 'number' ? `${round(b / 1024, 1)} KiB` : '-');
const msStr = (x) => (typeof x === 'number' ? `${x} ms` : '-');
const ratio = (a, b) => (typeof a === 'number' && typeof b === 'number' && b > 0 ? round(a / b, 2) : null);

module.exports = {
  REPO,
  CLK_TCK,
  now,
  sleep,
  log,
  round,
  pct,
  summary,
  procSample,
  cpuPct,
  spawnTracked,
  runJson,
  startReady,
  stopChild,
  withTimeout,
  freePort,
  miniPrograms,
  table,
  machine,
  kib,
  msStr,
  ratio,
};
