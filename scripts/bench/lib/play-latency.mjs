// Live latency as a viewer sees it: hls.js (lowLatencyMode) in headless Chromium plays URL for SECONDS and samples,
// every 100 ms after the first second of playback, how far the frame on screen is behind the wall clock.
// usage: node play-latency.mjs URL SECONDS MODE
//   MODE pdt:         latency = now - hls.playingDate (PROGRAM-DATE-TIME of the frame on screen; Ovation's PDT is the
//                     ingest wall clock of the stream's first frame carried along the media timeline)
//   MODE nginx-name:  nginx writes no PDT; with hls_fragment_naming system each fragment is named after nginx's wall
//                     clock (ms) when it opened the fragment, i.e. when the fragment's first frame arrived, so
//                     latency = now - (name + (currentTime - frag.start))
// Uses playwright-core and hls.js from tests/browser/node_modules (npm ci there). Prints one JSON line.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const [url, secondsArg = '20', mode = 'pdt'] = process.argv.slice(2);
if (!url || !['pdt', 'nginx-name'].includes(mode)) {
  console.error('usage: node play-latency.mjs URL SECONDS pdt|nginx-name');
  process.exit(2);
}
// HLSJS_CONFIG: extra hls.js settings as JSON, e.g. '{"maxLiveSyncPlaybackRate":1.5}' (default: none).
const extraConfig = JSON.parse(process.env.HLSJS_CONFIG || '{}');
const watchSeconds = Math.min(Math.max(Number(secondsArg) || 20, 3), 600);
const here = path.dirname(fileURLToPath(import.meta.url));
const modules = path.resolve(here, '../../../tests/browser/node_modules');
const { chromium } = await import(pathToFileURL(path.join(modules, 'playwright-core', 'index.mjs')).href);
const hlsJs = path.join(modules, 'hls.js', 'dist', 'hls.min.js');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--autoplay-policy=no-user-gesture-required'],
});
const hardStop = setTimeout(() => { console.log(JSON.stringify({ ok: false, errors: ['timed out'] })); process.exit(1); },
  (watchSeconds + 60) * 1000);
let result;
try {
  const page = await browser.newPage({ viewport: { width: 640, height: 360 } });
  await page.setContent('<!doctype html><html><body style="margin:0;background:#000">'
    + '<video id="v" muted playsinline autoplay style="width:640px;height:360px"></video></body></html>');
  await page.addScriptTag({ path: hlsJs });
  result = await page.evaluate(async ({ url, watchSeconds, mode, extraConfig }) => {
    const video = document.getElementById('v');
    const errors = [];
    if (!Hls.isSupported()) return { ok: false, errors: ['no MSE'] };
    const hls = new Hls({ lowLatencyMode: true, ...extraConfig });
    let fatal = false;
    let stalls = 0;
    hls.on(Hls.Events.ERROR, (_e, d) => {
      if (d.details === 'bufferStalledError') stalls++;
      errors.push(`${d.type}/${d.details}${d.fatal ? ' (fatal)' : ''}`);
      if (d.fatal) fatal = true;
    });
    let lowLatency = false;
    let details = null;
    hls.on(Hls.Events.LEVEL_LOADED, (_e, d) => { details = d.details; lowLatency = lowLatency || !!d.details.partList; });
    const requested = performance.now();
    hls.loadSource(url);
    hls.attachMedia(video);
    video.play().catch(() => {});
    while (video.currentTime === 0 && !fatal && performance.now() - requested < 30000) {
      await new Promise(r => setTimeout(r, 50));
    }
    const startupSeconds = (performance.now() - requested) / 1000;
    const start = video.currentTime;
    const startWall = Date.now();
    const samples = [];
    const edge = [];
    const nameOf = t => {
      if (!details) return null;
      for (const f of details.fragments) {
        if (t >= f.start && t < f.start + f.duration) {
          const m = /-(\d+)\.ts(\?|$)/.exec(f.relurl || f.url || '');
          return m ? Number(m[1]) + (t - f.start) * 1000 : null;
        }
      }
      return null;
    };
    while (!fatal && Date.now() - startWall < watchSeconds * 1000) {
      await new Promise(r => setTimeout(r, 100));
      if (Date.now() - startWall < 1000 || video.paused) continue;
      let wallOfFrame = null;
      if (mode === 'pdt') wallOfFrame = hls.playingDate ? hls.playingDate.getTime() : null;
      else wallOfFrame = nameOf(video.currentTime);
      if (wallOfFrame !== null) samples.push((Date.now() - wallOfFrame) / 1000);
      if (typeof hls.latency === 'number' && isFinite(hls.latency)) edge.push(hls.latency);
    }
    const q = (arr, p) => {
      if (!arr.length) return null;
      const s = [...arr].sort((a, b) => a - b);
      return Number(s[Math.min(s.length - 1, Math.floor(p * s.length))].toFixed(3));
    };
    const played = video.currentTime - start;
    return {
      ok: !fatal && start > 0 && played >= watchSeconds / 2 && samples.length > 0,
      mode, lowLatency, hlsJsConfig: extraConfig, startupSeconds: Number(startupSeconds.toFixed(2)),
      playedSeconds: Number(played.toFixed(2)), stalls,
      latency: { p50: q(samples, 0.5), p99: q(samples, 0.99), min: q(samples, 0), max: q(samples, 1), samples: samples.length },
      hlsJsLiveEdgeLatency: { p50: q(edge, 0.5), p99: q(edge, 0.99) },
      errors: errors.slice(0, 10), video: `${video.videoWidth}x${video.videoHeight}`,
    };
  }, { url, watchSeconds, mode, extraConfig });
} finally {
  clearTimeout(hardStop);
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(result && result.ok ? 0 : 1);
