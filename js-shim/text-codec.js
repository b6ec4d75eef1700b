'use strict';
// UTF-8 TextEncoder / TextDecoder for the WeChat mini-program logic layer, which has neither.
// Only what the wasm-bindgen glue needs: encode, encodeInto, decode (with `fatal` and `ignoreBOM`).
// scripts/build-pkg puts these two names in the scope of mprtc_bg.js before its first line runs.

function TextEncoder() {}
TextEncoder.prototype.encoding = 'utf-8';

// Writes as many whole characters of `str` as fit into `dest` (a Uint8Array).
TextEncoder.prototype.encodeInto = function (str, dest) {
  str = String(str);
  var n = str.length;
  var cap = dest.length;
  var read = 0;
  var written = 0;
  while (read < n) {
    var c = str.charCodeAt(read);
    var units = 1;
    if (c >= 0xd800 && c <= 0xdfff) {
      var d = read + 1 < n ? str.charCodeAt(read + 1) : 0;
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        units = 2;
      } else {
        c = 0xfffd; // lone surrogate
      }
    }
    if (c < 0x80) {
      if (written + 1 > cap) break;
      dest[written++] = c;
    } else if (c < 0x800) {
      if (written + 2 > cap) break;
      dest[written++] = 0xc0 | (c >> 6);
      dest[written++] = 0x80 | (c & 0x3f);
    } else if (c < 0x10000) {
      if (written + 3 > cap) break;
      dest[written++] = 0xe0 | (c >> 12);
      dest[written++] = 0x80 | ((c >> 6) & 0x3f);
      dest[written++] = 0x80 | (c & 0x3f);
    } else {
      if (written + 4 > cap) break;
      dest[written++] = 0xf0 | (c >> 18);
      dest[written++] = 0x80 | ((c >> 12) & 0x3f);
      dest[written++] = 0x80 | ((c >> 6) & 0x3f);
      dest[written++] = 0x80 | (c & 0x3f);
    }
    read += units;
  }
  return { read: read, written: written };
};

TextEncoder.prototype.encode = function (str) {
  str = str === undefined ? '' : String(str);
  var buf = new Uint8Array(str.length * 3); // one UTF-16 unit never needs more than 3 bytes
  return buf.slice(0, this.encodeInto(str, buf).written);
};

function TextDecoder(label, options) {
  label = label === undefined ? 'utf-8' : String(label).toLowerCase();
  if (label !== 'utf-8' && label !== 'utf8') {
    throw new RangeError('TextDecoder: only utf-8 is supported, not ' + label);
  }
  this.encoding = 'utf-8';
  this.fatal = !!(options && options.fatal);
  this.ignoreBOM = !!(options && options.ignoreBOM);
}

function toBytes(input) {
  if (input === undefined || input === null) return new Uint8Array(0);
  if (input instanceof Uint8Array) return input;
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  return new Uint8Array(input); // ArrayBuffer
}

// WHATWG UTF-8 decode: each maximal invalid subsequence becomes one U+FFFD (or throws when fatal).
TextDecoder.prototype.decode = function (input) {
  var bytes = toBytes(input);
  var n = bytes.length;
  var i = 0;
  var out = '';
  var units = [];
  var fatal = this.fatal;
  if (!this.ignoreBOM && n >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) i = 3;
  function bad() {
    if (fatal) throw new TypeError('The encoded data was not valid utf-8');
    units.push(0xfffd);
  }
  while (i < n) {
    var b = bytes[i++];
    if (b < 0x80) {
      units.push(b);
    } else {
      var need = 0;
      var cp = 0;
      var lower = 0x80;
      var upper = 0xbf;
      if (b >= 0xc2 && b <= 0xdf) {
        need = 1;
        cp = b & 0x1f;
      } else if (b >= 0xe0 && b <= 0xef) {
        need = 2;
        cp = b & 0x0f;
        if (b === 0xe0) lower = 0xa0;
        if (b === 0xed) upper = 0x9f;
      } else if (b >= 0xf0 && b <= 0xf4) {
        need = 3;
        cp = b & 0x07;
        if (b === 0xf0) lower = 0x90;
        if (b === 0xf4) upper = 0x8f;
      }
      if (need === 0) {
        bad();
      } else {
        var ok = true;
        for (var k = 0; k < need; k++) {
          var x = i < n ? bytes[i] : -1;
          if (x < lower || x > upper) {
            ok = false;
            break;
          }
          lower = 0x80;
          upper = 0xbf;
          cp = (cp << 6) | (x & 0x3f);
          i++;
        }
        if (!ok) {
          bad();
        } else if (cp >= 0x10000) {
          cp -= 0x10000;
          units.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
        } else {
          units.push(cp);
        }
      }
    }
    if (units.length >= 4096) {
      out += String.fromCharCode.apply(null, units);
      units = [];
    }
  }
  return out + String.fromCharCode.apply(null, units);
};

module.exports = { TextEncoder: TextEncoder, TextDecoder: TextDecoder };
