'use strict';
// WXWebAssembly: instantiate(path) only, from the code package, and only modules WeChat's
// engines accept (features, no exported Globals, a second validator when built).

const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');
const childProcess = require('child_process');
const { validateFeatures } = require('./features');

/** Installs WXWebAssembly. */
function installWasm(rt) {
  const { C, root, opts, wasmCheck, define, later, isInside } = rt;
  function wasmPathOf(p) {
    if (typeof p !== 'string') {
      const what = Object.prototype.toString.call(p).slice(8, -1);
      throw new WebAssembly.CompileError(
        `WXWebAssembly.instantiate: the first argument must be a code-package path string, got ${what}`
      );
    }
    if (/^[a-z][a-z0-9+.-]*:/i.test(p)) {
      throw new WebAssembly.CompileError('WebAssembly.instantiate: not support wxfile: or http: path');
    }
    if (!p.endsWith('.wasm') && !p.endsWith('.wasm.br')) {
      throw new WebAssembly.CompileError(`WXWebAssembly.instantiate: not a .wasm or .wasm.br path: ${p}`);
    }
    const abs = path.resolve(root, p.replace(/^\/+/, ''));
    if (!isInside(root, abs) || !fs.existsSync(abs)) {
      throw new WebAssembly.CompileError(`WXWebAssembly.instantiate: file not found in the code package: ${p}`);
    }
    return abs;
  }

  async function instantiateInHost(p, imports) {
    const abs = wasmPathOf(p);
    let bytes = fs.readFileSync(abs);
    if (abs.endsWith('.br')) bytes = zlib.brotliDecompressSync(bytes);
    const featureError = await validateFeatures(bytes);
    if (featureError) {
      throw new WebAssembly.CompileError(
        `WXWebAssembly.instantiate: ${p} uses wasm features outside MVP + mutable-globals + sign-ext: ${featureError}`
      );
    }
    if (wasmCheck) {
      let file = abs;
      let tmp = null;
      if (abs.endsWith('.br')) {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mprtc-wasm-'));
        file = path.join(tmp, 'module.wasm');
        fs.writeFileSync(file, bytes);
      }
      const r = childProcess.spawnSync(wasmCheck, [file], { encoding: 'utf8' });
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
      if (r.status !== 0) {
        throw new WebAssembly.CompileError(`WXWebAssembly.instantiate: wasm-check refused ${p}:\n${r.stdout}${r.stderr}`);
      }
    }
    const module = new WebAssembly.Module(bytes);
    const globals = WebAssembly.Module.exports(module).filter((e) => e.kind === 'global');
    if (globals.length && !opts.allowGlobalExports) {
      throw new WebAssembly.LinkError(
        `WXWebAssembly.instantiate: ${p} exports Global(s) ${globals.map((g) => g.name).join(', ')}; iOS cannot export a Global`
      );
    }
    const instance = await WebAssembly.instantiate(module, imports || {});
    return { instance, module };
  }

  function ModuleCtor() {
    throw new C.TypeError('WXWebAssembly.Module: compiling bytes is not supported; use WXWebAssembly.instantiate(path)');
  }
  ModuleCtor.prototype = WebAssembly.Module.prototype;

  const WXWebAssembly = {
    instantiate(p, imports) {
      return new C.Promise((resolveP, rejectP) => {
        instantiateInHost(p, imports).then(
          ({ instance, module }) =>
            later('WXWebAssembly.instantiate', () => {
              if (opts.instantiateShape === 'instance') resolveP(instance);
              else {
                const pair = new C.Object();
                pair.instance = instance;
                pair.module = module;
                resolveP(pair);
              }
            }),
          (e) => later('WXWebAssembly.instantiate', () => rejectP(e))
        );
      });
    },
    Instance: WebAssembly.Instance,
    Module: ModuleCtor,
    Memory: WebAssembly.Memory,
    Table: WebAssembly.Table,
    Global: WebAssembly.Global,
    CompileError: WebAssembly.CompileError,
    LinkError: WebAssembly.LinkError
  };
  define('WXWebAssembly', WXWebAssembly);
}

module.exports = { installWasm };
