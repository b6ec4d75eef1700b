'use strict';
// A small host for mini-program pages and components on top of the simulated runtime
// (tests/runtime): what WeChat's framework does around a page's script, minus the rendering.
// It registers App / Page / Component definitions, makes instances with `data` and `setData`
// (path keys such as 'form.uid' or 'players[0].url' included), runs the page stack
// (navigateTo / navigateBack / redirectTo with onLoad / onShow / onHide / onUnload), and gives
// wx the UI calls pages make: navigation, modals, toasts, titles, storage, settings. Component
// events are delivered the way WeChat does, as {type, detail, currentTarget: {dataset}}.
//
//   const host = createHost(mp);                 // mp: createMiniProgram({root}) over a project
//   const join = host.launch();                  // app.js, then the first page of app.json
//   join.onInput(host.event({ value: '42' }, { field: 'uid' }));
//   join.onJoin();                               // wx.navigateTo -> host.top() is the room page
//   host.mirror(room, 'players', 'components/stream-tile/stream-tile', toProps, { playerstate: 'onPlayerState' });

const path = require('node:path');
const fs = require('node:fs');

function parseUrl(url) {
  const [p, q] = String(url).split('?');
  const query = {};
  for (const part of (q || '').split('&')) {
    if (!part) continue;
    const i = part.indexOf('=');
    query[decodeURIComponent(i < 0 ? part : part.slice(0, i))] = i < 0 ? '' : decodeURIComponent(part.slice(i + 1));
  }
  return { route: p.replace(/^\/+/, ''), query };
}

// 'a.b[2].c' -> ['a', 'b', 2, 'c'], as setData reads its keys.
function pathOf(key) {
  const parts = [];
  for (const m of String(key).matchAll(/([^.[\]]+)|\[(\d+)\]/g)) parts.push(m[2] !== undefined ? Number(m[2]) : m[1]);
  return parts;
}

function setPath(obj, key, value) {
  const parts = pathOf(key);
  let o = obj;
  for (let i = 0; i < parts.length - 1; i++) {
    if (o[parts[i]] === null || typeof o[parts[i]] !== 'object') o[parts[i]] = typeof parts[i + 1] === 'number' ? [] : {};
    o = o[parts[i]];
  }
  o[parts[parts.length - 1]] = value;
}

// setData values cross to the view as JSON; functions and undefined do not survive.
function viewCopy(v) {
  return v === undefined ? undefined : JSON.parse(JSON.stringify(v));
}

function createHost(mp, options) {
  const o = Object.assign({ autoConfirmModals: true, settings: { 'scope.camera': true, 'scope.record': true } }, options);
  const root = mp.root;
  const appJson = JSON.parse(fs.readFileSync(path.join(root, 'app.json'), 'utf8'));
  const defs = new Map(); // route -> Page definition
  const componentDefs = new Map();
  const stack = [];
  const storage = new Map();
  const modals = [];
  const toasts = [];
  const titles = [];
  const pusherCalls = []; // LivePusherContext methods called, in order

  /** The definition `${file}.js` registers (in `mp[kind]`, through `ctor()`), its file run once. */
  function definition(cache, kind, ctor, file) {
    if (!cache.has(file)) {
      const before = mp[kind].length;
      mp.require(`${file}.js`);
      if (mp[kind].length !== before + 1) throw new Error(`${file}.js did not call ${ctor}() once`);
      cache.set(file, mp[kind][mp[kind].length - 1]);
    }
    return cache.get(file);
  }
  const pageDef = (route) => definition(defs, 'pages', 'Page', route);
  const componentDef = (p) => definition(componentDefs, 'components', 'Component', p);

  function withSetData(inst) {
    const listeners = [];
    inst.setData = function (patch, cb) {
      for (const k of Object.keys(patch || {})) setPath(inst.data, k, patch[k]);
      for (const l of listeners.slice()) l(inst.data, patch);
      if (typeof cb === 'function') cb();
    };
    inst.__onData = (fn) => listeners.push(fn);
    return inst;
  }

  function instantiatePage(route, query) {
    const def = pageDef(route);
    const inst = {};
    for (const k of Object.keys(def)) inst[k] = k === 'data' ? viewCopy(def.data || {}) : def[k];
    if (!inst.data) inst.data = {};
    inst.route = route;
    inst.options = query;
    withSetData(inst);
    return inst;
  }

  function call(inst, name, arg) {
    if (inst && typeof inst[name] === 'function') return inst[name](arg);
    return undefined;
  }

  function open(url) {
    const { route, query } = parseUrl(url);
    const known = appJson.pages.includes(route) ||
      (appJson.subPackages || appJson.subpackages || []).some((s) => s.pages.some((p) => path.posix.join(s.root, p) === route));
    if (!known) throw new Error(`navigate: ${route} is not a page of app.json`);
    const inst = instantiatePage(route, query);
    stack.push(inst);
    call(inst, 'onLoad', query);
    call(inst, 'onShow');
    call(inst, 'onReady');
    return inst;
  }

  function done(opts, res) {
    setImmediate(() => {
      if (opts && typeof opts.success === 'function') opts.success(res);
      if (opts && typeof opts.complete === 'function') opts.complete(res);
    });
  }

  const wx = mp.wx;
  Object.assign(wx, {
    navigateTo(opts) {
      const top = stack[stack.length - 1];
      call(top, 'onHide');
      open(opts.url);
      done(opts, { errMsg: 'navigateTo:ok' });
    },
    redirectTo(opts) {
      const top = stack.pop();
      call(top, 'onUnload');
      open(opts.url);
      done(opts, { errMsg: 'redirectTo:ok' });
    },
    navigateBack(opts) {
      const n = Math.max(1, (opts && opts.delta) || 1);
      for (let i = 0; i < n && stack.length > 1; i++) call(stack.pop(), 'onUnload');
      call(stack[stack.length - 1], 'onShow');
      done(opts, { errMsg: 'navigateBack:ok' });
    },
    showModal(opts) {
      modals.push({ title: opts.title, content: opts.content });
      if (o.autoConfirmModals) done(opts, { confirm: true, cancel: false, errMsg: 'showModal:ok' });
    },
    showToast(opts) {
      toasts.push(opts.title);
      done(opts, { errMsg: 'showToast:ok' });
    },
    setNavigationBarTitle(opts) {
      titles.push(opts.title);
      done(opts, { errMsg: 'setNavigationBarTitle:ok' });
    },
    setKeepScreenOn(opts) {
      done(opts, { errMsg: 'setKeepScreenOn:ok' });
    },
    getStorageSync(key) {
      return storage.has(key) ? JSON.parse(storage.get(key)) : '';
    },
    setStorageSync(key, value) {
      storage.set(key, JSON.stringify(value));
    },
    // <live-pusher> itself is ffmpeg in these tests; its context only records what was asked.
    createLivePusherContext() {
      const ctx = {};
      for (const m of ['start', 'stop', 'pause', 'resume', 'switchCamera', 'toggleTorch']) {
        ctx[m] = (opts) => {
          pusherCalls.push(m);
          done(opts, { errMsg: `${m}:ok` });
        };
      }
      return ctx;
    },
    openSetting(opts) {
      done(opts, { authSetting: Object.assign({}, o.settings), errMsg: 'openSetting:ok' });
    },
  });
  mp.global.getCurrentPages = () => stack.slice();

  return {
    wx,
    stack,
    modals,
    toasts,
    titles,
    storage,
    pusherCalls,
    /** Runs app.js and opens the first page of app.json (or `url`). */
    launch(url) {
      mp.require('app.js');
      return open(url || `/${appJson.pages[0]}`);
    },
    top() {
      return stack[stack.length - 1];
    },
    /** A component event as WeChat delivers it to a handler. */
    event(detail, dataset, type) {
      const target = { dataset: dataset || {} };
      return { type: type || 'tap', timeStamp: Date.now(), detail: detail || {}, currentTarget: target, target };
    },
    /**
     * Keeps one instance of component `componentPath` per element of `page.data[listKey]`
     * (by its `key`), as `wx:for` would: created and attached when the element appears,
     * properties updated when it changes, detached when it goes. `toProps(item)` gives the
     * properties; `binds` maps the component's events to page handlers ({playerstate:
     * 'onPlayerState'}); `keyField` is the element field `wx:key` names (default 'key').
     * Returns a Map key -> component instance.
     */
    mirror(page, listKey, componentPath, toProps, binds, keyField) {
      const def = componentDef(componentPath);
      const live = new Map();
      const sync = () => {
        const seen = new Set();
        for (const item of page.data[listKey] || []) {
          const key = String(item[keyField || 'key']);
          seen.add(key);
          const props = toProps(item);
          let c = live.get(key);
          if (!c) {
            c = { data: {}, is: componentPath };
            for (const [name, spec] of Object.entries(def.properties || {})) {
              c.data[name] = spec && typeof spec === 'object' && 'value' in spec ? viewCopy(spec.value) : null;
            }
            Object.assign(c.data, viewCopy(def.data || {}), viewCopy(props));
            c.properties = c.data;
            for (const [name, fn] of Object.entries(def.methods || {})) c[name] = fn;
            withSetData(c);
            c.triggerEvent = (name, detail) => {
              const handler = binds && binds[name];
              if (handler) page[handler]({ type: name, detail, currentTarget: { dataset: {} }, target: { dataset: {} } });
            };
            live.set(key, c);
            const attached = (def.lifetimes && def.lifetimes.attached) || def.attached;
            if (attached) attached.call(c);
          } else {
            Object.assign(c.data, viewCopy(props));
          }
        }
        for (const [key, c] of live) {
          if (seen.has(key)) continue;
          live.delete(key);
          const detached = (def.lifetimes && def.lifetimes.detached) || def.detached;
          if (detached) detached.call(c);
        }
      };
      page.__onData(sync);
      sync();
      return live;
    },
    pageDef,
    componentDef,
  };
}

/** Resolves once `pred(page.data)` holds (checked on each setData and every 50 ms). */
function waitData(page, pred, what, timeoutMs) {
  return new Promise((resolve, reject) => {
    const until = Date.now() + (timeoutMs || 20000);
    const tick = () => {
      let ok;
      try {
        ok = pred(page.data);
      } catch (e) {
        ok = false;
      }
      if (ok) return resolve(page.data);
      if (Date.now() > until) {
        return reject(new Error(`page ${page.route}: no ${what || 'expected data'} within ${timeoutMs || 20000} ms; data:\n` +
          JSON.stringify(Object.assign({}, page.data, { t: undefined }), null, 1).slice(0, 4000)));
      }
      setTimeout(tick, 50);
    };
    tick();
  });
}

module.exports = { createHost, waitData, parseUrl };
