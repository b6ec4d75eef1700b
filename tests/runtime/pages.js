'use strict';
// App / Page / Component: the constructors record what the mini-program registers.

/** Installs App, getApp, Page, Component and getCurrentPages; returns what they record. */
function installPages(rt) {
  const { define } = rt;
  const registered = { app: undefined, pages: [], components: [] };
  define('App', (obj) => {
    registered.app = obj || {};
    if (typeof registered.app.onLaunch === 'function') registered.app.onLaunch({ path: '', scene: 1001, query: {} });
  });
  define('getApp', () => registered.app);
  define('Page', (obj) => {
    registered.pages.push(obj);
  });
  define('Component', (obj) => {
    registered.components.push(obj);
  });
  define('getCurrentPages', () => []);
  return registered;
}

module.exports = { installPages };
