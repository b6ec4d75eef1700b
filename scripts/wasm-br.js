'use strict';
// Writes the brotli form of the SDK's wasm that WXWebAssembly loads from a `.wasm.br` path
// (base library 2.14.0+), and checks it: a `.wasm.br` that does not decompress to exactly the
// `.wasm` would load nothing, or something else. `scripts/build-pkg` runs it for
// MPRTC_WASM_BR=1, and tests/packaging.test.js loads what it writes.
//
//   node scripts/wasm-br.js pkg/mprtc_bg.wasm pkg/mprtc_bg.wasm.br

const fs = require('node:fs');
const zlib = require('node:zlib');

/** Compresses `input` into `output` at brotli's best quality; throws if the round trip differs. */
function writeWasmBr(input, output) {
  const wasm = fs.readFileSync(input);
  const br = zlib.brotliCompressSync(wasm, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } });
  if (!zlib.brotliDecompressSync(br).equals(wasm)) throw new Error(`${output} does not decompress to ${input}`);
  fs.writeFileSync(output, br);
  return { wasm: wasm.length, br: br.length };
}

if (require.main === module) {
  const [input, output] = process.argv.slice(2);
  if (!input || !output) {
    console.error('usage: node scripts/wasm-br.js IN.wasm OUT.wasm.br');
    process.exit(2);
  }
  const r = writeWasmBr(input, output);
  console.log(`${output}: ${r.br} B (${input}: ${r.wasm} B), decompresses to it exactly`);
}

module.exports = { writeWasmBr };
