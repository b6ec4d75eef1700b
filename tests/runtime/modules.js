'use strict';
// require() as WeChat's module loader does it: CommonJS inside WeChat's wrapper function,
// relative paths and miniprogram_npm packages only, nothing outside the package root.

const fs = require('fs');
const path = require('path');
const vm = require('vm');

/** The module loader of one mini-program: { load, resolve, resolveFile, requireFromRoot }. */
function makeModules(rt) {
  const { C, root, context, isInside, WRAPPER_PARAMS } = rt;
  const cache = new Map();

  function resolveFile(abs) {
    const candidates = [abs, abs + '.js'];
    for (const c of candidates) {
      if (fs.existsSync(c) && fs.statSync(c).isFile()) return c;
    }
    if (fs.existsSync(abs) && fs.statSync(abs).isDirectory()) {
      const pj = path.join(abs, 'package.json');
      if (fs.existsSync(pj)) {
        const main = JSON.parse(fs.readFileSync(pj, 'utf8')).main;
        if (main) {
          const m = resolveFile(path.join(abs, main));
          if (m) return m;
        }
      }
      const index = path.join(abs, 'index.js');
      if (fs.existsSync(index)) return index;
    }
    return null;
  }

  function notDefined(request, from) {
    return new C.Error(
      `module '${request}' is not defined, require args is '${request}'` +
        (from ? ` (from ${path.relative(root, from) || '.'})` : '')
    );
  }

  function resolve(request, fromDir) {
    if (typeof request !== 'string' || request === '') throw notDefined(String(request), fromDir);
    let abs = null;
    if (request.startsWith('./') || request.startsWith('../')) {
      abs = resolveFile(path.resolve(fromDir, request));
    } else if (request.startsWith('/')) {
      throw new C.Error(`require does not support absolute paths: '${request}'`);
    } else {
      // A package name: miniprogram_npm/<name> next to the requiring file or in a parent, up to root.
      for (let dir = fromDir; isInside(root, dir); dir = path.dirname(dir)) {
        const r = resolveFile(path.join(dir, 'miniprogram_npm', request));
        if (r) {
          abs = r;
          break;
        }
        if (dir === root) break;
      }
    }
    if (!abs || !isInside(root, abs)) throw notDefined(request, fromDir);
    return abs;
  }

  function load(abs) {
    const cached = cache.get(abs);
    if (cached) return cached.exports;
    if (!abs.endsWith('.js')) throw new C.Error(`only .js modules can be required: ${path.relative(root, abs)}`);
    const module = new C.Object();
    module.exports = new C.Object();
    cache.set(abs, module);
    const code = fs.readFileSync(abs, 'utf8');
    // Same line as the wrapper head, so stack traces keep the file's line numbers.
    const source = `(function (${WRAPPER_PARAMS.join(', ')}) {${code}\n})`;
    let fn;
    try {
      fn = new vm.Script(source, { filename: abs }).runInContext(context);
    } catch (e) {
      cache.delete(abs);
      throw e; // SyntaxError for import/export/import.meta, as in WeChat
    }
    const dir = path.dirname(abs);
    const req = (request) => load(resolve(request, dir));
    try {
      fn.call(undefined, req, module, module.exports); // every other parameter stays undefined
    } catch (e) {
      cache.delete(abs);
      throw e;
    }
    return module.exports;
  }

  /** Requires a module by its path from the package root ('pages/x/x.js'), or a package name. */
  function requireFromRoot(p) {
    const direct = resolveFile(path.resolve(root, String(p).replace(/^\/+/, '')));
    if (direct && isInside(root, direct)) return load(direct);
    return load(resolve(p, root));
  }
  return { load, resolve, resolveFile, requireFromRoot };
}

module.exports = { makeModules };
