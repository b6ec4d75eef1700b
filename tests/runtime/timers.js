'use strict';
// setTimeout / setInterval of the logic layer: host timers whose callbacks go through the
// mini-program's dispatch (held while suspended, nothing after close).

/** Installs the timer globals; returns the live host timers (for close()). */
function installTimers(rt) {
  const { C, define, dispatch } = rt;
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
    const i = rt.deferred.findIndex((d) => d.key === id);
    if (i >= 0) rt.deferred.splice(i, 1);
  }
  define('setTimeout', (fn, ms, ...args) => addTimer(false, fn, ms, args));
  define('setInterval', (fn, ms, ...args) => addTimer(true, fn, ms, args));
  define('clearTimeout', clearTimer);
  define('clearInterval', clearTimer);
  return timers;
}

module.exports = { installTimers };
