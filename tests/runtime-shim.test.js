'use strict';
// The built pkg/ in the strict runtime, and the syntax level of the shipped JS. The shim's own
// behaviours (listeners, destroy, loading once, the wasm path) are tested against the real
// pkg/ and server in e2e/shim.test.js. Run: cd tests && node --test runtime-shim.test.js

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { createMiniProgram, layoutPackage } = require('./runtime');
const { REPO, SHIM } = require('./runtime-support');

// ---------------------------------------------------------- the real pkg/, when it has been built
const PKG = process.env.MPRTC_PKG_DIR ? path.resolve(process.env.MPRTC_PKG_DIR) : path.join(REPO, 'pkg');
const havePkg = fs.existsSync(path.join(PKG, 'mprtc_bg.wasm.br')) || fs.existsSync(path.join(PKG, 'mprtc_bg.wasm'));
for (const shape of ['pair', 'instance']) {
  test(`built pkg/ loads in the strict runtime, shape '${shape}'`, { skip: !havePkg && 'pkg/ not built (scripts/build-pkg)' }, async () => {
    const { root, cleanup } = layoutPackage({ pkgDir: PKG });
    const mp = createMiniProgram({ root, instantiateShape: shape });
    try {
      const SDK = mp.require('mprtc');
      const client = SDK.Client({ appkey: 'test-app', server: 'ws://127.0.0.1:1/ws' });
      await client.init();
      client.destroy();
      await assert.rejects(SDK.Client({}).init(), (e) => typeof e.code === 'string' || typeof e.code === 'number');
      assert.equal(mp.errors.length, 0);
    } finally {
      await mp.close();
      cleanup();
    }
  });
}

// ------------------------------------------------------------------ syntax level of shipped JS
// Nothing newer than ES2017 (old iOS JavaScriptCore): esbuild must have nothing to lower.
test('js-shim (and the built pkg/index.js, glue included) use no syntax newer than ES2017', () => {
  const esbuild = require('esbuild');
  const files = fs.readdirSync(SHIM).filter((f) => f.endsWith('.js')).map((f) => path.join(SHIM, f));
  if (havePkg) files.push(path.join(PKG, 'index.js'));
  for (const f of files) {
    const code = fs.readFileSync(f, 'utf8');
    const as = (target) => esbuild.transformSync(code, { target, loader: 'js', supported: { bigint: true } }).code;
    assert.equal(as('es2017'), as('esnext'), `${path.relative(REPO, f)} needs lowering for es2017`);
  }
  assert.notEqual(
    esbuild.transformSync('var a = b?.c;', { target: 'es2017' }).code,
    esbuild.transformSync('var a = b?.c;', { target: 'esnext' }).code,
    'the check detects optional chaining'
  );
});
