// LL-HLS origin load: V viewers, each doing what an LL-HLS player does at the live edge: blocking playlist reloads
// (?_HLS_msn=M&_HLS_part=P for the part after the newest one it has) and a GET of every new part, over keep-alive
// HTTP/1.1 (one agent per viewer, at most 2 sockets each, like a browser tab on HTTP/1.1).
// usage: node hls-load.mjs MEDIA_PLAYLIST_URL VIEWERS SECONDS
// Prints one JSON line: requests/s by kind, statuses, bytes, errors, and the "outside" part latency: for each newly
// listed part, (time the blocking reload returned it) - (its end on the PDT timeline: segment PDT + preceding parts +
// its duration), p50/p99. With a real-time publisher that is server-added latency + the wait for the frame that
// completes the part (up to one frame interval) + HTTP + a constant offset of the PDT anchor (Ovation anchors PDT on the
// wall clock of the stream's first frame; ffmpeg's pacing relative to that frame shifts every sample alike, and can
// make them negative). So the script also reports the samples less their minimum: the spread of that latency.
import http from 'node:http';

const [url, viewersArg = '10', secondsArg = '20'] = process.argv.slice(2);
if (!url) {
  console.error('usage: node hls-load.mjs MEDIA_PLAYLIST_URL VIEWERS SECONDS');
  process.exit(2);
}
const viewers = Math.min(Math.max(Number(viewersArg) || 1, 1), 5000);
const seconds = Math.min(Math.max(Number(secondsArg) || 20, 1), 600);
const base = new URL(url);
const deadline = Date.now() + seconds * 1000;

const stats = { playlist: 0, part: 0, bytes: 0, status: {}, errors: {}, latencies: [], maxLatencySamples: 200000 };

function get(agent, pathAndQuery) {
  return new Promise(resolve => {
    const req = http.request({ host: base.hostname, port: base.port, path: pathAndQuery, agent, timeout: 15000 }, res => {
      const chunks = [];
      res.on('data', c => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        stats.bytes += body.length;
        stats.status[res.statusCode] = (stats.status[res.statusCode] || 0) + 1;
        resolve({ status: res.statusCode, body });
      });
      res.on('error', e => resolve({ status: 0, error: e.code || e.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', e => {
      stats.errors[e.code || e.message] = (stats.errors[e.code || e.message] || 0) + 1;
      resolve({ status: 0 });
    });
    req.end();
  });
}

// -> { msn of the last (possibly open) segment, index of its last part, parts: [{uri, msn, index, endWallMs}] }
function parse(text) {
  let seq = 0;
  let msn = null;
  let pdt = null;
  let offset = 0;
  const parts = [];
  let lastPart = null;
  for (const line of text.split('\n')) {
    if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) {
      seq = Number(line.slice(22));
      msn = seq;
    } else if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) {
      pdt = Date.parse(line.slice(25));
      offset = 0;
    } else if (line.startsWith('#EXT-X-PART:')) {
      const d = Number(/DURATION=([0-9.]+)/.exec(line)?.[1] ?? 0);
      const uri = /URI="([^"]+)"/.exec(line)?.[1];
      const index = lastPart && lastPart.msn === msn ? lastPart.index + 1 : 0;
      offset += d * 1000;
      lastPart = { uri, msn, index, endWallMs: pdt === null ? null : pdt + offset };
      parts.push(lastPart);
    } else if (line.startsWith('#EXT-X-SKIP:')) {
      msn += Number(/SKIPPED-SEGMENTS=(\d+)/.exec(line)?.[1] ?? 0);
    } else if (line && !line.startsWith('#')) {
      msn++;
      offset = 0;
      pdt = null;
    }
  }
  // msn is now the sequence number of the segment being built (after the last complete one)
  return { lastPart, parts, openMsn: msn };
}

const dir = base.pathname.slice(0, base.pathname.lastIndexOf('/') + 1);

async function viewer() {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  const seen = new Set();
  const order = [];
  let first = true;
  let next = null;
  while (Date.now() < deadline) {
    const q = next ? `?_HLS_msn=${next.msn}&_HLS_part=${next.part}` : '';
    const res = await get(agent, base.pathname + q);
    stats.playlist++;
    const now = Date.now();
    if (res.status !== 200) {
      next = null;
      await new Promise(r => setTimeout(r, 200));
      continue;
    }
    const { lastPart, parts, openMsn } = parse(res.body.toString('utf8'));
    if (!lastPart) {
      await new Promise(r => setTimeout(r, 200));
      continue;
    }
    const fresh = parts.filter(p => p.uri && !seen.has(p.uri));
    // On the first load take only the newest part, as a player joining at the live edge does.
    const toFetch = first ? fresh.slice(-1) : fresh;
    if (!first && lastPart.endWallMs !== null && !seen.has(lastPart.uri) && stats.latencies.length < stats.maxLatencySamples) {
      stats.latencies.push(now - lastPart.endWallMs);
    }
    for (const p of fresh) {
      seen.add(p.uri);
      order.push(p.uri);
    }
    while (order.length > 200) seen.delete(order.shift());
    first = false;
    await Promise.all(toFetch.map(async p => {
      await get(agent, p.uri.startsWith('/') ? p.uri : dir + p.uri);
      stats.part++;
    }));
    // The part after the newest one: the next in its segment, or the first of the next segment when it is complete.
    next = lastPart.msn < openMsn ? { msn: openMsn, part: 0 } : { msn: lastPart.msn, part: lastPart.index + 1 };
  }
  agent.destroy();
}

const started = Date.now();
const cpu0 = process.cpuUsage();
await Promise.all(Array.from({ length: viewers }, (_, i) => new Promise(r => setTimeout(r, (i * 997) % 1000)).then(viewer)));
const elapsed = (Date.now() - started) / 1000;
const cpu = process.cpuUsage(cpu0);
const sorted = stats.latencies.sort((a, b) => a - b);
const q = p => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : null);
const minimum = sorted.length ? sorted[0] : null;
const rel = p => (sorted.length ? q(p) - minimum : null);
console.log(JSON.stringify({
  viewers, seconds: Number(elapsed.toFixed(2)),
  requestsPerSecond: Number(((stats.playlist + stats.part) / elapsed).toFixed(1)),
  playlistRequests: stats.playlist, partRequests: stats.part,
  megabitsPerSecond: Number((stats.bytes * 8 / elapsed / 1e6).toFixed(1)),
  status: stats.status, errors: stats.errors,
  outsidePartLatencyMs: { p50: q(0.5), p99: q(0.99), min: minimum, max: q(1), samples: sorted.length },
  // the same less its minimum: the PDT anchor carries a constant offset (first-frame arrival vs publisher pacing)
  outsidePartLatencyOverMinMs: { p50: rel(0.5), p99: rel(0.99), max: rel(1) },
  clientCpuSeconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(2)),
}));
