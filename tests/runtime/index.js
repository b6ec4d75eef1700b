'use strict';
// A simulated WeChat mini-program logic layer for Node tests.
//
// It is deliberately hostile in the ways the real one is (see shared reference wechat-runtime.md):
// no WebAssembly / TextEncoder / TextDecoder / fetch / URL / crypto / atob / queueMicrotask /
// process / Buffer / global require; each file runs inside WeChat's module wrapper, where window,
// self, document, WebSocket... are undefined parameters; CommonJS only; WXWebAssembly.instantiate
// takes only a package path and only MVP + mutable-globals + sign-ext modules without Global
// exports; at most 5 sockets; sockets die (and the JS thread is suspended) a few seconds after
// the app is hidden.
//
//   const { createMiniProgram, layoutPackage } = require('./runtime');
//   const { root, cleanup } = layoutPackage({ pkgDir: 'pkg' });   // pkg/ -> miniprogram_npm/mprtc
//   const mp = createMiniProgram({ root });
//   const SDK = mp.require('miniprogram_npm/mprtc/index.js');     // or mp.require('mprtc')
//   ... mp.hideApp(); mp.showApp(); mp.sockets; await mp.close(); cleanup();

const fs = require('fs');
const os = require('os');
const path = require('path');
const vm = require('vm');
const { validateFeatures, defaultWasmCheck } = require('./features');
const { installTimers } = require('./timers');
const { installPages } = require('./pages');
const { makeModules } = require('./modules');
const { installWasm } = require('./wasm');
const { makeSockets } = require('./sockets');
const { makeLifecycle } = require('./lifecycle');
const { makeRequest } = require('./request');

const REPO = path.resolve(__dirname, '..', '..');

// WeChat's wrapper parameters (decompiled packages show exactly this list).
const WRAPPER_PARAMS = [
  'require', 'module', 'exports', 'window', 'document', 'frames', 'self', 'location', 'navigator',
  'localStorage', 'history', 'Caches', 'screen', 'alert', 'confirm', 'prompt', 'XMLHttpRequest',
  'WebSocket', 'Reporter', 'webkit', 'WeixinJSCore'
];

// Globals V8 puts in a fresh context that the logic layer must not have.
const REMOVED_GLOBALS = ['WebAssembly'];

function isInside(root, p) {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Creates a simulated mini-program whose package root is `root`.
 *
 * options:
 *   root                 package root (required)
 *   instantiateShape     'pair' (resolve {instance, module}, default) or 'instance' (bare Instance)
 *   hideCloseDelayMs     sockets are closed this long after hideApp() (default 5000)
 *   suspendOnHide        after that delay, also hold every timer/socket callback until showApp()
 *                        (the JS thread is suspended), and fail connectSocket (default true)
 *   maxSockets           default 5
 *   wasmCheck            path of tools/wasm-check to run as a second validator; false to skip
 *                        (default: $MPRTC_WASM_CHECK or <repo>/target/release/wasm-check if built)
 *   allowGlobalExports   default false
 *   console              console object for the mini-program (default: the host console)
 *   onError(err, where)  uncaught errors in mini-program callbacks (default: console.error);
 *                        they are also collected in mp.errors
 *   systemInfo           fields merged into wx.getSystemInfoSync()
 *   trustedCa            PEM certificate(s) wss:// sockets trust instead of the system's (a
 *                        phone that trusts a test's self-signed certificate)
 *
 * wx has: connectSocket (real WebSockets, WeChat's limits), request (real HTTP), onAppHide /
 * onAppShow / onNetworkStatusChange / off*, getSystemInfoSync.
 */
function createMiniProgram(options) {
  const opts = Object.assign(
    {
      instantiateShape: 'pair',
      hideCloseDelayMs: 5000,
      suspendOnHide: true,
      maxSockets: 5,
      allowGlobalExports: false,
      console: console
    },
    options
  );
  if (!opts.root) throw new Error('createMiniProgram: options.root is required');
  if (opts.instantiateShape !== 'pair' && opts.instantiateShape !== 'instance') {
    throw new Error("createMiniProgram: instantiateShape must be 'pair' or 'instance'");
  }
  const root = path.resolve(opts.root);
  const wasmCheck = opts.wasmCheck === undefined ? defaultWasmCheck() : opts.wasmCheck || null;
  const errors = [];
  const onError = opts.onError || ((e, where) => opts.console.error(`[mini-program] uncaught error in ${where}:`, e));

  let closed = false;
  let hidden = false;
  let suspended = false;
  let hideTimer = null;
  const deferred = []; // callbacks held while suspended
  // Timer callbacks held by holdTimers() until releaseTimers(): a test that must show the SDK
  // did something without waiting for one of its timers holds them, so no clock can do it.
  let timersHeld = false;
  const heldTimers = [];

  // ------------------------------------------------------------------ context
  const context = vm.createContext(
    {},
    { name: 'mini-program logic layer', codeGeneration: { strings: false, wasm: false } }
  );
  const G = vm.runInContext('globalThis', context);
  for (const name of REMOVED_GLOBALS) delete G[name];
  const C = {
    Promise: G.Promise,
    Object: G.Object,
    Error: G.Error,
    TypeError: G.TypeError,
    ArrayBuffer: G.ArrayBuffer,
    Uint8Array: G.Uint8Array
  };

  function define(name, value) {
    Object.defineProperty(G, name, { value, writable: true, configurable: true, enumerable: false });
  }

  // Runs a callback into mini-program code: nothing after close(), held while suspended,
  // exceptions reported (never thrown into the host).
  function dispatch(where, fn, key) {
    if (closed) return;
    if (timersHeld && (where === 'setTimeout' || where === 'setInterval')) {
      heldTimers.push({ where, fn });
      return;
    }
    if (suspended) {
      if (key === undefined || !deferred.some((d) => d.key === key)) deferred.push({ where, fn, key });
      return;
    }
    try {
      fn();
    } catch (e) {
      errors.push(e);
      onError(e, where);
    }
  }
  function later(where, fn) {
    setImmediate(() => dispatch(where, fn));
  }

  // ------------------------------------------------------------------ the parts
  // Each part gets this shared state: the context and its constructors, the options, the
  // dispatch that suspends and reports, and the app's state (closed, hidden, suspended).
  const rt = { opts, root, context, G, C, define, dispatch, later, isInside, wasmCheck, WRAPPER_PARAMS };
  Object.defineProperties(rt, {
    closed: { get: () => closed },
    hidden: { get: () => hidden, set: (v) => { hidden = v; } },
    suspended: { get: () => suspended, set: (v) => { suspended = v; } },
    hideTimer: { get: () => hideTimer, set: (v) => { hideTimer = v; } },
    deferred: { get: () => deferred }
  });
  const timers = installTimers(rt);
  define('console', opts.console);
  const registered = installPages(rt);
  const { load, resolve, requireFromRoot } = makeModules(rt);
  installWasm(rt);
  const { connectSocket, tasks } = makeSockets(rt);
  const life = makeLifecycle(rt, tasks);
  const { hideApp, showApp, setNetwork, off } = life;
  const request = makeRequest(rt);

  const systemInfo = Object.assign(
    {
      brand: 'devtools',
      model: 'simulated',
      platform: 'devtools',
      system: 'iOS 16.0',
      version: '8.0.50',
      SDKVersion: '3.4.0',
      language: 'zh_CN',
      pixelRatio: 2,
      screenWidth: 375,
      screenHeight: 812,
      windowWidth: 375,
      windowHeight: 812,
      statusBarHeight: 44
    },
    opts.systemInfo || {}
  );

  const wx = new C.Object();
  Object.assign(wx, {
    request,
    connectSocket,
    onAppHide: (fn) => void life.hideListeners.push(fn),
    onAppShow: (fn) => void life.showListeners.push(fn),
    offAppHide: (fn) => off(life.hideListeners, fn),
    offAppShow: (fn) => off(life.showListeners, fn),
    onNetworkStatusChange: (fn) => void life.networkListeners.push(fn),
    offNetworkStatusChange: (fn) => off(life.networkListeners, fn),
    getSystemInfoSync: () => Object.assign(new C.Object(), systemInfo)
  });
  define('wx', wx);

  // ------------------------------------------------------------------ control
  return {
    root,
    context,
    global: G,
    wx,
    errors,
    pages: registered.pages,
    components: registered.components,
    get app() {
      return registered.app;
    },
    require: requireFromRoot,
    hideApp,
    showApp,
    /** Tells wx.onNetworkStatusChange listeners the network is (dis)connected. */
    setNetwork,
    get hidden() {
      return hidden;
    },
    get suspended() {
      return suspended;
    },
    /** Holds every timer callback of the mini-program (sockets and app events still run). */
    holdTimers() {
      timersHeld = true;
    },
    /** Runs the timer callbacks held since holdTimers(), in order, and lets later ones run. */
    releaseTimers() {
      timersHeld = false;
      for (const h of heldTimers.splice(0)) dispatch(h.where, h.fn);
    },
    /** Number of timer callbacks held by holdTimers(). */
    get heldTimers() {
      return heldTimers.length;
    },
    /** Number of sockets connecting or open. */
    get sockets() {
      return tasks.size;
    },
    /** Evaluates `code` as a module file at `file` (path from root), as if it were on disk there. */
    evaluate(code, file) {
      const abs = path.resolve(root, file || '__eval__.js');
      if (!isInside(root, abs)) throw new Error('evaluate: file must be inside root');
      const fn = new vm.Script(`(function (${WRAPPER_PARAMS.join(', ')}) {${code}\n})`, { filename: abs }).runInContext(context);
      const module = new C.Object();
      module.exports = new C.Object();
      fn.call(undefined, (r) => load(resolve(r, path.dirname(abs))), module, module.exports);
      return module.exports;
    },
    /** Closes every socket and timer; the mini-program gets no further callbacks. */
    close() {
      closed = true;
      if (hideTimer) clearTimeout(hideTimer);
      for (const h of timers.values()) {
        clearTimeout(h);
        clearInterval(h);
      }
      timers.clear();
      deferred.length = 0;
      const waits = [];
      for (const t of tasks) {
        waits.push(new Promise((r) => t.ws.once('close', r)));
        t.ws.terminate();
      }
      return Promise.all(waits).then(() => undefined);
    }
  };
}

/**
 * Lays out a mini-program package root with a built pkg/ at miniprogram_npm/mprtc (what
 * WeChat's 构建npm produces for a package whose package.json has "miniprogram": ".").
 *
 * options: pkgDir (default <repo>/pkg), root (default: a new temp dir), link (symlink instead of
 * copy), files ({ 'pages/index/index.js': '...' } extra files).
 * Returns { root, cleanup() }.
 */
function layoutPackage(options) {
  const o = Object.assign({ pkgDir: path.join(REPO, 'pkg'), link: false, files: {} }, options);
  const pkgDir = path.resolve(o.pkgDir);
  if (!fs.existsSync(path.join(pkgDir, 'package.json'))) {
    throw new Error(`layoutPackage: ${pkgDir} has no package.json (run scripts/build-pkg)`);
  }
  const made = !o.root;
  const root = o.root ? path.resolve(o.root) : fs.mkdtempSync(path.join(os.tmpdir(), 'mprtc-mp-'));
  const write = (rel, text) => {
    const p = path.join(root, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text);
  };
  if (!fs.existsSync(path.join(root, 'app.json'))) write('app.json', JSON.stringify({ pages: ['pages/index/index'] }, null, 2));
  const dest = path.join(root, 'miniprogram_npm', 'mprtc');
  fs.rmSync(dest, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  if (o.link) fs.symlinkSync(pkgDir, dest, 'dir');
  else fs.cpSync(pkgDir, dest, { recursive: true });
  for (const [rel, text] of Object.entries(o.files)) write(rel, text);
  return {
    root,
    cleanup() {
      if (made) fs.rmSync(root, { recursive: true, force: true });
    }
  };
}

module.exports = { createMiniProgram, layoutPackage, validateFeatures, WRAPPER_PARAMS };
