'use strict';
// The unsigned LEB128 that wasm writes its sizes and counts in: read by the feature check
// (tests/runtime/features.js) and the size breakdown (bench/wasm-breakdown.js).

/** The unsigned LEB128 at `bytes[at]`: its value and the index just past it (never past the end). */
function uleb(bytes, at) {
  let i = at;
  let v = 0;
  let shift = 0;
  let b;
  do {
    b = bytes[i++];
    v += (b & 0x7f) * 2 ** shift;
    shift += 7;
  } while (b & 0x80 && i < bytes.length);
  return { value: v, next: i };
}

module.exports = { uleb };
