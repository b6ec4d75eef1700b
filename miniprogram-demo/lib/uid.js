// uids as the demo takes them from a form: digits only. Up to 2^53-1 they are numbers, above
// that decimal strings (the SDK takes both and keeps 64 bits exact).

var MAX_SAFE = 9007199254740991;

/** The uid typed in `text`, or null when it is not 1 to 20 digits within 64 bits. */
function parse(text) {
  var s = String(text === undefined || text === null ? '' : text).trim();
  if (!/^[0-9]{1,20}$/.test(s)) return null;
  s = s.replace(/^0+(?=[0-9])/, '');
  if (s === '0') return null;
  if (s.length === 20 && s > '18446744073709551615') return null;
  var n = Number(s);
  return n <= MAX_SAFE ? n : s;
}

/** A random uid for a first run. */
function random() {
  return Math.floor(Math.random() * 900000) + 100000;
}

module.exports = { parse: parse, random: random };
