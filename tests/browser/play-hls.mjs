// Plays an HLS URL with hls.js in headless Chromium and reports what a viewer would see.
// usage: node play-hls.mjs URL [seconds] [screenshot.png]
// Prints one JSON line: {ok, playedSeconds, currentTime, latencySeconds, lowLatency, levels, errors, mseH264}
// and exits 0 only when video time advanced by at least half the watch time with no fatal hls.js error.
import { launchChromium } from './chromium.mjs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const [url, secondsArg = '6', screenshot] = process.argv.slice(2);
if (!url) {
  console.error('usage: node play-hls.mjs URL [seconds] [screenshot.png]');
  process.exit(2);
}
const watchSeconds = Number(secondsArg);
const here = path.dirname(fileURLToPath(import.meta.url));
const hlsJs = path.join(here, 'node_modules', 'hls.js', 'dist', 'hls.min.js');

// IGNORE_CERT_ERRORS=1: accept a test server's self-signed certificate (h2 over TLS tests)
const browser = await launchChromium(process.env.IGNORE_CERT_ERRORS === '1' ? ['--ignore-certificate-errors'] : []);
let result;
try {
  const page = await browser.newPage({ viewport: { width: 640, height: 360 } });
  // the protocols the HLS responses came over ("h2", "http/1.1"), from Chromium's network events
  const protocols = new Set();
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  cdp.on('Network.responseReceived', e => { if (e.response.url.includes('/hls/')) protocols.add(e.response.protocol); });
  await page.setContent('<!doctype html><html><body style="margin:0;background:#000">'
    + '<video id="v" muted playsinline autoplay style="width:640px;height:360px"></video></body></html>');
  await page.addScriptTag({ path: hlsJs });
  result = await page.evaluate(async ({ url, watchSeconds, debugPattern }) => {
    const video = document.getElementById('v');
    const errors = [];
    const mseH264 = window.MediaSource ? MediaSource.isTypeSupported('video/mp4; codecs="avc1.42E01E,mp4a.40.2"') : false;
    if (!Hls.isSupported()) {
      return { ok: false, errors: ['hls.js is not supported here (no MSE)'], mseH264 };
    }
    // HLS_DEBUG=regex: hls.js log lines matching it are returned in debugLog (to see how it picks its start)
    const debugLog = [];
    const keep = debugPattern ? new RegExp(debugPattern) : null;
    const sink = (...a) => { const line = a.join(' '); if (keep && keep.test(line) && debugLog.length < 200) debugLog.push(`${Date.now() % 100000} ${line}`); };
    const hls = new Hls(keep ? { lowLatencyMode: true, debug: { trace: sink, debug: sink, log: sink, info: sink, warn: sink, error: sink } }
      : { lowLatencyMode: true });
    let fatal = false;
    hls.on(Hls.Events.ERROR, (_e, data) => {
      errors.push(`${data.type}/${data.details}${data.fatal ? ' (fatal)' : ''}`);
      if (data.fatal) fatal = true;
    });
    let levels = 0;
    let lowLatency = false;
    hls.on(Hls.Events.MANIFEST_PARSED, (_e, data) => { levels = data.levels.length; });
    hls.on(Hls.Events.LEVEL_LOADED, (_e, data) => { lowLatency = lowLatency || !!data.details.partList; });
    hls.loadSource(url);
    hls.attachMedia(video);
    video.play().catch(() => {});
    const deadline = Date.now() + 20000;
    while (video.currentTime === 0 && !fatal && Date.now() < deadline) {
      await new Promise(r => setTimeout(r, 100));
    }
    const start = video.currentTime;
    const startWall = Date.now();
    let startLatency = null; // hls.latency after 1 s of play (at the very first frame currentTime may not have jumped to the buffer yet)
    // Glass-to-glass from ingest: the PROGRAM-DATE-TIME of the frame on screen is the wall clock at which
    // Ovation's ingest received it, so now - playingDate is how far the viewer is behind the publisher.
    const pdtLatencies = [];
    while (!fatal && Date.now() - startWall < watchSeconds * 1000) {
      await new Promise(r => setTimeout(r, 100));
      if (hls.playingDate && Date.now() - startWall > 1000) {
        pdtLatencies.push((Date.now() - hls.playingDate.getTime()) / 1000);
        if (startLatency === null && typeof hls.latency === 'number' && isFinite(hls.latency)) startLatency = hls.latency;
      }
    }
    pdtLatencies.sort((a, b) => a - b);
    const pick = q => pdtLatencies.length ? Number(pdtLatencies[Math.min(pdtLatencies.length - 1, Math.floor(q * pdtLatencies.length))].toFixed(3)) : null;
    const played = video.currentTime - start;
    const latency = typeof hls.latency === 'number' && isFinite(hls.latency) ? hls.latency : null;
    const target = typeof hls.targetLatency === 'number' && isFinite(hls.targetLatency) ? hls.targetLatency : null;
    return {
      ok: !fatal && start > 0 && played >= watchSeconds / 2,
      playedSeconds: Number(played.toFixed(3)),
      currentTime: Number(video.currentTime.toFixed(3)),
      latencySeconds: latency === null ? null : Number(latency.toFixed(3)),
      targetLatencySeconds: target === null ? null : Number(target.toFixed(3)),
      latencyAfter1sSeconds: startLatency === null ? null : Number(startLatency.toFixed(3)),
      ingestToScreenSeconds: { p50: pick(0.5), p95: pick(0.95), samples: pdtLatencies.length },
      lowLatency, levels, errors: errors.slice(0, 20), mseH264,
      videoWidth: video.videoWidth, videoHeight: video.videoHeight,
      ...(keep ? { debugLog } : {}),
    };
  }, { url, watchSeconds, debugPattern: process.env.HLS_DEBUG || '' });
  if (result) {
    result.protocols = [...protocols];
  }
  if (screenshot) {
    await page.screenshot({ path: screenshot });
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(result && result.ok ? 0 : 1);
