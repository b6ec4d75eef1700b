'use strict';
// Where the bytes of mprtc_bg.wasm go.
//
// 1. The shipped file's sections (type, import, code, data, ...), read here directly.
// 2. A twin of the shipped file that keeps its function names: the same cargo output run
//    through the same wasm-opt flags as scripts/build-pkg plus -g (names survive; the code
//    is the same), then wasm-bindgen. `twiggy top` on it gives each function's and data
//    segment's size; the names are grouped by crate (and by module inside mprtc). The name
//    section itself is left out: the shipped file has none.
//
// Needs twiggy (`cargo install twiggy --locked`); without it only the sections are reported.
//
//   node bench/wasm-breakdown.js [--top N]     prints the breakdown as JSON

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { uleb } = require('../tests/leb128');

const REPO = path.resolve(__dirname, '..');
const SECTION_NAMES = ['custom', 'type', 'import', 'function', 'table', 'memory', 'global', 'export', 'start', 'element', 'code', 'data', 'datacount'];

/** The sections of a wasm module: [{name, bytes, body}], `bytes` including the section's header. */
function sections(buf) {
  if (buf.readUInt32LE(0) !== 0x6d736100) throw new Error('not a wasm module');
  const out = [];
  let i = 8;
  const leb = () => {
    const r = uleb(buf, i);
    i = r.next;
    return r.value;
  };
  while (i < buf.length) {
    const start = i;
    const id = buf[i++];
    const size = leb();
    let name = SECTION_NAMES[id] || `unknown(${id})`;
    if (id === 0) {
      const save = i;
      const n = leb();
      name = `custom "${buf.slice(i, i + n).toString('utf8')}"`;
      i = save;
    }
    const body = buf.slice(i, i + size);
    i += size;
    out.push({ name, bytes: i - start, body });
  }
  return out;
}

function which(cmd) {
  try {
    execFileSync('bash', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch (_) {
    return false;
  }
}

function targetDir() {
  const meta = JSON.parse(execFileSync('cargo', ['metadata', '--format-version', '1', '--no-deps'], { cwd: REPO, maxBuffer: 1 << 26 }));
  return meta.target_directory;
}

/**
 * Builds the named twin in a temporary directory; returns its path and a cleanup. Same cargo
 * command and environment as scripts/build-pkg (RUSTFLAGS would override .cargo/config.toml).
 */
function buildNamed() {
  const env = Object.assign({}, process.env);
  for (const v of ['RUSTFLAGS', 'CARGO_ENCODED_RUSTFLAGS', 'CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS']) delete env[v];
  execFileSync('cargo', ['rustc', '-q', '-p', 'mprtc', '--release', '--target', 'wasm32-unknown-unknown', '--lib', '--crate-type', 'cdylib'],
    { cwd: REPO, env, stdio: ['ignore', 'ignore', 'inherit'] });
  const raw = path.join(targetDir(), 'wasm32-unknown-unknown', 'release', 'mprtc.wasm');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mprtc-twiggy-'));
  fs.mkdirSync(path.join(dir, 'opt'));
  const wasmOpt = path.join(REPO, 'tests', 'node_modules', '.bin', 'wasm-opt');
  execFileSync(wasmOpt, [raw, '--llvm-memory-copy-fill-lowering', '--llvm-nontrapping-fptoint-lowering', '--strip-target-features',
    '-Oz', '-g', '-o', path.join(dir, 'opt', 'mprtc.wasm')], { stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync('wasm-bindgen', [path.join(dir, 'opt', 'mprtc.wasm'), '--out-dir', path.join(dir, 'bg'), '--target', 'bundler', '--no-typescript'],
    { stdio: ['ignore', 'ignore', 'inherit'] });
  return { file: path.join(dir, 'bg', 'mprtc_bg.wasm'), cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The group a twiggy item belongs to: a crate, a module of mprtc, or a kind of non-code item.
 * For `<T as Trait>::f` the implementing type's crate counts, unless that is core/alloc/std
 * (generic glue such as `PhantomData<T> as DeserializeSeed`), when the trait's crate does.
 */
function groupOf(name) {
  if (/^data segment/.test(name)) return 'data (string constants, tables)';
  if (/^wasmclient_|^__wbg_|^__wbindgen|^wasm_bindgen/.test(name)) return 'the wasm export `call` (bridge and core inlined into it)';
  if (/^(type|import|export|elem|table|memory|global|func)\b|section|headers/.test(name)) return 'module structure (types, imports, exports, tables)';
  const clean = name.replace(/\[[0-9a-f]{16}\]/g, '');
  // A type parameter, a primitive or a std wrapper says nothing of where the code comes from.
  const generic = (c) => /^[A-Z]$/.test(c) || PRIMITIVES.has(c) || ['core', 'alloc', 'std'].includes(c);
  let crate = null;
  const m = /^<+(?:&(?:mut )?|dyn |\*(?:const|mut) )*([A-Za-z_]\w*)(?:::\w+)*[^ ]*? as (?:&(?:mut )?)?([A-Za-z_]\w*)/.exec(clean);
  if (m) crate = generic(m[1]) ? m[2] : m[1];
  else {
    const p = /^<*(?:&(?:mut )?)?([A-Za-z_]\w*)(::|$)/.exec(clean);
    if (p && !p[2]) return 'compiler builtins (memcpy, i128 math, start)';
    if (p) crate = p[1];
  }
  if (!crate) return 'other (unnamed)';
  if (PRIMITIVES.has(crate) || /^[A-Z]$/.test(crate)) return 'core';
  if (crate === '__rustc') return 'std';
  if (crate === 'serde_core' || crate === 'serde') return 'serde (derived (de)serializers)';
  if (crate === 'mprtc') {
    const mod = /mprtc::(core|protocol)::(\w+)/.exec(clean);
    if (mod) return `mprtc::${mod[1]}::${mod[2]}`;
    return /mprtc::wasm/.test(clean) ? 'mprtc::wasm (helpers)' : 'mprtc';
  }
  return crate;
}

const PRIMITIVES = new Set(['bool', 'char', 'str', 'f32', 'f64', 'i8', 'i16', 'i32', 'i64', 'i128', 'isize', 'u8', 'u16', 'u32', 'u64', 'u128', 'usize']);

/** The data section's printable strings: how many bytes, how much is source paths (panic locations). */
function dataStrings(buf) {
  const section = sections(buf).find((x) => x.name === 'data');
  const data = section && section.body;
  if (!data) return null;
  const runs = data.toString('latin1').match(/[\x20-\x7e]{6,}/g) || [];
  const bytes = (xs) => xs.reduce((s, x) => s + x.length, 0);
  const paths = runs.filter((r) => /\.rs\b|\/rustc\/|cargo\/registry/.test(r));
  return {
    dataBytes: data.length,
    printableBytes: bytes(runs),
    sourcePathBytes: bytes(paths),
    longest: runs.sort((a, b) => b.length - a.length).slice(0, 8).map((r) => `${r.length} B: ${r.slice(0, 90)}`),
  };
}

function breakdown({ top = 25 } = {}) {
  const buf = require('./pkg-size').pkgWasm(path.join(REPO, 'pkg'));
  const result = { file: 'pkg/mprtc_bg.wasm', bytes: buf.length, sections: sections(buf).map(({ name, bytes }) => ({ name, bytes })), dataStrings: dataStrings(buf) };
  if (!which('twiggy')) {
    result.twiggy = 'not installed (cargo install twiggy --locked): functions not broken down';
    return result;
  }
  let named;
  try {
    named = buildNamed();
  } catch (e) {
    result.twiggy = `named build failed: ${e.message.split('\n')[0]}`;
    return result;
  }
  try {
    const items = JSON.parse(execFileSync('twiggy', ['top', '-n', '1000000', '-f', 'json', named.file], { maxBuffer: 1 << 26 }));
    // The name section and the producers section are not in the shipped file.
    const real = items.filter((x) => !/subsection|custom section 'name'|custom section 'producers'/.test(x.name));
    const total = real.reduce((s, x) => s + x.shallow_size, 0);
    const groups = new Map();
    for (const x of real) {
      const g = groupOf(x.name);
      const e = groups.get(g) || { group: g, bytes: 0, items: 0 };
      e.bytes += x.shallow_size;
      e.items += 1;
      groups.set(g, e);
    }
    const pctOf = (b) => Number(((100 * b) / total).toFixed(1));
    result.twiggy = {
      namedTwinBytes: total,
      note: 'sizes from the named twin without its name section; it differs from the shipped file by the Globals build-pkg removes',
      groups: [...groups.values()].sort((a, b) => b.bytes - a.bytes).map((g) => Object.assign(g, { percent: pctOf(g.bytes) })),
      top: real.slice(0, top).map((x) => ({ name: x.name.replace(/\[[0-9a-f]{16}\]/g, '').replace(/::h[0-9a-f]{16}$/, ''), bytes: x.shallow_size, percent: pctOf(x.shallow_size) })),
    };
    const monos = JSON.parse(execFileSync('twiggy', ['monos', '-m', '8', '-n', '1000', '-f', 'json', named.file], { maxBuffer: 1 << 26 }));
    result.twiggy.monomorphizationBloat = monos
      .filter((m) => !/^(\.\.\. and|Σ)/.test(m.generic))
      .map((m) => ({
        generic: m.generic.replace(/\[[0-9a-f]{16}\]/g, ''),
        copies: m.monomorphizations.length,
        bytes: m.total_size,
        bloatBytes: m.approximate_monomorphization_bloat_bytes,
      }));
  } finally {
    named.cleanup();
  }
  return result;
}

if (require.main === module) {
  const i = process.argv.indexOf('--top');
  const top = i > 0 ? Number(process.argv[i + 1]) : 25;
  process.stdout.write(JSON.stringify(breakdown({ top }), null, 2) + '\n');
}

module.exports = { breakdown, sections, groupOf, dataStrings };
