'use strict';
// Start-up section: from loading the shim to a usable Client in the simulated mini-program
// runtime (tests/runtime), beside instantiating an empty wasm module the same way in the same
// run. Each sample is a fresh mini-program (the shim instantiates the wasm once per
// mini-program). The first sample is cold (V8 has not compiled this module yet); V8 reuses
// compiled code for identical wasm bytes, so later samples are warm, much as a mini-program
// opened a second time is.
//
// The simulator validates every module's wasm features with wabt before instantiating it,
// which WeChat does not do. So the section runs twice, each time in a child process: as the
// simulator is, and with wabt replaced by a stub that accepts everything (MPRTC_BENCH_NO_WABT=1),
// which is the closer picture of a device. The wabt check alone is timed too.
//
//   node bench/startup.js [--iterations N]     (one child run: JSON on stdout)

const { REPO, now, log, summary, round, table, runJson } = require('./common');
const path = require('node:path');

if (process.env.MPRTC_BENCH_NO_WABT === '1') {
  // Must happen before tests/runtime first asks for wabt (it caches the instance).
  const Module = require('node:module');
  const file = require.resolve('wabt', { paths: [path.join(REPO, 'tests', 'runtime')] });
  const stub = new Module(file);
  stub.filename = file;
  stub.loaded = true;
  stub.exports = () => Promise.resolve({ FEATURES: {}, readWasm: () => ({ validate() {}, destroy() {} }) });
  require.cache[file] = stub;
}
const { createMiniProgram, layoutPackage, validateFeatures } = require('../tests/runtime');

// The smallest valid module: magic and version, no sections.
const EMPTY_WASM = Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);

async function shimToClient(root) {
  const mp = createMiniProgram({ root, wasmCheck: false });
  try {
    const t0 = now();
    const SDK = mp.require('mprtc');
    const t1 = now();
    // A usable Client: the wasm core exists and takes calls (init() resolves once it does).
    const client = SDK.Client({ appkey: 'demo', server: 'ws://127.0.0.1:9/ws' });
    await client.init();
    const t2 = now();
    return { total: t2 - t1 + (t1 - t0), require: t1 - t0, init: t2 - t1 };
  } finally {
    await mp.close();
  }
}

async function emptyInstantiate(root) {
  const mp = createMiniProgram({ root, wasmCheck: false });
  try {
    const t0 = now();
    await mp.evaluate("module.exports = WXWebAssembly.instantiate('empty.wasm', {});", 'bench.js');
    return now() - t0;
  } finally {
    await mp.close();
  }
}

async function measure({ iterations = 30 } = {}) {
  const pkg = layoutPackage({ files: { 'empty.wasm': EMPTY_WASM } });
  const wasm = require('./pkg-size').pkgWasm(path.join(REPO, 'pkg'));
  try {
    await validateFeatures(EMPTY_WASM); // loads wabt itself, outside every timing
    const samples = [];
    const empties = [];
    for (let i = 0; i < iterations; i++) {
      // Alternate which goes first, so neither always runs right after a garbage collection.
      if (i % 2) empties.push(await emptyInstantiate(pkg.root));
      samples.push(await shimToClient(pkg.root));
      if (!(i % 2)) empties.push(await emptyInstantiate(pkg.root));
    }
    const validate = [];
    const validateEmpty = [];
    for (let i = 0; i < 10; i++) {
      let t = now();
      await validateFeatures(wasm);
      validate.push(now() - t);
      t = now();
      await validateFeatures(EMPTY_WASM);
      validateEmpty.push(now() - t);
    }
    const warm = samples.slice(1);
    const r = {
      iterations,
      coldMs: { total: round(samples[0].total, 2), require: round(samples[0].require, 2), init: round(samples[0].init, 2) },
      shimToClientMs: summary(warm.map((s) => s.total)),
      requireMs: summary(warm.map((s) => s.require)),
      initMs: summary(warm.map((s) => s.init)),
      emptyInstantiateMs: summary(empties.slice(1)),
      emptyInstantiateColdMs: round(empties[0], 2),
      simulatorValidationMs: { mprtcWasm: summary(validate), emptyWasm: summary(validateEmpty) },
    };
    return r;
  } finally {
    pkg.cleanup();
  }
}

/** Both child runs: `simulator` (wabt check on) and `device` (wabt stubbed out). */
async function run({ iterations = 30 } = {}) {
  const child = (noWabt) => {
    const env = Object.assign({}, process.env, { MPRTC_BENCH_NO_WABT: noWabt ? '1' : '0' });
    const args = [__filename, '--iterations', String(iterations)];
    return runJson(process.execPath, args, { timeoutMs: 120000, env, prefix: '  ' });
  };
  const device = await child(true);
  const simulator = await child(false);
  const r = { iterations, device, simulator, simulatorValidationMs: simulator.simulatorValidationMs };
  delete device.simulatorValidationMs;
  log(`startup: shim -> Client ${device.shimToClientMs.p50} ms p50 without the wabt check ` +
    `(${simulator.shimToClientMs.p50} ms with it; cold ${device.coldMs.total} ms); empty wasm ${device.emptyInstantiateMs.p50} ms`);
  return r;
}

if (require.main === module) {
  const i = process.argv.indexOf('--iterations');
  measure({ iterations: i > 0 ? Number(process.argv[i + 1]) : 30 }).then(
    (r) => process.stdout.write(JSON.stringify(r) + '\n'),
    (e) => {
      process.stderr.write(`${e.stack || e}\n`);
      process.exit(1);
    },
  );
}

function rows(r) {
  const d = r.device;
  const s = r.simulator;
  return [
    ['start-up: shim -> usable Client, cold (first in process)', `${d.coldMs.total} ms`, `empty wasm ${d.emptyInstantiateColdMs} ms`, '-', null],
    ['start-up: shim -> usable Client, warm p50', `${d.shimToClientMs.p50} ms`, `empty wasm ${d.emptyInstantiateMs.p50} ms`, '-', null],
    ['start-up: same with the simulator\'s wabt check', `${s.shimToClientMs.p50} ms`, `empty wasm ${s.emptyInstantiateMs.p50} ms`, '-', null],
  ];
}

function detail(r) {
  return [
    'Without the simulator\'s wabt check (closer to a device):',
    '',
    detailOf(r.device),
    '',
    'As the simulator runs (every module checked with wabt first):',
    '',
    detailOf(r.simulator),
  ].join('\n');
}

function detailOf(r) {
  return table([
    ['ms', 'p50', 'p90', 'max', 'cold (first)'],
    ['shim require (JS evaluated)', r.requireMs.p50, r.requireMs.p90, r.requireMs.max, r.coldMs.require],
    ['Client init (wasm instantiated, core created)', r.initMs.p50, r.initMs.p90, r.initMs.max, r.coldMs.init],
    ['**shim -> usable Client**', r.shimToClientMs.p50, r.shimToClientMs.p90, r.shimToClientMs.max, r.coldMs.total],
    ['empty wasm via WXWebAssembly.instantiate', r.emptyInstantiateMs.p50, r.emptyInstantiateMs.p90, r.emptyInstantiateMs.max, r.emptyInstantiateColdMs],
  ].concat(r.simulatorValidationMs ? [
    ['wabt check alone, mprtc_bg.wasm', r.simulatorValidationMs.mprtcWasm.p50, r.simulatorValidationMs.mprtcWasm.p90, r.simulatorValidationMs.mprtcWasm.max, '-'],
    ['wabt check alone, empty module', r.simulatorValidationMs.emptyWasm.p50, r.simulatorValidationMs.emptyWasm.p90, r.simulatorValidationMs.emptyWasm.max, '-'],
  ] : []));
}

module.exports = { run, rows, detail };
