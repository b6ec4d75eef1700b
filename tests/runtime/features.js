'use strict';
// What WeChat's wasm engine accepts: MVP + mutable-globals + sign-ext, checked with wabt (and a
// look at the type section for multi-value, which wabt does not enforce when it is off).

const fs = require('fs');
const path = require('path');
const { uleb } = require('../leb128');

const REPO = path.resolve(__dirname, '..', '..');

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
    const r = uleb(bytes, i);
    i = r.next;
    return r.value;
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

let warned = false;

// tools/wasm-check is the second validator of what WeChat's engine accepts; without it only
// the wabt check runs. scripts/build-pkg builds it, so a missing one means a partial checkout
// or a moved target dir: said once on a developer's machine, an error in CI (CI set), where
// a check quietly not run would look like a check passed.
function defaultWasmCheck() {
  if (process.env.MPRTC_WASM_CHECK) return process.env.MPRTC_WASM_CHECK;
  const p = path.join(REPO, 'target', 'release', 'wasm-check');
  if (fs.existsSync(p)) return p;
  const msg = `${p} is missing (scripts/build-pkg builds it): wasm modules are checked by wabt only`;
  if (process.env.CI) throw new Error(msg);
  if (!warned) console.warn('[runtime] ' + msg);
  warned = true;
  return null;
}

module.exports = { validateFeatures, defaultWasmCheck };
