#!/usr/bin/env python3
"""Small parsers for scripts/bench/ingest and scripts/bench/hls (standard library only).

  benchlib.py prom FILE                 -> JSON: Ovation per-stream frame/byte counters, dropped frames,
                                           part-ready latency summary, HLS request counters
  benchlib.py nginx-rate DIR T0 T1 FPS  -> JSON: per nginx HLS stream, media seconds / wall seconds over the
                                           fragments that started in [T0, T1] (ms since epoch; fragment names
                                           are nginx's wall clock at fragment start: hls_fragment_naming system)
  benchlib.py ingest-table TSV          -> the ingest result table
"""
import json
import os
import re
import sys

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_prom(text):
    out = []
    for line in text.splitlines():
        if not line or line.startswith('#'):
            continue
        m = LINE.match(line)
        if not m:
            continue
        labels = dict(LABEL.findall(m.group(3) or ''))
        try:
            value = float(m.group(4))
        except ValueError:
            continue
        out.append((m.group(1), labels, value))
    return out


def prom(path):
    samples = parse_prom(open(path, encoding='utf-8').read())
    streams = {}
    dropped = 0.0
    latency = {}
    requests = {}
    for name, labels, value in samples:
        if name == 'ovation_ingest_stream_frames_total':
            streams.setdefault(labels.get('handle'), {})[labels.get('kind')] = value
        elif name == 'ovation_ingest_stream_bytes_total':
            streams.setdefault(labels.get('handle'), {})['bytes'] = value
        elif name == 'ovation_hls_dropped_frames_total':
            dropped += value
        elif name.startswith('ovation_hls_part_ready_latency_seconds'):
            key = name[len('ovation_hls_part_ready_latency_seconds'):].lstrip('_') or ('q' + labels.get('quantile', ''))
            latency[key] = value
        elif name == 'ovation_hls_requests_total':
            requests[labels.get('kind', '?') + ' ' + labels.get('status', '?')] = value
    print(json.dumps({'streams': streams, 'droppedFrames': dropped, 'partReadyLatency': latency,
                      'requests': requests}))


def nginx_rate(directory, t0, t1, fps):
    t0, t1 = int(t0), int(t1)
    result = {}
    for name in os.listdir(directory):
        if not name.endswith('.m3u8'):
            continue
        stream = name[:-5]
        try:
            lines = open(os.path.join(directory, name), encoding='utf-8').read().splitlines()
        except OSError:
            continue
        frags = []
        duration = None
        for line in lines:
            if line.startswith('#EXTINF:'):
                duration = float(line[8:].split(',')[0])
            elif line and not line.startswith('#') and duration is not None:
                m = re.search(r'-(\d+)\.ts$', line)
                if m:
                    frags.append((int(m.group(1)), duration))
                duration = None
        inside = [f for f in frags if t0 <= f[0] <= t1]
        if len(inside) < 2:
            result[stream] = None
            continue
        media = sum(d for _, d in inside[:-1])
        wall = (inside[-1][0] - inside[0][0]) / 1000.0
        result[stream] = round(media / wall, 4) if wall > 0 else None
    print(json.dumps(result))


def ingest_table(path):
    rows = [line.rstrip('\n').split('\t') for line in open(path, encoding='utf-8') if line.strip()]
    head = ['N', 's', 'Ovation CPU s/stream-min (excl. JIT)', 'nginx CPU s/stream-min', 'ratio Ov/nginx',
            'Ovation peak RSS MB', 'nginx peak RSS MB', 'Ovation frames recv/expected (min stream)',
            'Ovation dropped', 'nginx media/wall (min stream)', 'publishers frames/expected (min)',
            'publishers CPU (cores)']
    table = [head] + rows
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    print('| ' + ' | '.join(h.ljust(w) for h, w in zip(head, widths)) + ' |')
    print('|' + '|'.join('-' * (w + 2) for w in widths) + '|')
    for r in rows:
        print('| ' + ' | '.join(c.rjust(w) for c, w in zip(r, widths)) + ' |')


if __name__ == '__main__':
    cmd = sys.argv[1]
    if cmd == 'prom':
        prom(sys.argv[2])
    elif cmd == 'nginx-rate':
        nginx_rate(*sys.argv[2:6])
    elif cmd == 'ingest-table':
        ingest_table(sys.argv[2])
    else:
        sys.exit('unknown command ' + cmd)
