// ESLint's rules for the project's JavaScript (`scripts/lint` runs them): the recommended set,
// with each folder's runtime as its globals. The packages come from tests/ (pinned there), so
// the repository root needs no package.json of its own.
'use strict';
const js = require('./tests/node_modules/@eslint/js');
const globals = require('./tests/node_modules/globals');

/** WeChat's logic layer, where the shim and the demo run: CommonJS, ES2017, no DOM, no Node. */
const wechat = (more) => ({
  ecmaVersion: 2017,
  sourceType: 'commonjs',
  globals: {
    ...globals.commonjs,
    wx: 'readonly',
    console: 'readonly',
    setTimeout: 'readonly',
    clearTimeout: 'readonly',
    ...more,
  },
});

module.exports = [
  {
    ignores: [
      '**/node_modules/**',
      '**/miniprogram_npm/**',
      'pkg/**',
      'target/**',
      'bench/results/**',
      // A type-checking fixture that uses browser and Node globals on purpose (tsc must fail
      // each use; tests/types.test.js checks that).
      'tests/types/shim-globals.js',
    ],
  },
  js.configs.recommended,
  {
    rules: {
      // The shim and the demo are ES2017 (WeChat's older runtimes), where a catch must name
      // its error even when it is not used.
      'no-unused-vars': ['error', { caughtErrors: 'none', argsIgnorePattern: '^_' }],
      // `new Error(msg, { cause })` is ES2022.
      'preserve-caught-error': 'off',
    },
  },
  {
    // The shim, with the wasm API it loads through.
    files: ['js-shim/**/*.js'],
    languageOptions: wechat({ WXWebAssembly: 'readonly', Promise: 'readonly' }),
  },
  {
    // The <zego-pusher> / <zego-player> components shipped in pkg/.
    files: ['js-shim/zego-*/index.js'],
    languageOptions: wechat({ Component: 'readonly' }),
  },
  {
    // The demo mini-program: the same runtime, plus its page and component constructors.
    files: ['miniprogram-demo/**/*.js'],
    languageOptions: wechat({
      App: 'readonly',
      Page: 'readonly',
      Component: 'readonly',
      Behavior: 'readonly',
      getApp: 'readonly',
      getCurrentPages: 'readonly',
      setInterval: 'readonly',
      clearInterval: 'readonly',
    }),
  },
  {
    // Tests, benchmarks, scripts, deploy/ examples and this file: Node.
    files: ['tests/**/*.js', 'bench/**/*.js', 'scripts/**/*.js', 'deploy/**/*.js', 'eslint.config.js'],
    languageOptions: { sourceType: 'commonjs', globals: { ...globals.node } },
  },
  {
    // The operator console's page script (served by mprtc-server): an ES module in a browser.
    files: ['server/console/**/*.js'],
    languageOptions: { sourceType: 'module', globals: { ...globals.browser } },
  },
  {
    // The console's browser test: Node, with functions it hands to the page to run there.
    files: ['tests/console/**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { ...globals.node, ...globals.browser } },
  },
];
