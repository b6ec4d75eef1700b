#!/usr/bin/env node
'use strict';
// The benchmark (issue #7): runs the chosen sections, prints one summary table (metric, mprtc,
// the baseline or comparison measured in the same run, the goal, whether it is met) and each
// section's detail, and writes everything as JSON. Not a test: nothing here passes or fails
// on numbers (tests/size.test.js is the size check that does).
//
//   node bench/run.js [SECTION...] [--out FILE | --out -] [--markdown FILE] [--quick]
//                     [--runs N] [--cpu-secs S]
//
// SECTION: size startup rtt scale media reconnect tasks attack cluster edges (default: all but
//          edges, in that order; cluster runs edges itself, which may also be named alone).
// --out       JSON destination (default bench/results/bench.json; - for stdout, with the
//             table and progress on stderr)
// --markdown  also write the report as Markdown (BENCHMARKS.md is made this way; what follows
//             the analysis marker line in an existing file is kept)
// --quick     smaller loads and fewer rounds, for trying the benchmark out (not for the record)
// --runs, --cpu-secs   passed to the tasks section (bench/tasks.js; defaults 3 and 10)
//
// Needs pkg/ (scripts/build-pkg), the release server and bench/loadgen built; scripts/bench
// builds them. MPRTC_SERVER_BIN and MPRTC_LOADGEN_BIN name the binaries.

const fs = require('node:fs');
const path = require('node:path');
const { REPO, log, machine, table, round } = require('./common');

// Everything from this line on in the --markdown file is kept when the report is regenerated.
const ANALYSIS_MARKER = '<!-- analysis: kept when scripts/bench --markdown regenerates the file -->';

const SECTIONS = ['size', 'startup', 'rtt', 'scale', 'media', 'reconnect', 'tasks', 'attack', 'cluster', 'edges'];
const MODULES = {
  size: './size',
  startup: './startup',
  rtt: './rtt',
  scale: './scale',
  media: './media',
  reconnect: './reconnect',
  tasks: './tasks-section',
  attack: './attack',
  cluster: './cluster',
  edges: './edges',
};
const TITLES = {
  size: 'Size',
  startup: 'Start-up',
  rtt: 'Join and requests',
  scale: 'Server scale',
  media: 'Media',
  reconnect: 'Reconnect',
  tasks: 'Push tasks',
  attack: 'Under attack',
  cluster: 'Cluster',
  edges: 'Cluster: edge viewers',
};

function usage(code) {
  (code ? process.stderr : process.stdout).write(
    `usage: node bench/run.js [${SECTIONS.join('|')}]... [--out FILE|-] [--markdown FILE] [--quick] [--runs N] [--cpu-secs S]\n`);
  process.exit(code);
}

function parse(argv) {
  const o = { sections: [], out: path.join(REPO, 'bench', 'results', 'bench.json'), markdown: null, quick: false, runs: 3, cpuSecs: 10 };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = () => (inline !== undefined ? inline : argv[++i]);
    if (flag === '--out') o.out = value();
    else if (flag === '--markdown') o.markdown = value();
    else if (flag === '--quick') o.quick = true;
    else if (flag === '--runs') o.runs = Number(value());
    else if (flag === '--cpu-secs') o.cpuSecs = Number(value());
    else if (flag === '-h' || flag === '--help') usage(0);
    else if (SECTIONS.includes(flag)) o.sections.push(flag);
    else {
      process.stderr.write(`unknown argument ${argv[i]}\n`);
      usage(2);
    }
  }
  if (!o.sections.length) o.sections = SECTIONS.filter((s) => s !== 'edges');
  o.sections = SECTIONS.filter((s) => o.sections.includes(s));
  if (!o.out) usage(2);
  return o;
}

function binaries() {
  const serverBin = process.env.MPRTC_SERVER_BIN || path.join(REPO, 'target', 'release', 'mprtc-server');
  const loadgen = process.env.MPRTC_LOADGEN_BIN || path.join(REPO, 'target', 'bench', 'release', 'mprtc-loadgen');
  // tests/e2e/support.js reads MPRTC_SERVER_BIN when it is loaded.
  process.env.MPRTC_SERVER_BIN = serverBin;
  return { serverBin, loadgen };
}

/** Parameters of each section; --quick shrinks them. */
function params(o, bins) {
  const q = o.quick;
  const edges = q ? { steps: [20, 50, 100], windowSecs: 5, maxSecs: 60, cpuAt: 50 } : {};
  return {
    size: {},
    startup: { iterations: q ? 10 : 60 },
    rtt: { iterations: q ? 100 : 1000, warmup: 20, loadgen: bins.loadgen },
    scale: q
      ? { loadgen: bins.loadgen, members: 2000, rooms: 200, holdSecs: 10, fanoutMembers: 300, trials: 3, eventRooms: 20, perRoom: 50, eventSecs: 5 }
      : { loadgen: bins.loadgen },
    media: { runs: q ? 1 : 3 },
    reconnect: q ? { rounds: 2, restarts: 1 } : { rounds: 8, restarts: 3 },
    tasks: { runs: q ? 1 : o.runs, cpuSecs: q ? 3 : o.cpuSecs },
    attack: { joins: q ? 30 : 100, quick: q },
    cluster: q
      ? { loadgen: bins.loadgen, members: 600, rooms: 60, holdSecs: 5, fanoutMembers: 300, trials: 2, eventRooms: 6, perRoom: 30, eventSecs: 4, killMembers: 60, edgeViewers: edges }
      : { loadgen: bins.loadgen },
    edges: { loadgen: bins.loadgen, ...edges },
  };
}

const verdict = (m) => (m === true ? 'yes' : m === false ? '**NO**' : typeof m === 'string' ? m : '');

function summaryTable(results, mods) {
  const rows = [['metric', 'mprtc', 'baseline / comparison (same run)', 'goal', 'met']];
  for (const [name, r] of Object.entries(results)) {
    if (r.error) rows.push([`${name}: FAILED`, r.error.split('\n')[0].slice(0, 100), '', '', '']);
    else for (const row of mods[name].rows(r)) rows.push(row.slice(0, 4).concat([verdict(row[4])]));
  }
  return table(rows);
}

function markdown(o, result, mods) {
  const m = result.machine;
  const out = [
    '# Benchmarks',
    '',
    `Produced by \`${result.command}\` on ${result.startedAt.slice(0, 10)}: ${m.cpus} x ${m.cpuModel}, ${m.memGiB} GiB, ` +
      `Linux ${m.kernel}, Node ${m.node}, ${m.rustc}, ${m.ffmpeg ? m.ffmpeg.split(' Copyright')[0] : 'no ffmpeg'}; ${m.limits}. ` +
      `The run took ${round(result.durationSecs / 60, 1)} minutes; its JSON went to \`bench/results/bench.json\` (not kept in git). ` +
      `Load average at the start: ${m.loadavg.join(', ')}.`,
    '',
    'Benchmarks measure; they do not pass or fail. Each comparison in the table was measured in the same run on the same machine.',
    '',
    summaryTable(result.sections, mods),
  ];
  for (const [name, r] of Object.entries(result.sections)) {
    out.push('', `## ${TITLES[name]}`, '');
    out.push(r.error ? `Failed: ${r.error}` : mods[name].detail(r));
  }
  return out.join('\n') + '\n';
}

async function main() {
  const o = parse(process.argv.slice(2));
  const bins = binaries();
  const p = params(o, bins);
  const mods = {};
  for (const s of o.sections) mods[s] = require(MODULES[s]);
  const toStdout = o.out === '-';
  const report = toStdout ? process.stderr : process.stdout;
  const started = new Date();
  const result = {
    benchmark: 'mprtc (issue #7)',
    command: ['scripts/bench'].concat(process.argv.slice(2)).join(' '),
    startedAt: started.toISOString(),
    machine: machine(),
    quick: o.quick,
    sections: {},
  };
  let failed = 0;
  for (const s of o.sections) {
    log(`== ${s}`);
    const t = Date.now();
    try {
      result.sections[s] = await mods[s].run(p[s]);
    } catch (e) {
      failed++;
      result.sections[s] = { error: e.message };
      log(`${s} FAILED: ${e.stack || e.message}`);
    }
    log(`== ${s} done in ${round((Date.now() - t) / 1000, 1)} s`);
  }
  result.durationSecs = round((Date.now() - started.getTime()) / 1000, 1);

  report.write(`\n${summaryTable(result.sections, mods)}\n`);
  for (const [name, r] of Object.entries(result.sections)) {
    report.write(`\n${TITLES[name]}\n\n${r.error ? `FAILED: ${r.error}` : mods[name].detail(r)}\n`);
  }
  const json = JSON.stringify(result, null, 2) + '\n';
  if (toStdout) process.stdout.write(json);
  else {
    fs.mkdirSync(path.dirname(path.resolve(o.out)), { recursive: true });
    fs.writeFileSync(o.out, json);
    report.write(`\nJSON: ${path.relative(process.cwd(), path.resolve(o.out))}\n`);
  }
  if (o.markdown) {
    // Hand-written analysis below the marker survives regeneration.
    let keep = '';
    if (fs.existsSync(o.markdown)) {
      const old = fs.readFileSync(o.markdown, 'utf8');
      const at = old.indexOf(ANALYSIS_MARKER);
      if (at >= 0) keep = '\n' + old.slice(at);
    }
    fs.writeFileSync(o.markdown, markdown(o, result, mods) + keep);
    report.write(`Markdown: ${o.markdown}\n`);
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    log(`error: ${e.stack || e.message}`);
    process.exit(1);
  },
);
