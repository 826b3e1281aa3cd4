// tests/js/retry_limit.js - issue 16's retry-with-backoff plus concurrency-limit program,
// the JavaScript of examples/retry_limit_await.c (its await form in vow).
// tests/compare_retry.cmake runs both and diffs their output line by line.
//
// fetchWithRetry and flaky are the lines as they are. The snippet stops
// there; the rest completes it the obvious way: ids 1..5 through a pool of 2 workers (at
// most 2 fetches at once), each fetch counted while it runs, and the results printed in
// id order. Id 4 gets 2 attempts instead of 3, so that one fetch gives up (the throw path).
//
// Only orders the timers define are compared: the fetches that run together run in lock
// step (their timers have equal delays, so they fire in creation order), and a race's
// timers of different delays are 30 ms apart (flaky's 80 or 20 against the 50 ms timeout).
'use strict';
const sleep = (ms, v) => new Promise(r => setTimeout(() => r(v), ms));
async function fetchWithRetry(id, attempts) {
  for (let i = 1; i <= attempts; i++) {
    try { return await Promise.race([flaky(id, i), sleep(50).then(() => { throw new Error('timeout'); })]); }
    catch (e) { console.log(`attempt ${i} for ${id} failed: ${e.message}`); await sleep(10 * 2 ** i); }
  }
  throw new Error(`gave up on ${id}`);
}
function flaky(id, i) { return sleep(i < 3 ? 80 : 20, `data-${id}`); }

// At most `limit` calls of fn at once: `limit` workers take the next item until none is
// left. The results are in item order.
async function mapLimit(items, limit, fn) {
  const results = [];
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const k = next++;
      results[k] = await fn(items[k]);
    }
  }
  await Promise.all(Array.from({ length: limit }, worker));
  return results;
}

async function main() {
  let running = 0, most = 0;
  const results = await mapLimit([1, 2, 3, 4, 5], 2, async (id) => {
    running++;
    most = Math.max(most, running);
    console.log(`start ${id} (${running} running)`);
    try {
      const data = await fetchWithRetry(id, id === 4 ? 2 : 3);
      console.log(`got ${data}`);
      return data;
    } catch (e) {
      console.log(e.message);
      return 'none';
    } finally {
      running--;
    }
  });
  console.log(`results: ${results.join(', ')}`);
  console.log(`at most ${most} at once`);
}

main();
