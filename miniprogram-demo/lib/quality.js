// One line of text from a `quality` event (the SDK's reading of a component's bindnetstatus):
// bitrate, frame rate, picture size and WeChat's network grade. Fields may be missing or
// numeric strings; what is missing is left out.

function num(v) {
  var n = typeof v === 'string' ? parseFloat(v) : v;
  return typeof n === 'number' && isFinite(n) ? n : null;
}

function line(info, t) {
  if (!info) return '';
  var parts = [];
  var v = num(info.videoBitrate);
  var a = num(info.audioBitrate);
  if (v !== null || a !== null) parts.push(Math.round((v || 0) + (a || 0)) + ' ' + t.kbps);
  var fps = num(info.videoFPS);
  if (fps !== null) parts.push(Math.round(fps) + ' ' + t.fps);
  var w = num(info.videoWidth);
  var h = num(info.videoHeight);
  if (w && h) parts.push(w + 'x' + h);
  var q = num(info.netQualityLevel);
  if (q !== null && t.quality[q] !== undefined) parts.push(t.net + ' ' + t.quality[q]);
  return parts.join(' · ');
}

module.exports = { line: line };
