// The peer of scripts/bench/ws-fanout: a minimal broadcast server on Node's `ws` package. Same shape of load as
// FanoutServer: one room, joins acknowledged, once the control file exists `rate` events per second are sent to every
// client, each encoded once and sent with ws.send (one write per delivery).
// Args: port rate paddingChars controlFile
const { WebSocketServer } = require('ws');
const fs = require('fs');
const [port, rate, pad, control] = [+process.argv[2], +process.argv[3], +process.argv[4], process.argv[5]];
const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.on('message', (data) => {
    try {
      const req = JSON.parse(data);
      ws.send(JSON.stringify({ type: 'ack', id: String(req.id), room: req.room, lastEventId: 0, viewers: 0 }));
    } catch (e) { /* ignore */ }
  });
});
wss.on('listening', () => console.log('READY ' + process.pid));
const padding = 'x'.repeat(pad);
let eventId = 0;
let started = false;
let next = 0;
function tick() {
  if (!started) {
    if (!fs.existsSync(control)) { setTimeout(tick, 50); return; }
    started = true;
    next = performance.now();
  }
  const micros = Math.round((performance.timeOrigin + performance.now()) * 1000);
  const msg = JSON.stringify({ eventId: ++eventId, type: 'system', room: 'bench', serverTime: Date.now(),
    mediaTime: null, text: micros + '|' + padding });
  for (const c of wss.clients) c.send(msg);
  next += 1000 / rate;
  setTimeout(tick, Math.max(0, next - performance.now()));
}
tick();
