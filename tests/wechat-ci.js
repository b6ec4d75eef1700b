'use strict';
// WeChat's own build tools, offline: miniprogram-ci's 构建npm (packNpm) and its compile
// (getCompiledResult), the same modules DevTools uses. Each runs in a child process (this file
// as a script) because miniprogram-ci keeps a worker alive after it is done; the script exits
// when its answer is printed.
//
// miniprogram-ci asks servicewechat.com for a project's attributes and for its file-extension
// whitelist. The attributes come from the options here, and its proxy is pointed at a closed
// loopback port, so nothing leaves the machine: the whitelist falls back to the built-in one
// (one "get white ext list fail" line in the log).
//
//   const ci = require('./wechat-ci');
//   const dir = ci.prepareProject(path.join(REPO, 'miniprogram-demo'), { files: { 'config.js': ... } });
//   await ci.packNpm(dir);                          // node_modules/mprtc -> miniprogram_npm/mprtc
//   const { files } = await ci.compile(dir, out);   // every shipped file written under `out`

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');

const REPO = path.resolve(__dirname, '..');
const PKG = path.join(REPO, 'pkg');
const DUMMY_APPID = 'wx0000000000000000';
const CLOSED_PORT_PROXY = 'http://127.0.0.1:9';

// ------------------------------------------------------------------ in the child

async function child(cmd, projectPath, outDir) {
  const ci = require('miniprogram-ci');
  ci.proxy(CLOSED_PORT_PROXY);
  const project = new ci.Project({
    appid: DUMMY_APPID,
    type: 'miniProgram',
    projectPath,
    privateKey: 'offline: no upload',
    // Normally fetched with the upload key; the defaults are what an unconfigured app gets.
    attr: async () => ({ setting: {} }),
    ignores: ['node_modules/**/*'],
  });
  const started = Date.now();
  if (cmd === 'packNpm') {
    const warnings = await ci.packNpm(project, { reporter: () => {} });
    return { warnings, ms: Date.now() - started };
  }
  if (cmd === 'compile') {
    const setting = { es6: true, enhance: true, minify: false };
    const result = await ci.getCompiledResult({ project, setting }, path.join(outDir, '..', path.basename(outDir) + '.zip'));
    const files = [];
    for (const [rel, content] of Object.entries(result)) {
      const p = path.join(outDir, rel);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, content);
      files.push({ path: rel, size: Buffer.byteLength(content) });
    }
    return { files, ms: Date.now() - started };
  }
  throw new Error(`unknown command ${cmd}`);
}

if (require.main === module) {
  const [cmd, projectPath, outDir] = process.argv.slice(2);
  // miniprogram-ci logs to stdout; the answer is the last line, marked.
  child(cmd, path.resolve(projectPath), outDir && path.resolve(outDir)).then(
    (r) => {
      process.stdout.write(`\n@@result ${JSON.stringify(r)}\n`, () => process.exit(0));
    },
    (e) => {
      process.stderr.write(`${(e && e.stack) || e}\n`, () => process.exit(1));
    }
  );
}

// ------------------------------------------------------------------ in the tests

function run(args, timeoutMs) {
  return new Promise((resolve, reject) => {
    // miniprogram-ci leaves an empty hash-named folder in its working directory: keep it in
    // the system's temp folder, not in the repository.
    const p = spawn(process.execPath, [__filename].concat(args), { cwd: os.tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs || 120000);
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      const m = /^@@result (.*)$/m.exec(out);
      if (code === 0 && m) return resolve(Object.assign(JSON.parse(m[1]), { log: out.slice(0, m.index) }));
      reject(new Error(`miniprogram-ci ${args[0]} failed (${signal || code}):\n${err}\n${out}`.trim()));
    });
  });
}

/** 构建npm: packages in `projectDir`/node_modules named in package.json go to miniprogram_npm/. */
function packNpm(projectDir) {
  return run(['packNpm', projectDir]);
}

/**
 * Compiles the project as DevTools does for upload (ES6 → ES5 on) and writes every file the
 * package would hold under `outDir`. Resolves with {files: [{path, size}], ms, log}.
 */
function compile(projectDir, outDir) {
  fs.mkdirSync(outDir, { recursive: true });
  return run(['compile', projectDir, outDir]);
}

/**
 * Copies a mini-program project to a new temporary directory (without node_modules and
 * miniprogram_npm), puts `files` over it, and installs pkg/ as `npm install` does for the
 * demo's `"mprtc": "file:../pkg"`: node_modules/mprtc is a link to pkg/.
 * Returns {dir, cleanup()}.
 */
function prepareProject(srcDir, options) {
  const o = Object.assign({ files: {}, pkgDir: PKG, linkPkg: true }, options);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mprtc-mp-project-'));
  fs.cpSync(srcDir, dir, {
    recursive: true,
    filter: (src) => {
      const rel = path.relative(srcDir, src).split(path.sep);
      return !rel.includes('node_modules') && !rel.includes('miniprogram_npm');
    },
  });
  for (const [rel, text] of Object.entries(o.files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  if (o.linkPkg) {
    fs.mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
    fs.symlinkSync(path.resolve(o.pkgDir), path.join(dir, 'node_modules', 'mprtc'), 'dir');
  }
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Every file under `dir`, as paths relative to it with forward slashes. */
function listFiles(dir) {
  const out = [];
  (function walk(d) {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(dir, p).split(path.sep).join('/'));
    }
  })(dir);
  return out.sort();
}

module.exports = { REPO, PKG, packNpm, compile, prepareProject, listFiles };
