'use strict';
// Custom components as WeChat's framework runs them, for what a page that uses a component
// package needs (minus the rendering): the page's WXML tags of its usingComponents become
// instances of the registered Component() definitions, with their properties taken from the
// tags' attributes (`{{a.b}}` bindings against the page's data, re-evaluated at each setData
// before its callback, as the view would), property observers, methods, `this.data` /
// `this.properties`, setData, triggerEvent to the page's `bind<event>` / `bind:<event>`
// handler, and page.selectComponent('#id'). A component's own WXML is read the same way: its
// native <live-pusher> / <live-player> become elements whose attributes follow the component's
// data, reached through wx.createLivePusherContext() / wx.createLivePlayerContext(id, this),
// and whose events (`element.fire('statechange', detail)`) go to the component's handler.
// What the native elements do is the test's (`natives`): here they are ffmpeg.
//
//   const view = mountPage(mp, { page, wxml, usingComponents, natives: { 'live-pusher': {start(el) {...}} } });
//   view.elements('live-pusher')[0].attrs.url; view.components[0].data

const fs = require('node:fs');
const path = require('node:path');

// One tag with its attributes (self-closing or not; the content is not looked at).
const TAG = /<([a-z][\w-]*)((?:\s+[\w:-]+(?:="[^"]*")?)*)\s*\/?>/g;
const ATTR = /([\w:-]+)(?:="([^"]*)")?/g;

/** The tags of a WXML text: [{tag, attrs: {name: raw value}}], in document order. */
function parseWxml(text) {
  const out = [];
  for (const m of text.replace(/<!--[\s\S]*?-->/g, '').matchAll(TAG)) {
    const attrs = {};
    for (const a of m[2].matchAll(ATTR)) attrs[a[1]] = a[2] === undefined ? 'true' : a[2];
    out.push({ tag: m[1], attrs });
  }
  return out;
}

// `a.b[0].c` read from `data`; undefined where the path breaks.
function lookup(data, expr) {
  let v = data;
  for (const m of expr.trim().matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    if (v === null || v === undefined) return undefined;
    v = v[m[2] !== undefined ? Number(m[2]) : m[1]];
  }
  return v;
}

/** A WXML attribute value against `data`: one `{{path}}` gives the value, text around makes a string. */
function evaluate(raw, data) {
  const whole = /^\{\{([^}]*)\}\}$/.exec(raw);
  if (whole) {
    const e = whole[1].trim();
    if (e === 'true' || e === 'false') return e === 'true';
    if (/^-?\d+(\.\d+)?$/.test(e)) return Number(e);
    return lookup(data, e);
  }
  return raw.replace(/\{\{([^}]*)\}\}/g, (_, e) => String(lookup(data, e) ?? ''));
}

const camel = (name) => name.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
// The event a `bindstatechange` / `bind:statechange` / `catchstatechange` attribute is for.
const boundEvent = (name) => (/^(?:bind|catch):?(.+)$/.exec(name) || [])[1];

// Values cross from the logic layer to the view and back as JSON.
const viewCopy = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

function mountPage(mp, options) {
  const { page, wxml, usingComponents, natives } = options;
  const elements = []; // native elements of every component: {tag, id, owner, attrs, raw, fire}
  const components = [];

  function event(type, detail, id) {
    const target = { id: id || '', dataset: {} };
    return { type, timeStamp: Date.now(), detail, currentTarget: target, target };
  }

  // A component's native elements, their attributes following its data.
  function renderNatives(comp, tags) {
    for (const { tag, attrs } of tags) {
      if (!natives || !natives[tag]) continue;
      const el = { tag, id: attrs.id || '', owner: comp, raw: attrs, attrs: {} };
      el.update = () => {
        for (const [k, v] of Object.entries(attrs)) if (!boundEvent(k)) el.attrs[k] = evaluate(v, comp.data);
      };
      el.fire = (name, detail) => {
        const handler = Object.keys(attrs).find((k) => boundEvent(k) === name);
        if (!handler) return;
        const fn = comp[attrs[handler]];
        if (typeof fn !== 'function') throw new Error(`<${tag}> ${handler}="${attrs[handler]}": the component has no such method`);
        mp.global.setTimeout(() => fn.call(comp, event(name, viewCopy(detail), el.id)), 0);
      };
      el.update();
      elements.push(el);
    }
  }

  function setProperty(comp, def, name, value) {
    const spec = (def.properties || {})[name];
    if (spec === undefined) return; // an attribute the component does not declare is dropped
    const old = comp.data[name];
    if (same(old, value)) return;
    comp.data[name] = viewCopy(value);
    if (spec && typeof spec.observer === 'function') spec.observer.call(comp, comp.data[name], old);
    const obs = def.observers && def.observers[name];
    if (typeof obs === 'function') obs.call(comp, comp.data[name]);
  }

  function instantiate(def, tagAttrs, dir) {
    const comp = { data: {}, is: dir, id: tagAttrs.id || '', dataset: {} };
    for (const [name, spec] of Object.entries(def.properties || {})) {
      const hasValue = spec && typeof spec === 'object' && 'value' in spec;
      comp.data[name] = hasValue ? viewCopy(spec.value) : null;
    }
    Object.assign(comp.data, viewCopy(def.data || {}));
    comp.properties = comp.data;
    for (const [name, fn] of Object.entries(def.methods || {})) comp[name] = fn;
    comp.setData = (patch, cb) => {
      for (const [k, v] of Object.entries(patch || {})) comp.data[k] = viewCopy(v);
      for (const el of elements) if (el.owner === comp) el.update();
      if (typeof cb === 'function') mp.global.setTimeout(cb, 0);
    };
    comp.triggerEvent = (name, detail) => {
      const handler = Object.keys(tagAttrs).find((k) => boundEvent(k) === name);
      if (!handler) return;
      const fn = page[tagAttrs[handler]];
      if (typeof fn !== 'function') throw new Error(`${handler}="${tagAttrs[handler]}": the page has no such handler`);
      fn.call(page, event(name, viewCopy(detail === undefined ? {} : detail), comp.id));
    };
    comp.refresh = () => {
      for (const [k, v] of Object.entries(tagAttrs)) if (!boundEvent(k)) setProperty(comp, def, camel(k), evaluate(v, page.data));
      for (const el of elements) if (el.owner === comp) el.update();
    };
    return comp;
  }

  // The definition a component path registers, its files checked as WeChat's build would.
  function load(p) {
    const rel = p.startsWith('/') ? p.slice(1) : path.posix.join('miniprogram_npm', p);
    const base = path.join(mp.root, rel);
    const json = JSON.parse(fs.readFileSync(base + '.json', 'utf8'));
    if (json.component !== true) throw new Error(`${rel}.json does not declare "component": true`);
    const before = mp.components.length;
    mp.require(rel + '.js');
    if (mp.components.length !== before + 1) throw new Error(`${rel}.js did not call Component() once`);
    return { def: mp.components[before], tags: parseWxml(fs.readFileSync(base + '.wxml', 'utf8')) };
  }

  const defs = new Map();
  for (const { tag, attrs } of parseWxml(wxml)) {
    const p = (usingComponents || {})[tag];
    if (!p) continue;
    if (!defs.has(p)) defs.set(p, load(p));
    const { def, tags } = defs.get(p);
    const comp = instantiate(def, attrs, p);
    for (const [k, v] of Object.entries(attrs)) if (!boundEvent(k)) setProperty(comp, def, camel(k), evaluate(v, page.data));
    renderNatives(comp, tags);
    components.push(comp);
    const attached = (def.lifetimes && def.lifetimes.attached) || def.attached;
    if (attached) attached.call(comp);
  }

  // setData: the page's data, then the components' properties, then the callback.
  page.setData = function (patch, cb) {
    for (const [k, v] of Object.entries(patch || {})) setPath(page.data, k, viewCopy(v));
    for (const c of components) c.refresh();
    if (typeof cb === 'function') mp.global.setTimeout(cb, 0);
  };
  page.selectComponent = (sel) => components.find((c) => '#' + c.id === sel) || null;

  // The native contexts: the calls go to the test's native element (`natives[tag][method]`).
  function context(el, methods) {
    const ctx = {};
    for (const m of methods) {
      ctx[m] = (opts) => {
        if (!el) throw new Error(`${m}: no such element on the page`);
        const impl = natives[el.tag][m];
        const res = { errMsg: `${m}:ok` };
        if (impl) impl(el, opts);
        mp.global.setTimeout(() => {
          if (opts && typeof opts.success === 'function') opts.success(res);
          if (opts && typeof opts.complete === 'function') opts.complete(res);
        }, 0);
      };
    }
    return ctx;
  }
  mp.wx.createLivePusherContext = () =>
    context(elements.find((e) => e.tag === 'live-pusher'), ['start', 'stop', 'pause', 'resume', 'startPreview', 'stopPreview',
      'switchCamera', 'toggleTorch', 'snapshot', 'playBGM', 'pauseBGM', 'resumeBGM', 'stopBGM', 'setBGMVolume', 'setMICVolume']);
  mp.wx.createLivePlayerContext = (id, owner) =>
    context(elements.find((e) => e.tag === 'live-player' && e.id === id && (!owner || e.owner === owner)), ['play', 'stop', 'mute',
      'pause', 'resume', 'requestFullScreen', 'exitFullScreen', 'snapshot', 'exitPictureInPicture']);

  return {
    components,
    elements: (tag) => elements.filter((e) => e.tag === tag),
  };
}

// 'a.b[2].c' = value, as setData writes its keys.
function setPath(obj, key, value) {
  const parts = [...String(key).matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) => (m[2] !== undefined ? Number(m[2]) : m[1]));
  let o = obj;
  for (let i = 0; i < parts.length - 1; i++) {
    if (o[parts[i]] === null || typeof o[parts[i]] !== 'object') o[parts[i]] = typeof parts[i + 1] === 'number' ? [] : {};
    o = o[parts[i]];
  }
  o[parts[parts.length - 1]] = value;
}

module.exports = { mountPage, parseWxml, evaluate };
