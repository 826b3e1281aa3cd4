'use strict';
// bench/ref/bench.js - W1-W7, W11a, W11b, W11c, W12a and W12b for Node.js, written as a
// JavaScript programmer would write them: promises, then, Promise.all / race / any, setTimeout,
// async/await; for W6 and W7 a hand-written promise queue and semaphore (below: Node has
// neither, and no npm package is used); for W12 the `net` module's server and sockets.
//
//   node bench/ref/bench.js <w1..w7|w11a|w11b|w11c|w12a|w12b> [N] [--inject-wrong]
//
// Prints one line in vow's format (STYLE.md 14), e.g.
//   W1 node n=1000000 ns_per_step=267.0 total_ms=267.0 rss_kb=123456
// A wrong result says so on stderr and exits 1; bad usage exits 2. The clock runs from the
// workload's first promise to the moment its final promise settled; the check comes after.
// --inject-wrong makes each workload compute a wrong answer, as in bench/workloads.c.

const DEFAULT_N = {
  1: 1000000, 2: 1000000, 3: 100000, 4: 1000000, 5: 100000, 6: 1000000, 7: 100000,
  '11a': 1000000, '11b': 1000000, '11c': 1000000, '12a': 200000, '12b': 100000,
};
const METRIC = {
  1: 'ns_per_step', 2: 'ns_per_promise', 3: 'ns_per_round', 4: 'cpu_ns_per_timer', 5: 'overhead_ms',
  6: 'ns_per_item', 7: 'ns_per_task', '11a': 'ns_per_await', '11b': 'ns_per_await',
  '11c': 'ns_per_step', '12a': 'user_us_per_rt', '12b': 'user_us_per_mb',
};

function parse(argv) {
  const a = { w: 0, n: 0, injectWrong: false };
  for (const s of argv) {
    if (s === '--inject-wrong') a.injectWrong = true;
    else if (/^[wW]([1-7]|11a|11b|11c|12a|12b)$/.test(s)) a.w = s.slice(1);
    else if (/^[1-9][0-9]*$/.test(s)) a.n = Number(s);
    else return null;
  }
  if (!a.w) return null;
  if (!a.n) a.n = DEFAULT_N[a.w];
  return a;
}

const nowNs = () => process.hrtime.bigint();
const cpuNs = () => {
  const u = process.cpuUsage();
  return BigInt(u.user + u.system) * 1000n;
};
const rssKb = () => process.resourceUsage().maxRSS;

function report(a, metric, totalMs) {
  process.stdout.write(`W${a.w} node n=${a.n} ${METRIC[a.w]}=${metric.toFixed(1)} ` +
    `total_ms=${totalMs.toFixed(1)} rss_kb=${rssKb()}\n`);
}

class Wrong extends Error {}
const wrong = (msg) => { throw new Wrong(msg); };

// ---- W1 chain: N then steps on a resolved promise, each adding 1 -------------------------
async function w1(a) {
  const add1 = (v) => v + 1;
  const add2 = (v) => v + 2;
  const t0 = nowNs();
  let p = Promise.resolve(0);
  for (let i = 0; i < a.n; i++) p = p.then(a.injectWrong && i === 0 ? add2 : add1);
  const got = await p;
  const ns = Number(nowNs() - t0);
  if (got !== a.n) wrong(`chain ended at ${got}, expected ${a.n}`);
  report(a, ns / a.n, ns / 1e6);
}

// ---- W2 fan-out: N pending promises, each resolved, all over them ------------------------
async function w2(a) {
  const t0 = nowNs();
  const resolvers = new Array(a.n);
  const ps = new Array(a.n);
  for (let i = 0; i < a.n; i++) ps[i] = new Promise((resolve) => { resolvers[i] = resolve; });
  const all = Promise.all(ps);
  for (let i = 0; i < a.n; i++) resolvers[i](a.injectWrong && i === 0 ? 1 : i);
  const vals = await all;
  const ns = Number(nowNs() - t0);
  if (vals.length !== a.n) wrong(`all gave ${vals.length} values, expected ${a.n}`);
  for (let i = 0; i < a.n; i++) if (vals[i] !== i) wrong(`all's value ${i} is ${vals[i]}`);
  report(a, ns / a.n, ns / 1e6);
}

// ---- W3 race and any over 10 promises resolved in order, N rounds ------------------------
async function w3(a) {
  const WIDTH = 10;
  let sum = 0;
  const t0 = nowNs();
  for (let round = 0; round < a.n; round++) {
    const resolvers = new Array(WIDTH);
    const ps = new Array(WIDTH);
    for (let i = 0; i < WIDTH; i++) ps[i] = new Promise((resolve) => { resolvers[i] = resolve; });
    const race = Promise.race(ps);
    const any = Promise.any(ps);
    const base = round * WIDTH;
    const reverse = a.injectWrong && round === 0;
    for (let i = 0; i < WIDTH; i++) {
      const k = reverse ? WIDTH - 1 - i : i;
      resolvers[k](base + k);
    }
    sum += await race;
    sum += await any;
  }
  const ns = Number(nowNs() - t0);
  const want = 10 * a.n * (a.n - 1);
  if (sum !== want) wrong(`${a.n} rounds summed to ${sum}, expected ${want}`);
  report(a, ns / a.n, ns / 1e6);
}

// ---- W4 timers: N timeouts with delays spread over 0..1000 ms ----------------------------
function w4(a) {
  return new Promise((resolve, reject) => {
    let fired = 0;
    let sum = 0;
    const set = a.injectWrong ? a.n - 1 : a.n;
    let c0, t0;
    const finish = () => {
      const cpu = Number(cpuNs() - c0);
      const ms = Number(nowNs() - t0) / 1e6;
      const wantSum = a.n * (a.n - 1) / 2;
      try {
        if (fired !== a.n || sum !== wantSum)
          wrong(`${fired} timers fired (ids summing to ${sum}), expected ${a.n} (${wantSum})`);
        const longest = Math.min(a.n - 1, 1000) % 1001;
        if (ms + 1 < longest) wrong(`all timers fired within ${ms.toFixed(1)} ms; the longest is ${longest} ms`);
        report(a, cpu / a.n, ms);
        resolve();
      } catch (e) {
        reject(e);
      }
    };
    const fire = (i) => {
      fired++;
      sum += i;
      if (fired === set) finish();
    };
    c0 = cpuNs();
    t0 = nowNs();
    for (let i = 0; i < set; i++) setTimeout(fire, i % 1001, i);
    if (set === 0) setImmediate(finish);
  });
}

// ---- W5 N concurrent 100 ms sleeps under all ----------------------------------------------
async function w5(a) {
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const t0 = nowNs();
  const ps = new Array(a.n);
  for (let i = 0; i < a.n; i++) ps[i] = sleep(100);
  const results = await Promise.all(a.injectWrong ? ps.slice(0, a.n - 1) : ps);
  const ms = Number(nowNs() - t0) / 1e6;
  if (results.length !== a.n) wrong(`all gave ${results.length} results, expected ${a.n}`);
  if (ms + 1 < 100) wrong(`the sleeps ended after ${ms.toFixed(1)} ms, before 100 ms`);
  report(a, ms - 100, ms);
}

// ---- a FIFO, an async queue and a semaphore, as a Node user writes them ------------------
// The FIFO is an array with a head index (Array.prototype.shift copies a large array on
// every call), compacted once half of it is consumed.
class Fifo {
  constructor() { this.a = []; this.h = 0; }
  get length() { return this.a.length - this.h; }
  push(x) { this.a.push(x); }
  shift() {
    const x = this.a[this.h];
    this.a[this.h++] = undefined;
    if (this.h >= 1024 && this.h * 2 >= this.a.length) {
      this.a = this.a.slice(this.h);
      this.h = 0;
    }
    return x;
  }
}

// asyncio.Queue's behaviour: put waits while the queue is full, get while it is empty; a
// waiting getter is handed an item directly, a waiting putter's item enters as a slot frees.
class AsyncQueue {
  constructor(maxsize) {
    this.maxsize = maxsize;
    this.items = new Fifo();
    this.getters = new Fifo(); // resolve functions
    this.putters = new Fifo(); // { item, resolve }
  }
  put(item) {
    if (this.getters.length > 0) {
      this.getters.shift()(item);
      return Promise.resolve();
    }
    if (this.items.length < this.maxsize) {
      this.items.push(item);
      return Promise.resolve();
    }
    return new Promise((resolve) => this.putters.push({ item, resolve }));
  }
  get() {
    if (this.items.length > 0) {
      const item = this.items.shift();
      if (this.putters.length > 0) {
        const p = this.putters.shift();
        this.items.push(p.item);
        p.resolve();
      }
      return Promise.resolve(item);
    }
    return new Promise((resolve) => this.getters.push(resolve));
  }
}

class Semaphore {
  constructor(value) { this.value = value; this.waiters = new Fifo(); }
  acquire() {
    if (this.value > 0) {
      this.value--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  release() {
    if (this.waiters.length > 0) this.waiters.shift()(); // the permit passes on
    else this.value++;
  }
}

// ---- W6 a bounded queue of 64, one producer, one consumer, N items -----------------------
async function w6(a) {
  let count = 0;
  let sum = 0;
  let firstBad = -1;
  const t0 = nowNs();
  const q = new AsyncQueue(64);
  const producer = async () => {
    for (let i = 0; i < a.n; i++) await q.put(a.injectWrong && i === 0 ? 1 : i);
  };
  const consumer = async () => {
    for (let i = 0; i < a.n; i++) {
      const v = await q.get();
      if (v !== i && firstBad < 0) firstBad = i;
      sum += v;
      count++;
    }
  };
  await Promise.all([producer(), consumer()]);
  const ns = Number(nowNs() - t0);
  const want = a.n * (a.n - 1) / 2;
  if (count !== a.n || sum !== want || firstBad >= 0)
    wrong(`the consumer got ${count} items summing to ${sum} (first out of order at ${firstBad}), ` +
      `expected ${a.n} summing to ${want}, in order`);
  report(a, ns / a.n, ns / 1e6);
}

// ---- W7 N tasks, at most 100 at once under a semaphore -----------------------------------
async function w7(a) {
  const LIMIT = 100;
  let running = 0;
  let peak = 0;
  let done = 0;
  const t0 = nowNs();
  const sem = new Semaphore(LIMIT + (a.injectWrong ? 1 : 0));
  const task = async () => {
    await sem.acquire();
    if (++running > peak) peak = running;
    await null; // the microtask hop
    running--;
    done++;
    sem.release();
  };
  const tasks = new Array(a.n);
  for (let i = 0; i < a.n; i++) tasks[i] = task();
  const results = await Promise.all(tasks);
  const ns = Number(nowNs() - t0);
  const wantPeak = Math.min(a.n, LIMIT);
  if (results.length !== a.n) wrong(`all gave ${results.length} results, expected ${a.n}`);
  if (done !== a.n || peak !== wantPeak)
    wrong(`${done} tasks done, at most ${peak} at once; expected ${a.n}, at most ${wantPeak}`);
  report(a, ns / a.n, ns / 1e6);
}

// ---- W11a: one async function awaiting N already-resolved promises in a loop ------------
// `await` of a native promise costs one job in V8 (no extra promise or jobs since Node 12),
// resolved or not: each iteration suspends and is resumed by one microtask.
const w11Value = (a, i) => (a.injectWrong && i === 0 ? 1 : i);
function w11Check(a, count, sum) {
  const want = a.n * (a.n - 1) / 2;
  if (count !== a.n || sum !== want)
    wrong(`${count} steps summing to ${sum}, expected ${a.n} summing to ${want}`);
}

// W11b: the same N awaits shared by two async functions started together (even and odd
// steps), joined with Promise.all.
async function w11a(a, ncoro = 1) {
  let count = 0;
  let sum = 0;
  const body = async (first) => {
    for (let i = first; i < a.n; i += ncoro) {
      const v = await Promise.resolve(w11Value(a, i)); // not `sum += await`: that reads sum
      sum += v; //                                        before the await, and two interleave
      count++;
    }
  };
  const t0 = nowNs();
  if (ncoro === 1) await body(0);
  else await Promise.all([body(0), body(1)]);
  const ns = Number(nowNs() - t0);
  w11Check(a, count, sum);
  report(a, ns / a.n, ns / 1e6);
}
const w11b = (a) => w11a(a, 2);

// ---- W11c: the same loop in callback form: each step's reaction arms the next ------------
async function w11c(a) {
  let count = 0;
  let sum = 0;
  const t0 = nowNs();
  await new Promise((resolve) => {
    const step = (v) => {
      sum += v;
      const i = ++count;
      if (i < a.n) Promise.resolve(w11Value(a, i)).then(step);
      else resolve();
    };
    Promise.resolve(w11Value(a, 0)).then(step);
  });
  const ns = Number(nowNs() - t0);
  w11Check(a, count, sum);
  report(a, ns / a.n, ns / 1e6);
}

// ---- W12 TCP echo over 127.0.0.1 (bench/bench.h has the rules) --------------------------
// The server and the clients in this process, on Node's one loop; the clock and the CPU
// figures run from just before the first connect to the last client's last byte checked.
// The server is what the `net` documentation shows: write back each 'data' chunk, pause
// while a write is buffered past the high-water mark (what pipe() does), end at the end.
const net = require('net');
const W12A_MSG = 64;
const W12B_MSG = 4096;
const W12B_CONNS = 50;
const W12_PERIOD = 251;
const W12_READ = 65536;
const w12Pattern = Buffer.alloc(W12_PERIOD + W12_READ);
for (let i = 0; i < w12Pattern.length; i++) w12Pattern[i] = i % W12_PERIOD;
const w12Expect = (off, k, len) => {
  const o = (off + k) % W12_PERIOD;
  return w12Pattern.subarray(o, o + len);
};
function w12Message(a, i, k, size) {
  const m = w12Expect(i * size, k, size);
  if (!(a.injectWrong && i === 0 && k === 0)) return m;
  const copy = Buffer.from(m);
  copy[0]++;
  return copy;
}
// The bytes of `got` (compared at stream offset off of connection k) that differ.
function w12Bad(got, off, k) {
  let bad = 0;
  for (let p = 0; p < got.length; p += W12_READ) {
    const piece = got.subarray(p, Math.min(got.length, p + W12_READ));
    const want = w12Expect(off + p, k, piece.length);
    if (!piece.equals(want)) for (let i = 0; i < piece.length; i++) bad += piece[i] !== want[i];
  }
  return bad;
}

function w12Server() {
  return new Promise((resolve, reject) => {
    const server = net.createServer((sock) => {
      sock.on('data', (d) => {
        if (!sock.write(d)) {
          sock.pause();
          sock.once('drain', () => sock.resume());
        }
      });
      sock.on('end', () => sock.end());
      sock.on('error', () => sock.destroy());
    });
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

function w12Report(a, t0, c0, server) {
  const ns = Number(nowNs() - t0);
  const cpu = process.cpuUsage(c0);
  server.close();
  const per = a.w === '12a' ? a.n : a.n * W12B_MSG / 1e6;
  process.stdout.write(`W${a.w} node n=${a.n} ${METRIC[a.w]}=${(cpu.user / per).toFixed(3)} ` +
    `total_ms=${(ns / 1e6).toFixed(1)} rss_kb=${rssKb()} ` +
    `sys_${METRIC[a.w].slice(5)}=${(cpu.system / per).toFixed(3)}\n`);
}

function w12Check(a, got, want, bad) {
  if (got !== want || bad !== 0)
    wrong(`${got} ${a.w === '12a' ? 'round trips' : 'bytes'} came back (${bad} bytes wrong), ` +
      `expected ${want}, none wrong`);
}

// W12a: one connection, N ping-pongs of 64 bytes.
async function w12a(a) {
  const server = await w12Server();
  const port = server.address().port;
  const t0 = nowNs();
  const c0 = process.cpuUsage();
  let rounds = 0;
  let bad = 0;
  await new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let have = [];
    let haveLen = 0;
    sock.on('connect', () => sock.write(w12Message(a, 0, 0, W12A_MSG)));
    sock.on('data', (d) => {
      have.push(d);
      haveLen += d.length;
      if (haveLen < W12A_MSG) return;
      if (haveLen > W12A_MSG) return reject(new Error(`${haveLen} bytes back for one message`));
      const reply = have.length === 1 ? have[0] : Buffer.concat(have, haveLen);
      have = [];
      haveLen = 0;
      bad += w12Bad(reply, rounds * W12A_MSG, 0);
      if (++rounds === a.n) {
        sock.end();
        resolve();
      } else {
        sock.write(w12Message(a, rounds, 0, W12A_MSG));
      }
    });
    sock.on('error', reject);
  });
  w12Check(a, rounds, a.n, bad);
  w12Report(a, t0, c0, server);
}

// W12b: 50 connections, each writing its share of N 4 KiB messages (waiting for 'drain'
// whenever write() says the buffer is past its high-water mark) while it reads the echo.
async function w12b(a) {
  const server = await w12Server();
  const port = server.address().port;
  const t0 = nowNs();
  const c0 = process.cpuUsage();
  let got = 0;
  let want = 0;
  let bad = 0;
  const client = (k) => new Promise((resolve, reject) => {
    const msgs = Math.floor(a.n / W12B_CONNS) + (k < a.n % W12B_CONNS ? 1 : 0);
    const total = msgs * W12B_MSG;
    want += total;
    if (total === 0) return resolve();
    let back = 0;
    let sent = 0;
    const sock = net.connect(port, '127.0.0.1');
    const pump = () => {
      while (sent < msgs) if (!sock.write(w12Message(a, sent++, k, W12B_MSG))) return;
    };
    sock.on('connect', pump);
    sock.on('drain', pump);
    sock.on('data', (d) => {
      bad += w12Bad(d, back, k);
      back += d.length;
      got += d.length;
      if (back >= total) {
        sock.end();
        resolve();
      }
    });
    sock.on('end', () => { if (back < total) reject(new Error('the server closed early')); });
    sock.on('error', reject);
  });
  const clients = [];
  for (let k = 0; k < W12B_CONNS; k++) clients.push(client(k));
  await Promise.all(clients);
  w12Check(a, got, want, bad);
  w12Report(a, t0, c0, server);
}

async function main() {
  const a = parse(process.argv.slice(2));
  if (!a) {
    process.stderr.write('usage: node bench.js <w1|w2|w3|w4|w5|w6|w7|w11a|w11b|w11c|w12a|w12b> [N] ' +
      '[--inject-wrong]\n');
    process.exit(2);
  }
  try {
    await {
      1: w1, 2: w2, 3: w3, 4: w4, 5: w5, 6: w6, 7: w7, '11a': w11a, '11b': w11b, '11c': w11c,
      '12a': w12a, '12b': w12b,
    }[a.w](a);
  } catch (e) {
    if (!(e instanceof Wrong)) throw e;
    process.stderr.write(`W${a.w} node: wrong result: ${e.message}\n`);
    process.exit(1);
  }
}

main();
