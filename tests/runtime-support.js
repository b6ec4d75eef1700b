'use strict';
// What the runtime tests (runtime-*.test.js) share: temp package roots, a mini-program per test,
// a WebSocket server to talk to, waiting on conditions, and WAT -> wasm through wabt.

const fs = require('fs');
const os = require('os');
const path = require('path');
const { WebSocketServer } = require('ws');
const { createMiniProgram } = require('./runtime');


const REPO = path.resolve(__dirname, '..');
const SHIM = path.join(REPO, 'js-shim');
const ALL_WABT = {
  exceptions: true, mutable_globals: true, sat_float_to_int: true, sign_extension: true, simd: true,
  threads: true, function_references: true, multi_value: true, tail_call: true, bulk_memory: true,
  reference_types: true, annotations: true, code_metadata: true, gc: true, memory64: true,
  multi_memory: true, extended_const: true, relaxed_simd: true
};

let wabt;
// Call from test.before in a file that uses wat2wasm.
async function loadWabt() {
  wabt = await require('wabt')();
}

function wat2wasm(text) {
  const m = wabt.parseWat('t.wat', text, ALL_WABT);
  try {
    return Buffer.from(m.toBinary({}).buffer);
  } finally {
    m.destroy();
  }
}

function tmpRoot(files) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mprtc-rt-'));
  for (const [rel, content] of Object.entries(files || {})) {
    const p = path.join(root, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
  }
  return root;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(cond, what, ms = 3000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

// Runs `body` in a fresh mini-program (and temp root); always closes both.
async function withMp(files, opts, body) {
  const root = tmpRoot(files);
  const mp = createMiniProgram(Object.assign({ root, wasmCheck: false }, opts));
  try {
    return await body(mp, root);
  } finally {
    await mp.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

async function wsServer(onConnection) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss.once('listening', r));
  const conns = [];
  wss.on('connection', (ws, req) => {
    conns.push(ws);
    ws.closeInfo = null;
    ws.received = [];
    ws.on('message', (d, bin) => ws.received.push(bin ? Buffer.from(d) : d.toString()));
    ws.on('close', (code, reason) => (ws.closeInfo = { code, reason: reason.toString() }));
    if (onConnection) onConnection(ws, req);
  });
  return {
    url: `ws://127.0.0.1:${wss.address().port}/ws`,
    conns,
    open: () => conns.filter((c) => c.readyState === 1).length,
    close: () => {
      for (const c of conns) c.terminate();
      return new Promise((r) => wss.close(r));
    }
  };
}

module.exports = { REPO, SHIM, loadWabt, wat2wasm, tmpRoot, sleep, until, withMp, wsServer };
