// The peer of scripts/bench/fanout: a minimal broadcast server on Node's `ws` package. Same shape of load as
// FanoutServer: rooms joined with a join request (acknowledged), once the control file exists `rate` events per second
// are sent to every member of each room, each encoded once per room and sent with ws.send (one write per delivery).
// Args: port rate paddingChars controlFile
const { WebSocketServer } = require('ws');
const fs = require('fs');
const [port, rate, pad, control] = [+process.argv[2], +process.argv[3], +process.argv[4], process.argv[5]];
const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false });
const rooms = new Map(); // room name -> Set of members
wss.on('connection', (ws) => {
  ws.on('close', () => { for (const members of rooms.values()) members.delete(ws); });
  ws.on('message', (data) => {
    try {
      const req = JSON.parse(data);
      if (req.type === 'join') {
        if (!rooms.has(req.room)) rooms.set(req.room, new Set());
        rooms.get(req.room).add(ws);
      }
      ws.send(JSON.stringify({ type: 'ack', id: String(req.id), room: req.room, lastEventId: 0, viewers: 0 }));
    } catch (e) { /* ignore */ }
  });
});
wss.on('listening', () => console.log('READY ' + process.pid));
const padding = 'x'.repeat(pad);
let eventId = 0;
let started = false;
let next = 0;
let slot = 0;
function tick() {
  if (!started) {
    if (!fs.existsSync(control)) { setTimeout(tick, 50); return; }
    started = true;
    next = performance.now();
  }
  // One room per slot: each room gets `rate` events/s, spread evenly over the period (not all rooms at once).
  const names = [...rooms.keys()];
  if (names.length > 0) {
    const room = names[slot % names.length];
    slot = (slot + 1) % names.length;
    const micros = Math.round((performance.timeOrigin + performance.now()) * 1000);
    const msg = JSON.stringify({ eventId: ++eventId, type: 'system', room, serverTime: Date.now(),
      mediaTime: null, text: micros + '|' + padding });
    for (const c of rooms.get(room)) c.send(msg);
  }
  next += 1000 / (rate * Math.max(1, rooms.size));
  setTimeout(tick, Math.max(0, next - performance.now()));
}
tick();
