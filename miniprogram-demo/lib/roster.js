// The room as the room page shows it: members and what each one publishes. Every function
// returns a new array (setData wants new values) and is keyed by String(uid), since a uid may be
// a number or, above 2^53, a decimal string.

function key(uid) {
  return String(uid);
}

function blank(uid) {
  return { uid: uid, key: key(uid), self: false, role: '', audio: false, video: false, audioMuted: false, videoMuted: false };
}

function find(list, uid) {
  var k = key(uid);
  for (var i = 0; i < list.length; i++) if (list[i].key === k) return list[i];
  return null;
}

/** Adds `uid` if missing (fields merged into the entry). */
function upsert(list, uid, fields) {
  var k = key(uid);
  var found = false;
  var out = list.map(function (m) {
    if (m.key !== k) return m;
    found = true;
    return Object.assign({}, m, fields);
  });
  if (!found) out.push(Object.assign(blank(uid), fields));
  return out;
}

function remove(list, uid) {
  var k = key(uid);
  return list.filter(function (m) {
    return m.key !== k;
  });
}

/** Sets whether `uid` is live with `kind` ('audio' | 'video'). */
function setLive(list, uid, kind, live) {
  var f = {};
  f[kind] = live;
  return upsert(list, uid, f);
}

/** Sets whether `uid` muted `kind`. */
function setMuted(list, uid, kind, muted) {
  var f = {};
  f[kind + 'Muted'] = muted;
  return upsert(list, uid, f);
}

/** Whether the member publishes anything. */
function publishing(m) {
  return !!(m && (m.audio || m.video));
}

module.exports = { key: key, find: find, upsert: upsert, remove: remove, setLive: setLive, setMuted: setMuted, publishing: publishing };
