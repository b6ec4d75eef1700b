'use strict';
// The NetEase-shaped client. This file only carries things across: wx I/O and timers into the
// Rust core (mprtc_bg.wasm), the core's outputs back out. Every decision lives in the core.
// ES2017 syntax on purpose (no ?. / ?? / class fields): old iOS JavaScriptCore.

var bg = require('./mprtc_bg.js');

// Where 构建npm puts pkg/'s wasm, brotli-compressed (scripts/build-pkg; a MPRTC_WASM_PLAIN=1
// build names the plain .wasm here instead).
var wasmPath = 'miniprogram_npm/mprtc/mprtc_bg.wasm.br';
// require('mprtc').setServer(url), e.g. in app.js: the server of every Client whose options
// name none, so that pages keep NetEase's `Client({debug, appkey})` as it is.
var defaultServer;
var loading = null;

// The only codes the shim writes itself: errors raised when there is no core to ask (before
// the wasm loads, after the client is freed), and the close codes of sockets it ends on its
// own. They are the core's: a test in src/bridge/tests.rs reads these two lines and fails if
// one differs from ErrorCode or the core's close-code constants, so they cannot drift apart.
var CODES = { cancelled: 1007, wasm_unavailable: 1008, unsupported: 1010, no_such_member: 4024 };
var CLOSE = { replaced: 4000, destroyed: 1000, lost: 1006 };

// An MprtcError: the core's {code, reason, message} as a real Error.
function mprtcError(code, reason, message) {
  var e = /** @type {Error & {code: number, reason: string}} */ (new Error(message));
  e.name = 'MprtcError';
  e.code = code;
  e.reason = reason;
  return e;
}

// An error of the shim's own (CODES).
function shimError(reason, message) {
  return mprtcError(CODES[reason], reason, message);
}

// Instantiates the wasm once per mini-program; later calls share the same promise.
function load() {
  if (!loading) {
    loading = new Promise(function (resolve) {
      if (typeof WXWebAssembly === 'undefined') {
        throw shimError('wasm_unavailable', 'WXWebAssembly is missing (WeChat base library 2.14.0+ needed)');
      }
      var imports = {};
      imports['./mprtc_bg.js'] = bg;
      resolve(WXWebAssembly.instantiate(wasmPath, imports));
    }).then(function (res) {
      var inst = res && res.instance ? res.instance : res;
      bg.__wbg_set_wasm(inst.exports);
      if (inst.exports.__wbindgen_start) inst.exports.__wbindgen_start();
    }).catch(function (e) {
      if (e && e.code === CODES.wasm_unavailable) throw e;
      throw shimError('wasm_unavailable', 'cannot load ' + wasmPath + ': ' + ((e && e.message) || e));
    });
    // A failed load may be retried (e.g. after setWasmPath); a good one is kept.
    loading.catch(function () {
      loading = null;
    });
  }
  return loading;
}

// on / off / _emit, once for both dialects: listeners live in `_listeners`, are called with
// the object as `this` and the event's arguments (`args`), and one that throws is logged, not
// let through to the core's output loop. `on` / `off` return what the dialect's API returns:
// the client itself (NetEase) or true (ZEGO, `chain` false).
function listeners(proto, chain) {
  proto.on = function (name, fn) {
    (this._listeners[name] = this._listeners[name] || []).push(fn);
    return chain ? this : true;
  };
  proto.off = function (name, fn) {
    var list = this._listeners[name];
    if (list && fn) {
      var i = list.indexOf(fn);
      if (i >= 0) list.splice(i, 1);
    } else {
      delete this._listeners[name];
    }
    return chain ? this : true;
  };
  proto._emit = function (name, args) {
    var list = (this._listeners[name] || []).slice();
    for (var i = 0; i < list.length; i++) {
      try {
        list[i].apply(this, args);
      } catch (e) {
        console.error('[mprtc] listener for "' + name + '" threw', e);
      }
    }
  };
}

// NetEase's Client is one per mini-program: calling Client again hands back the same client
// until it is destroyed (SDK.destroy() or client.destroy()); later options are ignored.
var instance = null;

function Client(options, unshared) {
  if (!unshared && instance && !instance._destroyed) return instance;
  if (!(this instanceof Client)) return new (/** @type {any} */ (Client))(options, unshared);
  // The ZEGO engine (zego.js) makes its own clients: an app may hold several engines.
  if (!unshared) instance = this;
  options = options || {};
  if (options.wasmPath) wasmPath = options.wasmPath;
  var coreOptions = {};
  for (var k in options) {
    if (k !== 'wasmPath' && Object.prototype.hasOwnProperty.call(options, k)) coreOptions[k] = options[k];
  }
  if (coreOptions.server === undefined) coreOptions.server = defaultServer;
  // `debug: true` (NetEase's option): each API call and event is logged with console.debug.
  this._debug = !!options.debug;
  // Randomness for the core's reconnect jitter (the core itself has no entropy source).
  if (coreOptions.seed === undefined) coreOptions.seed = Math.floor(Math.random() * 4294967296);
  this._options = coreOptions;
  this._core = null;
  this._ready = null;
  this._destroyed = false;
  this._ops = {};
  this._listeners = {};
  this._socket = null;
  this._timer = null;
  this._deadline = undefined;
  this._onHide = null;
  this._onShow = null;
  this._onNet = null;
  this._queue = [];
  this._draining = false;
}

listeners(Client.prototype, true);

Client.prototype.init = function () {
  var self = this;
  if (!this._ready) {
    this._ready = load().then(function () {
      if (self._destroyed) throw shimError('cancelled', 'client was destroyed');
      var core = new bg.WasmClient();
      self._core = core;
      var r = self._run('init', [self._options]);
      if (r.err) {
        self._core = null;
        core.free();
        throw coreError(r.err);
      }
      self._hookApp();
    });
    // A failed init (wasm path, bad options) may be tried again.
    this._ready.catch(function () {
      if (!self._core) self._ready = null;
    });
  }
  return this._ready;
};

// The core's errors arrive as {code, reason, message, field?}; apps get real Errors.
function coreError(e) {
  var err = /** @type {Error & {field?: string}} */ (mprtcError(e.code, e.reason, e.message));
  if (e.field !== undefined) err.field = e.field;
  return err;
}

// JSON.stringify for the core's arguments: a BigInt uid as its decimal string, a bignumber.js
// value through toFixed() (which never uses exponent notation), and NaN or Infinity as their
// names, which the core refuses where a number belongs (JSON would make them null: absent).
function wide(k, v) {
  if (typeof v === 'bigint' || (typeof v === 'number' && !isFinite(v))) return String(v);
  return v && typeof v === 'object' && typeof v.toFixed === 'function' ? v.toFixed() : v;
}

// One call into the core (see src/bridge): the arguments go in as JSON, and back comes the
// call's result with every output the core queued and its next deadline. Outputs queue here
// and are applied in order, also when a listener calls into the client while they are.
// `args` as an array, or as its JSON text already (the ZEGO mixer writes uids beyond 2^53 as
// the numbers they are, which JSON.stringify cannot).
Client.prototype._run = function (name, args) {
  var text = args;
  try {
    if (typeof args !== 'string') text = JSON.stringify(args, wide);
  } catch (e) {
    text = ''; // a cycle: the core answers with a typed error
  }
  var core = this._core;
  var r = JSON.parse(core.call(name, text, Date.now()));
  // One push at a time: push.apply would pass a big room's thousands of outputs as arguments.
  for (var i = 0; i < r.out.length; i++) this._queue.push(r.out[i]);
  this._arm(r.next);
  return r;
};

Client.prototype._drain = function () {
  if (this._draining) return;
  this._draining = true;
  var done = 0;
  try {
    // By index, not shift(): a big room's join brings thousands of outputs at once. Calls
    // from listeners append to the same queue, and the loop reaches their outputs too.
    while (this._core && done < this._queue.length) this._apply(this._queue[done++]);
  } finally {
    this._queue = this._core ? this._queue.slice(done) : [];
    this._draining = false;
  }
};

// Runs one core API call; resolves or rejects when the core reports the op's outcome.
Client.prototype._call = function (method, args) {
  var self = this;
  return this.init().then(function () {
    return new Promise(function (resolve, reject) {
      if (!self._core) throw shimError('cancelled', 'client was destroyed');
      if (self._debug) console.debug('mprtc: ' + method, args);
      var r = self._run(method, args);
      if (r.err) reject(coreError(r.err));
      else self._ops[r.ok] = { resolve: resolve, reject: reject };
      self._drain();
    });
  });
};

// A synchronous question to the core (myUid, uidOfStream); undefined before init.
Client.prototype._query = function (name, args) {
  var v = this._core ? this._run(name, args).ok : null;
  return v === null ? undefined : v;
};

Client.prototype.join = function (params) {
  return this._call('join', [params]);
};
Client.prototype.leave = function () {
  return this._call('leave', []);
};
Client.prototype.publish = function (mediaType) {
  return this._call('publish', [mediaType]);
};
Client.prototype.unpublish = function (mediaType) {
  return this._call('unpublish', [mediaType]);
};
Client.prototype.subscribe = function (uid, mediaType) {
  return this._call('subscribe', [uid, mediaType]);
};
Client.prototype.unsubscribe = function (uid, mediaType) {
  return this._call('unsubscribe', [uid, mediaType]);
};
Client.prototype.mute = function (mediaType) {
  return this._call('mute', [mediaType]);
};
Client.prototype.unmute = function (mediaType) {
  return this._call('unmute', [mediaType]);
};
Client.prototype.setRole = function (role) {
  return this._call('setRole', [role]);
};
Client.prototype.renewToken = function (token) {
  return this._call('renewToken', [token]);
};
Client.prototype.addTasks = function (options) {
  return this._call('addTasks', [options]);
};
Client.prototype.updateTasks = function (options) {
  return this._call('updateTasks', [options]);
};
Client.prototype.deleteTasks = function (options) {
  return this._call('deleteTasks', [options]);
};
// mprtc's extension (NetEase has no room messages): {type: 'broadcast' | 'barrage' | 'command',
// text, to: [uid, ...]} -> {id, ts}; the others get the 'message' event. ZEGO engines in the
// same room send and receive the same messages.
Client.prototype.sendMessage = function (options) {
  var o = options || {};
  return this._call('sendMessage', [o.type, o.text, o.to]);
};
// Forwards a <live-pusher> / <live-player> event to the core (NetEase's dataReporter). Pages
// call it from component handlers without waiting or catching, and components keep reporting
// after leave, so it never rejects: a refused report (bad kind / event, not in a room) is logged
// with its code. The core's reaction (syncDone) arrives as an event.
Client.prototype.dataReporter = function (kind, type, data, uid) {
  return this._report('dataReporter', [kind, type, data, uid]);
};

// A component report, as the core call `name` takes it (dataReporter, or the ZEGO engine's
// reportStream, for which the core finds the component by stream id).
Client.prototype._report = function (name, args) {
  var self = this;
  return this.init().then(function () {
    if (!self._core) return;
    try {
      var r = self._run(name, args);
      if (r.err) console.warn('[mprtc] ' + name + ' ignored:', r.err.code, r.err.message);
    } catch (e) {
      console.error('[mprtc] core ' + name + ' threw', e);
    }
    self._drain();
  }, function () {});
};

// Feeds one input to the core (socket event, timer, app state), then applies its outputs.
Client.prototype._input = function (name, args) {
  if (!this._core) return;
  try {
    this._run(name, args);
  } catch (e) {
    console.error('[mprtc] core ' + name + ' threw', e); // a trap: a bug in the core
  }
  this._drain();
};

Client.prototype._apply = function (out) {
  var op;
  switch (out.kind) {
    case 'connect':
      this._connect(out.url);
      break;
    case 'send':
      if (this._socket && this._socket.live) this._socket.task.send({ data: out.data });
      break;
    case 'close':
      if (this._socket && this._socket.live) this._socket.task.close({ code: out.code, reason: out.reason });
      break;
    case 'event':
      if (this._debug) console.debug('mprtc: event ' + out.name, out.data);
      this._emit(out.name, [out.data]);
      break;
    case 'resolve':
    case 'reject':
      op = this._ops[out.op];
      if (op) {
        delete this._ops[out.op];
        if (out.kind === 'resolve') op.resolve(out.value);
        else op.reject(coreError(out.error));
      }
      break;
    default:
      console.error('[mprtc] unknown core output', out.kind);
  }
};

// (Re)arms the single timer for the core's next deadline (null: none).
Client.prototype._arm = function (d) {
  if (d === null) d = undefined;
  if (d === this._deadline && (this._timer !== null || d === undefined)) return;
  if (this._timer !== null) clearTimeout(this._timer);
  this._timer = null;
  this._deadline = d;
  if (d === undefined) return;
  var self = this;
  this._timer = setTimeout(function () {
    self._timer = null;
    self._deadline = undefined;
    self._input('tick', []);
  }, Math.max(0, d - Date.now()));
};

// One socket at a time. A socket reports to the core until it ends (exactly one socketClosed)
// or a newer socket replaces it; the replaced one is closed and its callbacks ignored.
Client.prototype._connect = function (url) {
  var self = this;
  var prev = this._socket;
  var s = { task: null, live: true, errored: false };
  this._socket = s;
  if (prev && prev.live) {
    prev.live = false;
    try {
      // Not `destroyed`: the server keeps the session for the socket that replaces this one.
      prev.task.close({ code: CLOSE.replaced, reason: 'replaced' });
    } catch (e) {
      // already gone
    }
  }
  function current() {
    return s.live && self._socket === s;
  }
  function error(res) {
    if (!current() || s.errored) return;
    s.errored = true;
    self._input('socketError', [String((res && res.errMsg) || 'socket error')]);
  }
  function closed(code, reason) {
    if (!current()) return;
    s.live = false;
    self._input('socketClosed', [code, reason]);
  }
  s.task = wx.connectSocket({
    url: url,
    fail: function (res) {
      // The connection never started: no onClose will follow, so report both ends here.
      error(res);
      closed(CLOSE.lost, String((res && res.errMsg) || 'connectSocket:fail'));
    }
  });
  if (!s.task) {
    error({ errMsg: 'connectSocket returned no SocketTask' });
    closed(CLOSE.lost, 'connectSocket returned no SocketTask');
    return;
  }
  s.task.onOpen(function () {
    if (current()) self._input('socketOpened', []);
  });
  s.task.onMessage(function (res) {
    // Binary frames are not part of the protocol: the core counts one as unreadable.
    if (current()) self._input('socketMessage', [typeof res.data === 'string' ? res.data : null]);
  });
  s.task.onError(error);
  s.task.onClose(function (res) {
    closed(res && typeof res.code === 'number' ? res.code : CLOSE.lost, String((res && res.reason) || ''));
  });
};

// Forwards wx.onAppHide / wx.onAppShow (appHidden / appShown) and wx.onNetworkStatusChange
// (networkChanged) to the core.
Client.prototype._hookApp = function () {
  var self = this;
  if (typeof wx === 'undefined') return;
  if (wx.onAppHide) {
    this._onHide = function () {
      self._input('appHidden', []);
    };
    this._onShow = function () {
      self._input('appShown', []);
    };
    wx.onAppHide(this._onHide);
    wx.onAppShow(this._onShow);
  }
  if (wx.onNetworkStatusChange) {
    this._onNet = function (res) {
      self._input('networkChanged', [!!(res && res.isConnected)]);
    };
    wx.onNetworkStatusChange(this._onNet);
  }
};

Client.prototype.destroy = function () {
  if (this._destroyed) return;
  this._destroyed = true;
  // Let the core say goodbye first (its destroy() may queue a close and op rejections).
  this._input('destroy', []);
  if (this._timer !== null) clearTimeout(this._timer);
  this._timer = null;
  if (this._onHide && wx.offAppHide) wx.offAppHide(this._onHide);
  if (this._onShow && wx.offAppShow) wx.offAppShow(this._onShow);
  if (this._onNet && wx.offNetworkStatusChange) wx.offNetworkStatusChange(this._onNet);
  var s = this._socket;
  this._socket = null;
  if (s && s.live) {
    s.live = false;
    try {
      s.task.close({ code: CLOSE.destroyed, reason: 'destroyed' });
    } catch (e) {
      // already gone
    }
  }
  var core = this._core;
  this._core = null;
  this._queue = [];
  if (core) core.free();
  var ops = this._ops;
  this._ops = {};
  for (var op in ops) ops[op].reject(shimError('cancelled', 'client was destroyed'));
  this._listeners = {};
};

module.exports = {
  Client: Client,
  load: load,
  shimError: shimError,
  listeners: listeners,
  setWasmPath: function (p) {
    wasmPath = p;
  },
  setServer: function (url) {
    defaultServer = url;
  },
  // Destroys the shared client, as NetEase's YunXinMiniappSDK.destroy() does.
  destroy: function () {
    if (instance) instance.destroy();
    instance = null;
  }
};
