'use strict';
// A whole mprtc cluster on one machine, for trying it out (README "Several nodes (Redis)"):
// redis-server, three mprtc-server nodes, the nginx-rtmp origin and two edges of
// deploy/nginx-rtmp/, and Debian's nginx with deploy/nginx/cluster.conf as the TLS load balancer
// in front of the nodes (and deploy/nginx/cluster-hooks.conf beside it, which carries the
// engine's plain-HTTP hooks to the nodes), every configuration file used as it is with only its
// @PLACEHOLDERS@ replaced. Everything listens on loopback; secrets and a self-signed certificate are made fresh
// in a temporary directory, which goes when the cluster stops (Ctrl-C, SIGTERM).
//
//   node scripts/cluster.js [--base-port 7880] [--server target/debug/mprtc-server] [--keep]
//
// Ports, from the base B: the load balancer B (wss://127.0.0.1:B/ws, https://127.0.0.1:B/api/v1/),
// nodes B+1..B+3, the load balancer's hooks listener B+8, Redis B+9, the origin's RTMP B+10
// and control B+11, edge 1 B+12/B+13, edge 2 B+14/B+15. `--base-port 0` picks free ports instead. What a client needs (the addresses, the
// app key and secret, the CA certificate, each process id) is printed, and written as one JSON
// line on stdout once every process is up. A process that dies (kill -9 a node to watch its
// rooms move) is reported and the rest keep running.

const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');
const { freePort } = require('../bench/common');

const REPO = path.join(__dirname, '..');
const NGINX = process.env.NGINX || 'nginx';
const REDIS = process.env.REDIS_SERVER || 'redis-server';
const APP = 'myapp';
// The certificate's name (and 127.0.0.1 as its address); the URLs use the address, so that
// nothing depends on how this machine resolves localhost.
const NAME = 'localhost';
const HOST = '127.0.0.1';
/** How long each process may take to accept connections. */
const START_MS = 20000;

function parseArgs(argv) {
  const o = { base: 7880, server: path.join(REPO, 'target', 'debug', 'mprtc-server'), keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--base-port') o.base = Number(argv[++i]);
    else if (a === '--server') o.server = path.resolve(argv[++i]);
    else if (a === '--keep') o.keep = true;
    else throw new Error(`unknown argument ${a} (see the top of scripts/cluster.js)`);
  }
  if (!Number.isInteger(o.base) || o.base < 0 || o.base > 65520) throw new Error('--base-port: 0, or 1 to 65520');
  return o;
}

async function layout(base) {
  const at = async (k) => (base === 0 ? freePort() : base + k);
  return {
    lb: await at(0),
    nodes: [await at(1), await at(2), await at(3)],
    hooks: await at(8),
    redis: await at(9),
    origin: { rtmp: await at(10), control: await at(11) },
    edges: [{ rtmp: await at(12), control: await at(13) }, { rtmp: await at(14), control: await at(15) }],
  };
}

/** Resolves once 127.0.0.1:`port` accepts a connection; rejects after START_MS or if `child` exits. */
function accepting(port, what, child) {
  const deadline = Date.now() + START_MS;
  return new Promise((resolve, reject) => {
    let exited = null;
    child.once('exit', (code, sig) => (exited = `${what} exited (${code === null ? sig : code}) before it listened on ${port}`));
    const tryOnce = () => {
      if (exited) return reject(new Error(exited));
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline) return reject(new Error(`${what} does not listen on ${port} after ${START_MS} ms`));
        setTimeout(tryOnce, 50);
      });
    };
    tryOnce();
  });
}

/** `template` of deploy/ with each @KEY@ of `vars` replaced; a placeholder left over is an error. */
function fill(file, vars) {
  let text = fs.readFileSync(path.join(REPO, 'deploy', file), 'utf8');
  for (const [k, v] of Object.entries(vars)) text = text.split(`@${k}@`).join(v);
  const left = text.match(/@[A-Z_0-9]+@/);
  if (left) throw new Error(`${file}: placeholder ${left[0]} left`);
  return text;
}

class Cluster {
  constructor(opts) {
    this.opts = opts;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mprtc-cluster-'));
    this.procs = []; // {what, child}
    this.stopping = false;
  }

  log(...a) {
    console.error('[cluster]', ...a);
  }

  spawn(what, cmd, args, opts = {}) {
    const child = spawn(cmd, args, Object.assign({ stdio: ['ignore', 'ignore', 'pipe'] }, opts));
    const logFile = fs.createWriteStream(path.join(this.dir, `${what.replace(/\W+/g, '-')}.log`));
    child.stderr.pipe(logFile);
    child.on('error', (e) => this.log(`${what}: ${e.message}`));
    child.on('exit', (code, sig) => {
      if (!this.stopping) this.log(`${what} exited (${code === null ? sig : code}); the rest keep running`);
    });
    this.procs.push({ what, child });
    return child;
  }

  /** nginx with `text` as its configuration, checked with `nginx -t` first. */
  async nginx(what, text, ports) {
    const dir = path.join(this.dir, what);
    fs.mkdirSync(path.join(dir, 'logs'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true });
    const conf = path.join(dir, 'nginx.conf');
    fs.writeFileSync(conf, text);
    execFileSync(NGINX, ['-t', '-q', '-p', `${dir}/`, '-c', conf], { stdio: ['ignore', 'ignore', 'inherit'] });
    const child = this.spawn(what, NGINX, ['-p', `${dir}/`, '-c', conf]);
    for (const p of ports) await accepting(p, what, child);
  }

  certificate() {
    const cert = path.join(this.dir, 'cert.pem');
    const key = path.join(this.dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-days', '30', '-subj', `/CN=${NAME}`, '-addext', `subjectAltName=DNS:${NAME},IP:127.0.0.1`,
      '-keyout', key, '-out', cert], { stdio: ['ignore', 'ignore', 'pipe'] });
    return { cert, key };
  }

  async start() {
    const { opts } = this;
    if (!fs.existsSync(opts.server)) throw new Error(`${opts.server} missing: cargo build -p mprtc-server`);
    const p = await layout(opts.base);
    const hex = (n) => crypto.randomBytes(n).toString('hex');
    const s = { cluster: hex(32), media: hex(32), hook: hex(32), app: hex(16) };
    const { cert, key } = this.certificate();

    const redisDir = path.join(this.dir, 'redis');
    fs.mkdirSync(redisDir);
    const redis = this.spawn('redis', REDIS, ['--port', String(p.redis), '--bind', '127.0.0.1', '--save', '',
      '--appendonly', 'no', '--dir', redisDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    redis.stdout.resume();
    await accepting(p.redis, 'redis-server', redis);

    // The engine's hooks go through the load balancer's hooks listener to any node, which
    // answers for the room's owner; `n` numbers the engine node (0 the origin, then the edges).
    const hooks = (n) => `http://127.0.0.1:${p.hooks}/hooks/nginx-rtmp/${s.hook}/${n}`;
    const origin = `127.0.0.1:${p.origin.rtmp}`;
    await this.nginx('origin', fill('nginx-rtmp/origin.conf', {
      RTMP_LISTEN: origin, CONTROL_LISTEN: `127.0.0.1:${p.origin.control}`, HOOKS: hooks(0),
    }), [p.origin.rtmp, p.origin.control]);
    for (const [i, e] of p.edges.entries()) {
      await this.nginx(`edge${i + 1}`, fill('nginx-rtmp/edge.conf', {
        RTMP_LISTEN: `127.0.0.1:${e.rtmp}`, CONTROL_LISTEN: `127.0.0.1:${e.control}`, HOOKS: hooks(i + 1),
        ORIGIN: origin, HOOK_SECRET: s.hook,
      }), [e.rtmp, e.control]);
    }

    const controls = [p.origin, ...p.edges].map((x) => ['--media-control', `http://127.0.0.1:${x.control}/control`]);
    const plays = p.edges.map((e) => ['--media-play-base', `rtmp://${HOST}:${e.rtmp}/live`]);
    const env = Object.assign({}, process.env, {
      MPRTC_LOG: process.env.MPRTC_LOG || 'info',
      MPRTC_REDIS_URL: `redis://127.0.0.1:${p.redis}`,
      MPRTC_CLUSTER_SECRET: s.cluster,
      MPRTC_MEDIA_SECRET: s.media,
      MPRTC_MEDIA_HOOK_SECRET: s.hook,
      MPRTC_APPS: `${APP}:${s.app}`,
    });
    for (const [i, port] of p.nodes.entries()) {
      const args = ['serve', '--listen', `127.0.0.1:${port}`, '--cluster-advertise', `http://127.0.0.1:${port}`,
        '--media', 'nginx-rtmp', '--media-rtmp-base', `rtmp://${HOST}:${p.origin.rtmp}/live`,
        '--media-hook-source', '127.0.0.1', ...controls.flat(), ...plays.flat()];
      const node = this.spawn(`node${i + 1}`, opts.server, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      node.stdout.resume();
      await accepting(port, `node ${i + 1}`, node);
    }

    const site = path.join(this.dir, 'lb', 'cluster.conf');
    fs.mkdirSync(path.dirname(site), { recursive: true });
    fs.writeFileSync(site, fill('nginx/cluster.conf', {
      LISTEN: `127.0.0.1:${p.lb}`, SERVER_NAME: NAME, CERTIFICATE: cert, CERTIFICATE_KEY: key,
      NODE_1: `127.0.0.1:${p.nodes[0]}`, NODE_2: `127.0.0.1:${p.nodes[1]}`, NODE_3: `127.0.0.1:${p.nodes[2]}`,
    }) + fill('nginx/cluster-hooks.conf', { HOOKS_LISTEN: `127.0.0.1:${p.hooks}` }));
    // deploy/nginx/cluster.conf is an http-level snippet: a main configuration around it.
    await this.nginx('lb', ['worker_processes 1;', 'daemon off;', 'pid nginx.pid;', 'error_log logs/error.log info;',
      'events { worker_connections 1024; }',
      `http { access_log logs/access.log; client_body_temp_path tmp; proxy_temp_path tmp; fastcgi_temp_path tmp; uwsgi_temp_path tmp; scgi_temp_path tmp; include ${site}; }`,
      ''].join('\n'), [p.lb, p.hooks]);

    return {
      ws: `wss://${HOST}:${p.lb}/ws`,
      api: `https://${HOST}:${p.lb}/api/v1/`,
      app: { key: APP, secret: s.app },
      ca: cert,
      dir: this.dir,
      redis: { url: `redis://127.0.0.1:${p.redis}`, pid: this.pid('redis') },
      lb: { pid: this.pid('lb') },
      nodes: p.nodes.map((port, i) => ({ addr: `127.0.0.1:${port}`, pid: this.pid(`node${i + 1}`) })),
      origin: { rtmp: `rtmp://${HOST}:${p.origin.rtmp}/live`, pid: this.pid('origin') },
      edges: p.edges.map((e, i) => ({ rtmp: `rtmp://${HOST}:${e.rtmp}/live`, pid: this.pid(`edge${i + 1}`) })),
    };
  }

  pid(what) {
    return this.procs.find((x) => x.what === what).child.pid;
  }

  /** SIGTERM to every process, last started first; resolves when all are gone. */
  async stop() {
    this.stopping = true;
    const alive = this.procs.filter((x) => x.child.exitCode === null && x.child.signalCode === null).reverse();
    for (const { child } of alive) {
      await new Promise((resolve) => {
        child.once('exit', resolve);
        child.kill('SIGTERM');
      });
    }
    if (!this.opts.keep) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function explain(info, opts) {
  const server = path.relative(process.cwd(), opts.server) || opts.server;
  console.error(`
mprtc cluster up (logs in ${info.dir}${opts.keep ? ', kept' : ', removed at the end'}):
  mini-programs  ${info.ws}        (trust ${info.ca})
  server API     ${info.api}
  app            ${info.app.key}, secret ${info.app.secret}
  nodes          ${info.nodes.map((n) => `${n.addr} (pid ${n.pid})`).join(', ')}
  media          publish at the origin ${info.origin.rtmp}; play at ${info.edges.map((e) => e.rtmp).join(' or ')}
  Redis          ${info.redis.url}
A join token:  ${server} token --app ${info.app.key} --secret ${info.app.secret} --room r1 --uid 1
Kill a node (kill -9 <pid>) to watch its rooms move; Ctrl-C stops everything.`);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const cluster = new Cluster(opts);
  let stopping = null;
  const stop = () => (stopping = stopping || cluster.stop().then(() => process.exit(0)));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    const info = await cluster.start();
    explain(info, opts);
    process.stdout.write(JSON.stringify(info) + '\n');
  } catch (e) {
    console.error(`scripts/cluster: ${e.message}`);
    await cluster.stop();
    process.exit(1);
  }
}

main();
