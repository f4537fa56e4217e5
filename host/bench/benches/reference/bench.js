// Drives app.js through zapier-platform-core's app tester, as
// host/benches/zapwasm.rs asks, and reports on stdout:
//   FIRST <ms>            as soon as the first call has returned its result
//   RESULT <json>         the figures of every phase, at the end
// Configuration is one JSON argument:
//   {"base_url", "slow_url", "hold_url", "api_key", "duration_ms", "warmup_ms",
//    "concurrency": [1, 50], "in_flight": N, "interleave": false}
// After the first call it runs the in-flight phase, a warm-up of warmup_ms
// at the largest concurrency, then one load phase of duration_ms per
// concurrency. With "interleave": true the caller chooses the load phases
// instead ("concurrency" then only sizes the warm-up and duration_ms is not
// used), so that it can run zapwasm between them and both meet the same load
// on the machine: after the warm-up the script prints `READY` and reads
// commands from stdin, one a line:
//   load <concurrency> <duration_ms>   run one load phase, print PHASE <json>
//   done                               print RESULT <json> and exit
// The end of stdin counts as `done`. A PHASE object is one element of
// RESULT's "phases": {concurrency, latencies_us, elapsed_s, errors,
// first_error, peak_rss_mib}.
// The harness sets NODE_ENV=test and LOGGING_ENDPOINT to a closed loopback
// port; the app tester sets no log token, so nothing is sent anyway.
'use strict';

const fs = require('fs');
const readline = require('readline');

const config = JSON.parse(process.argv[2]);
process.env.BENCH_BASE_URL = config.base_url;

const zapier = require('zapier-platform-core');
const App = require('./app');

const appTester = zapier.createAppTester(App);
const method = App.triggers.http_get.operation.perform;
const bundle = () => ({ authData: { api_key: config.api_key }, inputData: {} });

const vmHwmMiB = () => {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const match = status.match(/VmHWM:\s+(\d+) kB/);
  return match ? Number(match[1]) / 1024 : null;
};

// Samples RSS every 10 ms until stopped; returns the largest, in MiB. With
// `marked`, a function, it also keeps the largest sample taken while
// `marked()` was false, as `stop.beforeMark()`.
const rssSampler = (marked = () => false) => {
  let peak = process.memoryUsage.rss();
  let beforeMark = peak;
  const timer = setInterval(() => {
    const rss = process.memoryUsage.rss();
    peak = Math.max(peak, rss);
    if (!marked()) {
      beforeMark = Math.max(beforeMark, rss);
    }
  }, 10);
  const stop = () => {
    clearInterval(timer);
    peak = Math.max(peak, process.memoryUsage.rss());
    return peak / (1024 * 1024);
  };
  stop.beforeMark = () => beforeMark / (1024 * 1024);
  return stop;
};

const callOnce = async () => {
  const results = await appTester(method, bundle());
  if (!Array.isArray(results) || results.length !== 10) {
    throw new Error(`unexpected result: ${JSON.stringify(results).slice(0, 200)}`);
  }
};

// `concurrency` loops calling back to back for `durationMs`; latencies in us.
const load = async (concurrency, durationMs) => {
  const latencies = [];
  let errors = 0;
  let firstError = null;
  const stopRss = rssSampler();
  const started = process.hrtime.bigint();
  const end = started + BigInt(durationMs) * 1000000n;
  const loop = async () => {
    while (process.hrtime.bigint() < end) {
      const t0 = process.hrtime.bigint();
      try {
        await callOnce();
        latencies.push(Number(process.hrtime.bigint() - t0) / 1000);
      } catch (error) {
        errors += 1;
        firstError = firstError || String(error && error.message);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const elapsedS = Number(process.hrtime.bigint() - started) / 1e9;
  return { concurrency, latencies_us: latencies, elapsed_s: elapsedS, errors, first_error: firstError, peak_rss_mib: stopRss() };
};

// `count` calls at once against the slow endpoint's hold group (hold_url),
// which answers none until all `count` have arrived; also the largest RSS
// sampled before the first call ended, while all of them waited.
const inFlight = async (count) => {
  process.env.BENCH_BASE_URL = config.hold_url || config.slow_url;
  global.gc && global.gc();
  const idleRss = process.memoryUsage.rss() / (1024 * 1024);
  let firstDone = false;
  const stopRss = rssSampler(() => firstDone);
  const started = process.hrtime.bigint();
  const one = () => callOnce().finally(() => {
    firstDone = true;
  });
  const outcomes = await Promise.allSettled(Array.from({ length: count }, one));
  const elapsedS = Number(process.hrtime.bigint() - started) / 1e9;
  const failed = outcomes.filter((o) => o.status === 'rejected');
  process.env.BENCH_BASE_URL = config.base_url;
  return {
    count,
    completed: count - failed.length,
    first_error: failed.length ? String(failed[0].reason && failed[0].reason.message) : null,
    elapsed_s: elapsedS,
    idle_rss_mib: idleRss,
    peak_rss_mib: stopRss(),
    rss_while_all_waiting_mib: stopRss.beforeMark(),
  };
};

// The load phases the caller asks for on stdin (see the top), in order.
const commandedPhases = async () => {
  const phases = [];
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  process.stdout.write('READY\n');
  for await (const line of lines) {
    const [command, ...args] = line.trim().split(/\s+/);
    if (command === 'done') {
      break;
    }
    const [concurrency, durationMs] = args.map(Number);
    if (command !== 'load' || !(concurrency >= 1) || !(durationMs > 0)) {
      throw new Error(`unknown command ${JSON.stringify(line)}; expected "load <concurrency> <duration_ms>" or "done"`);
    }
    const phase = await load(concurrency, durationMs);
    phases.push(phase);
    process.stdout.write(`PHASE ${JSON.stringify(phase)}\n`);
  }
  lines.close();
  return phases;
};

const main = async () => {
  await callOnce();
  process.stdout.write(`FIRST ${process.uptime() * 1000}\n`);
  // In flight first, like zapwasm's worker (a fresh process after one
  // call): after the load phases the heap keeps their high-water mark and
  // the calls in flight would fit in it.
  const inflight = config.in_flight > 0 ? await inFlight(config.in_flight) : null;
  await load(Math.max(...config.concurrency), config.warmup_ms);
  let phases = [];
  if (config.interleave) {
    phases = await commandedPhases();
  } else {
    for (const concurrency of config.concurrency) {
      phases.push(await load(concurrency, config.duration_ms));
    }
  }
  const result = {
    node: process.version,
    core: zapier.version,
    phases,
    in_flight: inflight,
    vm_hwm_mib: vmHwmMiB(),
  };
  // Written out before the process exits: stdout to a pipe is
  // asynchronous in Node, and `process.exit` would cut a result longer
  // than the pipe's buffer (64 KiB) short.
  await new Promise((resolve) => process.stdout.write(`RESULT ${JSON.stringify(result)}\n`, resolve));
};

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`reference benchmark failed: ${error && error.stack}\n`);
    process.exit(1);
  },
);
