'use strict';
// UTF-8 TextEncoder / TextDecoder for the WeChat mini-program logic layer, which has neither.
// Only what the wasm-bindgen glue uses: encode(string) and decode(bytes). scripts/build-pkg puts
// these two names in the scope of mprtc_bg.js before its first line runs. encodeURIComponent and
// decodeURIComponent do the UTF-8 work: every JS engine has them, and this file stays small.

function TextEncoder() {}

// As the platform's: a lone surrogate becomes U+FFFD (encodeURIComponent would throw on it).
TextEncoder.prototype.encode = function (str) {
  str = str === undefined ? '' : String(str);
  var bin;
  try {
    bin = unescape(encodeURIComponent(str));
  } catch (e) {
    var fixed = '';
    for (var k = 0; k < str.length; k++) {
      var c = str.charCodeAt(k);
      if (c < 0xdc00 && c >= 0xd800 && (str.charCodeAt(k + 1) & 0xfc00) === 0xdc00) fixed += str.charAt(k) + str.charAt(++k);
      else fixed += (c & 0xf800) === 0xd800 ? '\ufffd' : str.charAt(k);
    }
    bin = unescape(encodeURIComponent(fixed));
  }
  var out = new Uint8Array(bin.length);
  for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
};

// Decodes valid UTF-8 (all the wasm ever writes) and keeps a BOM, as the glue asks with
// `ignoreBOM`; anything else throws a TypeError, as a `fatal` decoder does.
function TextDecoder() {}

TextDecoder.prototype.decode = function (bytes) {
  bytes = bytes ? new Uint8Array(bytes.buffer || bytes, bytes.byteOffset || 0, bytes.byteLength) : [];
  var bin = '';
  for (var i = 0; i < bytes.length; i += 8192) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192));
  try {
    return decodeURIComponent(escape(bin));
  } catch (e) {
    throw new TypeError('The encoded data was not valid utf-8');
  }
};

module.exports = { TextEncoder: TextEncoder, TextDecoder: TextDecoder };
