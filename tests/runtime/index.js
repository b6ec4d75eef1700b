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
const zlib = require('zlib');
const childProcess = require('child_process');
const WebSocket = require('ws');

const REPO = path.resolve(__dirname, '..', '..');

// WeChat's wrapper parameters (decompiled packages show exactly this list).
const WRAPPER_PARAMS = [
  'require', 'module', 'exports', 'window', 'document', 'frames', 'self', 'location', 'navigator',
  'localStorage', 'history', 'Caches', 'screen', 'alert', 'confirm', 'prompt', 'XMLHttpRequest',
  'WebSocket', 'Reporter', 'webkit', 'WeixinJSCore'
];

// Globals V8 puts in a fresh context that the logic layer must not have.
const REMOVED_GLOBALS = ['WebAssembly'];

const WABT_ALLOWED = { mutable_globals: true, sign_extension: true };

let wabtPromise = null;
function wabt() {
  if (!wabtPromise) wabtPromise = require('wabt')();
  return wabtPromise;
}

// wabt does not enforce multi-value when it is off; catch the form LLVM emits (a function type
// with several results) by reading the type section.
function multiResultType(bytes) {
  let i = 8;
  const leb = () => {
    let v = 0;
    let shift = 0;
    let b;
    do {
      b = bytes[i++];
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80 && i < bytes.length);
    return v;
  };
  while (i < bytes.length) {
    const id = bytes[i++];
    const size = leb();
    const end = i + size;
    if (id === 1) {
      for (let n = leb(), t = 0; t < n && i < end; t++) {
        if (bytes[i++] !== 0x60) return null; // not an MVP func type: wabt reports it
        const params = leb(); // `i += leb()` would read i before leb() moves it
        i += params; // one byte per MVP value type
        const results = leb();
        if (results > 1) return `type ${t} has ${results} results (multi-value)`;
        i += results;
      }
      return null;
    }
    i = end;
  }
  return null;
}

/** Validates `bytes` with wabt, every proposal off except mutable-globals and sign-ext. */
async function validateFeatures(bytes) {
  const multi = multiResultType(bytes);
  if (multi) return multi;
  const w = await wabt();
  const features = {};
  for (const k of Object.keys(w.FEATURES)) features[k] = !!WABT_ALLOWED[k];
  let mod;
  try {
    mod = w.readWasm(new Uint8Array(bytes), features); // a copy: wabt ignores a Buffer's byteOffset
    mod.validate();
  } catch (e) {
    return String(e.message || e).trim();
  } finally {
    if (mod) mod.destroy();
  }
  return null;
}

function defaultWasmCheck() {
  if (process.env.MPRTC_WASM_CHECK) return process.env.MPRTC_WASM_CHECK;
  const p = path.join(REPO, 'target', 'release', 'wasm-check');
  return fs.existsSync(p) ? p : null;
}

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

  // ------------------------------------------------------------------ timers
  let nextTimerId = 1;
  const timers = new Map();
  function addTimer(repeat, fn, ms, args) {
    if (typeof fn !== 'function') throw new C.TypeError('callback must be a function');
    const id = nextTimerId++;
    const delay = Math.max(0, Number(ms) || 0);
    const run = () => {
      if (!repeat) timers.delete(id);
      dispatch(repeat ? 'setInterval' : 'setTimeout', () => fn.apply(undefined, args), id);
    };
    timers.set(id, repeat ? setInterval(run, delay) : setTimeout(run, delay));
    return id;
  }
  function clearTimer(id) {
    const h = timers.get(id);
    if (h !== undefined) {
      clearTimeout(h);
      clearInterval(h);
      timers.delete(id);
    }
    const i = deferred.findIndex((d) => d.key === id);
    if (i >= 0) deferred.splice(i, 1);
  }
  define('setTimeout', (fn, ms, ...args) => addTimer(false, fn, ms, args));
  define('setInterval', (fn, ms, ...args) => addTimer(true, fn, ms, args));
  define('clearTimeout', clearTimer);
  define('clearInterval', clearTimer);
  define('console', opts.console);

  // ------------------------------------------------------------------ App / Page / Component
  let app;
  const pages = [];
  const components = [];
  define('App', (obj) => {
    app = obj || {};
    if (typeof app.onLaunch === 'function') app.onLaunch({ path: '', scene: 1001, query: {} });
  });
  define('getApp', () => app);
  define('Page', (obj) => {
    pages.push(obj);
  });
  define('Component', (obj) => {
    components.push(obj);
  });
  define('getCurrentPages', () => []);

  // ------------------------------------------------------------------ modules
  const cache = new Map();

  function resolveFile(abs) {
    const candidates = [abs, abs + '.js'];
    for (const c of candidates) {
      if (fs.existsSync(c) && fs.statSync(c).isFile()) return c;
    }
    if (fs.existsSync(abs) && fs.statSync(abs).isDirectory()) {
      const pj = path.join(abs, 'package.json');
      if (fs.existsSync(pj)) {
        const main = JSON.parse(fs.readFileSync(pj, 'utf8')).main;
        if (main) {
          const m = resolveFile(path.join(abs, main));
          if (m) return m;
        }
      }
      const index = path.join(abs, 'index.js');
      if (fs.existsSync(index)) return index;
    }
    return null;
  }

  function notDefined(request, from) {
    return new C.Error(
      `module '${request}' is not defined, require args is '${request}'` +
        (from ? ` (from ${path.relative(root, from) || '.'})` : '')
    );
  }

  function resolve(request, fromDir) {
    if (typeof request !== 'string' || request === '') throw notDefined(String(request), fromDir);
    let abs = null;
    if (request.startsWith('./') || request.startsWith('../')) {
      abs = resolveFile(path.resolve(fromDir, request));
    } else if (request.startsWith('/')) {
      throw new C.Error(`require does not support absolute paths: '${request}'`);
    } else {
      // A package name: miniprogram_npm/<name> next to the requiring file or in a parent, up to root.
      for (let dir = fromDir; isInside(root, dir); dir = path.dirname(dir)) {
        const r = resolveFile(path.join(dir, 'miniprogram_npm', request));
        if (r) {
          abs = r;
          break;
        }
        if (dir === root) break;
      }
    }
    if (!abs || !isInside(root, abs)) throw notDefined(request, fromDir);
    return abs;
  }

  function load(abs) {
    const cached = cache.get(abs);
    if (cached) return cached.exports;
    if (!abs.endsWith('.js')) throw new C.Error(`only .js modules can be required: ${path.relative(root, abs)}`);
    const module = new C.Object();
    module.exports = new C.Object();
    cache.set(abs, module);
    const code = fs.readFileSync(abs, 'utf8');
    // Same line as the wrapper head, so stack traces keep the file's line numbers.
    const source = `(function (${WRAPPER_PARAMS.join(', ')}) {${code}\n})`;
    let fn;
    try {
      fn = new vm.Script(source, { filename: abs }).runInContext(context);
    } catch (e) {
      cache.delete(abs);
      throw e; // SyntaxError for import/export/import.meta, as in WeChat
    }
    const dir = path.dirname(abs);
    const req = (request) => load(resolve(request, dir));
    try {
      fn.call(undefined, req, module, module.exports); // every other parameter stays undefined
    } catch (e) {
      cache.delete(abs);
      throw e;
    }
    return module.exports;
  }

  /** Requires a module by its path from the package root ('pages/x/x.js'), or a package name. */
  function requireFromRoot(p) {
    const direct = resolveFile(path.resolve(root, String(p).replace(/^\/+/, '')));
    if (direct && isInside(root, direct)) return load(direct);
    return load(resolve(p, root));
  }

  // ------------------------------------------------------------------ WXWebAssembly
  function wasmPathOf(p) {
    if (typeof p !== 'string') {
      const what = Object.prototype.toString.call(p).slice(8, -1);
      throw new WebAssembly.CompileError(
        `WXWebAssembly.instantiate: the first argument must be a code-package path string, got ${what}`
      );
    }
    if (/^[a-z][a-z0-9+.-]*:/i.test(p)) {
      throw new WebAssembly.CompileError('WebAssembly.instantiate: not support wxfile: or http: path');
    }
    if (!p.endsWith('.wasm') && !p.endsWith('.wasm.br')) {
      throw new WebAssembly.CompileError(`WXWebAssembly.instantiate: not a .wasm or .wasm.br path: ${p}`);
    }
    const abs = path.resolve(root, p.replace(/^\/+/, ''));
    if (!isInside(root, abs) || !fs.existsSync(abs)) {
      throw new WebAssembly.CompileError(`WXWebAssembly.instantiate: file not found in the code package: ${p}`);
    }
    return abs;
  }

  async function instantiateInHost(p, imports) {
    const abs = wasmPathOf(p);
    let bytes = fs.readFileSync(abs);
    if (abs.endsWith('.br')) bytes = zlib.brotliDecompressSync(bytes);
    const featureError = await validateFeatures(bytes);
    if (featureError) {
      throw new WebAssembly.CompileError(
        `WXWebAssembly.instantiate: ${p} uses wasm features outside MVP + mutable-globals + sign-ext: ${featureError}`
      );
    }
    if (wasmCheck) {
      let file = abs;
      let tmp = null;
      if (abs.endsWith('.br')) {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mprtc-wasm-'));
        file = path.join(tmp, 'module.wasm');
        fs.writeFileSync(file, bytes);
      }
      const r = childProcess.spawnSync(wasmCheck, [file], { encoding: 'utf8' });
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
      if (r.status !== 0) {
        throw new WebAssembly.CompileError(`WXWebAssembly.instantiate: wasm-check refused ${p}:\n${r.stdout}${r.stderr}`);
      }
    }
    const module = new WebAssembly.Module(bytes);
    const globals = WebAssembly.Module.exports(module).filter((e) => e.kind === 'global');
    if (globals.length && !opts.allowGlobalExports) {
      throw new WebAssembly.LinkError(
        `WXWebAssembly.instantiate: ${p} exports Global(s) ${globals.map((g) => g.name).join(', ')}; iOS cannot export a Global`
      );
    }
    const instance = await WebAssembly.instantiate(module, imports || {});
    return { instance, module };
  }

  function ModuleCtor() {
    throw new C.TypeError('WXWebAssembly.Module: compiling bytes is not supported; use WXWebAssembly.instantiate(path)');
  }
  ModuleCtor.prototype = WebAssembly.Module.prototype;

  const WXWebAssembly = {
    instantiate(p, imports) {
      return new C.Promise((resolveP, rejectP) => {
        instantiateInHost(p, imports).then(
          ({ instance, module }) =>
            later('WXWebAssembly.instantiate', () => {
              if (opts.instantiateShape === 'instance') resolveP(instance);
              else {
                const pair = new C.Object();
                pair.instance = instance;
                pair.module = module;
                resolveP(pair);
              }
            }),
          (e) => later('WXWebAssembly.instantiate', () => rejectP(e))
        );
      });
    },
    Instance: WebAssembly.Instance,
    Module: ModuleCtor,
    Memory: WebAssembly.Memory,
    Table: WebAssembly.Table,
    Global: WebAssembly.Global,
    CompileError: WebAssembly.CompileError,
    LinkError: WebAssembly.LinkError
  };
  define('WXWebAssembly', WXWebAssembly);

  // ------------------------------------------------------------------ wx: sockets
  const tasks = new Set(); // live (connecting or open) tasks

  function callbacks(o, okMsg, failMsg) {
    o = o || {};
    if (failMsg) {
      const res = { errMsg: failMsg };
      later('fail callback', () => typeof o.fail === 'function' && o.fail(res));
      later('complete callback', () => typeof o.complete === 'function' && o.complete(res));
    } else {
      const res = { errMsg: okMsg };
      later('success callback', () => typeof o.success === 'function' && o.success(res));
      later('complete callback', () => typeof o.complete === 'function' && o.complete(res));
    }
  }

  function toContextArrayBuffer(buf) {
    const ab = new C.ArrayBuffer(buf.length);
    new C.Uint8Array(ab).set(buf);
    return ab;
  }

  function makeTask() {
    const handlers = { open: [], message: [], close: [], error: [] };
    const task = {
      ws: null,
      state: 'connecting', // connecting | open | closing | closed
      emit(kind, res) {
        for (const h of handlers[kind].slice()) dispatch(`SocketTask.on${kind[0].toUpperCase()}${kind.slice(1)}`, () => h(res));
      }
    };
    const api = new C.Object();
    api.onOpen = (cb) => void handlers.open.push(cb);
    api.onMessage = (cb) => void handlers.message.push(cb);
    api.onClose = (cb) => void handlers.close.push(cb);
    api.onError = (cb) => void handlers.error.push(cb);
    api.send = (o) => {
      o = o || {};
      if (task.state !== 'open') return callbacks(o, null, 'sendSocketMessage:fail WebSocket is not connected');
      let data = o.data;
      if (typeof data !== 'string') {
        const tag = Object.prototype.toString.call(data);
        if (tag !== '[object ArrayBuffer]') return callbacks(o, null, 'sendSocketMessage:fail data must be a string or an ArrayBuffer');
        data = Buffer.from(new Uint8Array(data));
      }
      task.ws.send(data, (err) =>
        err ? callbacks(o, null, `sendSocketMessage:fail ${err.message}`) : callbacks(o, 'sendSocketMessage:ok')
      );
    };
    api.close = (o) => {
      o = o || {};
      const code = o.code === undefined ? 1000 : o.code;
      const reason = o.reason === undefined ? '' : String(o.reason);
      if (task.state === 'closing' || task.state === 'closed') return callbacks(o, null, 'closeSocket:fail WebSocket is not connected');
      if (!(code === 1000 || (code >= 3000 && code <= 4999))) {
        return callbacks(o, null, `closeSocket:fail The code must be either 1000, or between 3000 and 4999. ${code} is neither.`);
      }
      if (Buffer.byteLength(reason) > 123) return callbacks(o, null, 'closeSocket:fail The reason must not be greater than 123 UTF-8 bytes');
      if (!task.ws) return callbacks(o, null, 'closeSocket:fail WebSocket is not connected');
      const wasConnecting = task.state === 'connecting';
      task.state = 'closing';
      task.userClose = { code, reason };
      if (wasConnecting) task.ws.terminate();
      else task.ws.close(code, reason);
      callbacks(o, 'closeSocket:ok');
    };
    task.api = api;
    return task;
  }

  function connectSocket(o) {
    o = o || {};
    const task = makeTask();
    const failNow = (msg) => {
      task.state = 'closed';
      callbacks(o, null, msg);
      setImmediate(() => task.emit('error', { errMsg: msg }));
      return task.api;
    };
    if (suspended) return failNow('connectSocket:fail interrupted');
    if (typeof o.url !== 'string' || !/^wss?:\/\//.test(o.url)) return failNow(`connectSocket:fail invalid url "${o.url}"`);
    if (tasks.size >= opts.maxSockets) return failNow(`connectSocket:fail exceed max task count ${opts.maxSockets}`);
    let ws;
    try {
      ws = new WebSocket(o.url, Array.isArray(o.protocols) ? o.protocols : [], {
        headers: Object.assign({}, o.header || {})
      });
    } catch (e) {
      return failNow(`connectSocket:fail ${e.message}`);
    }
    task.ws = ws;
    tasks.add(task);
    callbacks(o, 'connectSocket:ok');
    let responseHeaders = {};
    ws.on('upgrade', (res) => {
      responseHeaders = res.headers;
    });
    ws.on('open', () => {
      if (task.state === 'connecting') task.state = 'open';
      const res = new C.Object();
      res.header = Object.assign(new C.Object(), responseHeaders);
      res.profile = new C.Object();
      task.emit('open', res);
    });
    ws.on('message', (data, isBinary) => {
      const res = new C.Object();
      res.data = isBinary ? toContextArrayBuffer(Buffer.isBuffer(data) ? data : Buffer.concat([].concat(data))) : data.toString('utf8');
      task.emit('message', res);
    });
    ws.on('error', (err) => {
      if (task.userClose) return; // closing a connecting socket is not an error
      const res = new C.Object();
      res.errMsg = `connectSocket:fail ${err.message}`;
      task.emit('error', res);
    });
    ws.on('close', (code, reason) => {
      tasks.delete(task);
      task.state = 'closed';
      const res = new C.Object();
      res.code = task.forced ? 1006 : code;
      res.reason = task.forced ? 'interrupted' : reason.toString('utf8');
      task.emit('close', res);
    });
    return task.api;
  }

  // ------------------------------------------------------------------ wx: app lifecycle
  const hideListeners = [];
  const showListeners = [];
  const networkListeners = [];
  // What wx.onNetworkStatusChange listeners hear when the test changes the network.
  function setNetwork(isConnected, networkType) {
    const res = { isConnected: !!isConnected, networkType: networkType || (isConnected ? 'wifi' : 'none') };
    for (const fn of networkListeners.slice()) dispatch('wx.onNetworkStatusChange', () => fn(res));
  }
  function off(list, fn) {
    if (fn === undefined) list.length = 0;
    else {
      const i = list.indexOf(fn);
      if (i >= 0) list.splice(i, 1);
    }
  }

  function hideApp() {
    if (hidden || closed) return;
    hidden = true;
    for (const fn of hideListeners.slice()) dispatch('wx.onAppHide', () => fn());
    hideTimer = setTimeout(() => {
      hideTimer = null;
      if (opts.suspendOnHide) suspended = true;
      for (const t of tasks) {
        t.forced = true;
        t.ws.terminate();
      }
    }, opts.hideCloseDelayMs);
  }

  function showApp() {
    if (!hidden || closed) return;
    hidden = false;
    if (hideTimer) clearTimeout(hideTimer);
    hideTimer = null;
    const wasSuspended = suspended;
    suspended = false;
    const held = deferred.splice(0);
    const res = { path: 'pages/index/index', scene: 1001, query: {}, referrerInfo: {} };
    for (const fn of showListeners.slice()) dispatch('wx.onAppShow', () => fn(res));
    if (wasSuspended) for (const d of held) dispatch(d.where, d.fn);
  }

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

  // wx.request: a real HTTP request (GET data goes into the query, other methods send it as the
  // body, JSON for objects). Only http(s) URLs; success for any status, as WeChat does.
  function request(o) {
    o = o || {};
    const method = String(o.method || 'GET').toUpperCase();
    const done = (ok, res) => {
      later(ok ? 'success callback' : 'fail callback', () => {
        const f = ok ? o.success : o.fail;
        if (typeof f === 'function') f(res);
      });
      later('complete callback', () => typeof o.complete === 'function' && o.complete(res));
    };
    let url;
    try {
      url = new URL(String(o.url));
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('invalid url');
    } catch (e) {
      done(false, { errMsg: `request:fail invalid url "${o.url}"` });
      return { abort() {} };
    }
    let body = null;
    if (o.data !== undefined && o.data !== null) {
      if (method === 'GET' && typeof o.data === 'object') {
        for (const k of Object.keys(o.data)) url.searchParams.set(k, String(o.data[k]));
      } else {
        body = typeof o.data === 'string' ? o.data : JSON.stringify(o.data);
      }
    }
    const lib = url.protocol === 'https:' ? require('node:https') : require('node:http');
    const req = lib.request(url, { method, headers: Object.assign({}, o.header || {}) }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let data = text;
        if (o.dataType === undefined || o.dataType === 'json') {
          try {
            data = JSON.parse(text);
          } catch (e) {
            data = text;
          }
        }
        done(true, { data, statusCode: res.statusCode, header: res.headers, errMsg: 'request:ok' });
      });
    });
    req.on('error', (e) => done(false, { errMsg: `request:fail ${e.message}` }));
    if (body !== null) req.write(body);
    req.end();
    return { abort: () => req.destroy() };
  }

  const wx = new C.Object();
  Object.assign(wx, {
    request,
    connectSocket,
    onAppHide: (fn) => void hideListeners.push(fn),
    onAppShow: (fn) => void showListeners.push(fn),
    offAppHide: (fn) => off(hideListeners, fn),
    offAppShow: (fn) => off(showListeners, fn),
    onNetworkStatusChange: (fn) => void networkListeners.push(fn),
    offNetworkStatusChange: (fn) => off(networkListeners, fn),
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
    pages,
    components,
    get app() {
      return app;
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
