'use strict';
// The one way the end-to-end suites make a simulated mini-program. The shim never lets an error
// through to the app's event loop: a core trap, a listener that threw and a component report the
// core refused are only written to the mini-program's console. A test that only checks the
// events it asked for would pass over such a line, so every mini-program made here keeps its
// console, and when its test ends, the test fails if the SDK logged one it did not expect
// (`mp.expectLog(pattern)` says it does; an expected line that never came fails too), or if a
// callback into the mini-program threw (`mp.errors`).
//
//   const { miniProgram, waitFor } = require('./mp');
//   const mp = miniProgram(t);                 // pkg/ laid out in a fresh package root
//   const c = mp.require('mprtc').Client({...});
//   mp.expectLog(/dataReporter ignored: 1001/); // this test provokes one refused report

const { createMiniProgram, layoutPackage } = require('../runtime');
const { nextEvent } = require('./support');

// What the shim writes when it swallows an error (js-shim/client.js, js-shim/zego.js).
const SWALLOWED = /^\[mprtc\] /;

/** One line of a console call, its arguments as text (an Error as "code message"). */
function lineOf(level, args) {
  const text = args.map((x) => {
    if (x instanceof Error || (x && typeof x === 'object' && typeof x.message === 'string' && typeof x.stack === 'string')) {
      return `${x.code === undefined ? '' : x.code + ' '}${x.message}`;
    }
    if (typeof x === 'string') return x;
    try {
      return JSON.stringify(x);
    } catch (e) {
      return String(x);
    }
  }).join(' ');
  return { level, text };
}

/**
 * A console for a mini-program named `name`, checked when test `t` ends. Returns
 * {console, lines, expectLog(pattern), text()}; `lines` holds {level, text} per call;
 * `errorsOf()` gives the runtime's uncaught callback errors, `close()` (optional) ends the
 * mini-program before a failure is thrown. With MPRTC_E2E_VERBOSE set every line is also printed.
 */
function watchedConsole(t, name, errorsOf, close) {
  const lines = [];
  const expected = [];
  const sink = (level) => (...args) => {
    const line = lineOf(level, args);
    lines.push(line);
    if (process.env.MPRTC_E2E_VERBOSE) console.error(`[${name} ${level}]`, line.text);
  };
  const cons = { log: sink('log'), info: sink('info'), warn: sink('warn'), error: sink('error'), debug: sink('debug') };
  t.after(() => {
    const swallowed = lines.filter((l) => SWALLOWED.test(l.text));
    const unexpected = swallowed.filter((l) => !expected.some((p) => p.test(l.text)));
    const missing = expected.filter((p) => !swallowed.some((l) => p.test(l.text)));
    const problems = [];
    if (unexpected.length) problems.push('the SDK swallowed errors:\n  ' + unexpected.map((l) => `${l.level}: ${l.text}`).join('\n  '));
    if (missing.length) problems.push('expected SDK log lines never came: ' + missing.map(String).join(', '));
    const errors = errorsOf ? errorsOf() : [];
    if (errors.length) problems.push('uncaught errors in mini-program callbacks:\n  ' + errors.map((e) => (e && e.stack) || String(e)).join('\n  '));
    if (!problems.length) return undefined;
    // node:test runs no hook after one that throws: close the mini-program first, so a failed
    // test leaves no socket or timer behind it.
    const failed = new Error(`mini-program ${name}: ${problems.join('\n')}`);
    return Promise.resolve(close && close()).then(() => {
      throw failed;
    });
  });
  return {
    console: cons,
    lines,
    expectLog(pattern) {
      expected.push(pattern);
    },
    text: () => lines.map((l) => l.text),
  };
}

let made = 0;

/**
 * A simulated mini-program with the built pkg/ at miniprogram_npm/mprtc, closed (and its
 * package root removed) after test `t`, its console checked as above. `opts` go to
 * createMiniProgram; `opts.root` reuses a laid-out root, `opts.name` names it in failures.
 * The returned runtime also has `logs` (the console lines) and `expectLog(pattern)`.
 */
function miniProgram(t, opts) {
  const o = Object.assign({}, opts);
  const name = o.name || `mp${++made}`;
  delete o.name;
  if (!o.root) {
    const pkg = layoutPackage({});
    t.after(() => pkg.cleanup());
    o.root = pkg.root;
  }
  let mp = null;
  const watched = watchedConsole(t, name, () => mp.errors, () => mp.close());
  mp = createMiniProgram(Object.assign(o, { console: watched.console }));
  t.after(() => mp.close());
  mp.logs = watched.lines;
  mp.expectLog = watched.expectLog;
  return mp;
}

/**
 * Resolves with `pred()`'s first truthy value, checked at once and then every 20 ms; rejects
 * after `deadlineMs` (a generous bound, 20 s by default: a deadline, never what decides the
 * outcome) with `what` and, if given, `show()` in the message.
 */
function waitFor(pred, what, deadlineMs, show) {
  const ms = deadlineMs || 20000;
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const tick = () => {
      let v;
      try {
        v = pred();
      } catch (e) {
        return reject(e);
      }
      if (v) return resolve(v);
      if (performance.now() - start > ms) {
        return reject(new Error(`waited ${ms} ms for ${what || 'a condition'}${show ? ':\n' + show() : ''}`));
      }
      setTimeout(tick, 20);
    };
    tick();
  });
}

/** `promise`, or a rejection naming `what` if it has not settled within `deadlineMs` (20 s). */
function within(promise, what, deadlineMs) {
  const ms = deadlineMs || 20000;
  let timer;
  const late = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`waited ${ms} ms for ${what}`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

// Whether each sender's audio is muted by marker() (it toggles).
const markerMuted = new WeakMap();

/**
 * The marker that makes "nothing else arrived" an event, not a pause: NetEase client `sender`
 * toggles its audio mute and this resolves once client `receiver` (in the same room) heard it.
 * The server sends a member's events in order, so whatever it sent `receiver` before the
 * marker has arrived by then; an exact list checked at that moment misses nothing late.
 */
async function marker(sender, receiver) {
  const muted = !markerMuted.get(sender);
  markerMuted.set(sender, muted);
  const heard = nextEvent(receiver, muted ? 'mute-audio' : 'unmute-audio', null, 20000);
  await (muted ? sender.mute('audio') : sender.unmute('audio'));
  return heard;
}

module.exports = { miniProgram, watchedConsole, waitFor, within, marker, SWALLOWED };
