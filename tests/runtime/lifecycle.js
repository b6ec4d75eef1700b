'use strict';
// The app going to the background and back (sockets die a few seconds after hide, and the JS
// thread is suspended), and the network changing: wx.onAppHide / onAppShow /
// onNetworkStatusChange and what the tests use to drive them.

/** Listener lists and the test's controls: { hideApp, showApp, setNetwork, listeners, off }. */
function makeLifecycle(rt, tasks) {
  const { opts, dispatch } = rt;
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
    if (rt.hidden || rt.closed) return;
    rt.hidden = true;
    for (const fn of hideListeners.slice()) dispatch('wx.onAppHide', () => fn());
    rt.hideTimer = setTimeout(() => {
      rt.hideTimer = null;
      if (opts.suspendOnHide) rt.suspended = true;
      for (const t of tasks) {
        t.forced = true;
        t.ws.terminate();
      }
    }, opts.hideCloseDelayMs);
  }

  function showApp() {
    if (!rt.hidden || rt.closed) return;
    rt.hidden = false;
    if (rt.hideTimer) clearTimeout(rt.hideTimer);
    rt.hideTimer = null;
    const wasSuspended = rt.suspended;
    rt.suspended = false;
    const held = rt.deferred.splice(0);
    const res = { path: 'pages/index/index', scene: 1001, query: {}, referrerInfo: {} };
    for (const fn of showListeners.slice()) dispatch('wx.onAppShow', () => fn(res));
    if (wasSuspended) for (const d of held) dispatch(d.where, d.fn);
  }
  return { hideApp, showApp, setNetwork, off, hideListeners, showListeners, networkListeners };
}

module.exports = { makeLifecycle };
