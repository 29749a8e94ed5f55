// Watch page: /live/{handle}. Plays the creator's LL-HLS stream.
import Hls from '/assets/hls.min.mjs';

const handle = decodeURIComponent(location.pathname.split('/')[2] || '');
const app = document.getElementById('app');
const title = document.createElement('h1');
title.textContent = handle;
const video = document.createElement('video');
video.id = 'player';
video.muted = true;
video.autoplay = true;
video.playsInline = true;
video.controls = true;
app.append(title, video);
const src = `/hls/${encodeURIComponent(handle)}/index.m3u8`;
if (video.canPlayType('application/vnd.apple.mpegurl')) {
  video.src = src;
} else if (Hls.isSupported()) {
  const hls = new Hls({ lowLatencyMode: true });
  hls.loadSource(src);
  hls.attachMedia(video);
}
