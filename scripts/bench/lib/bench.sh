# Shared by scripts/bench/ingest and scripts/bench/hls: source it after scripts/lib/common.sh.
# Defines functions only, plus the bench_* variables they fill in. Everything is loopback, every process
# started here is recorded and stopped by bench_cleanup (installed on EXIT/INT/TERM by bench_init).

bench_pids=()          # every background process started by these helpers
bench_tmp=""           # the run's temp dir (server data dir, nginx prefix, logs); removed on exit
bench_keep_tmp=${BENCH_KEEP_TMP:-0}

bench_log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

bench_init() {
  bench_tmp=$(mktemp -d "${TMPDIR:-/tmp}/ovation-bench.XXXXXX")
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

bench_cleanup() {
  local pid
  trap - EXIT INT TERM
  # Publishers and clients first, servers last (they are earlier in the list).
  for ((i = ${#bench_pids[@]} - 1; i >= 0; i--)); do
    pid=${bench_pids[i]}
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${bench_pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  if [ -n "$bench_tmp" ] && [ -d "$bench_tmp" ]; then
    if [ "$bench_keep_tmp" = 1 ]; then bench_log "kept $bench_tmp"; else rm -rf "$bench_tmp"; fi
  fi
}

bench_require() {
  local missing=()
  for c in "$@"; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "bench: missing ${missing[*]}; on Debian: apt-get install -y ffmpeg nginx-light libnginx-mod-rtmp nodejs chromium python3" >&2
    exit 2
  fi
  [ -f /usr/lib/nginx/modules/ngx_rtmp_module.so ] || {
    echo "bench: nginx RTMP module missing; apt-get install -y libnginx-mod-rtmp" >&2; exit 2; }
}

# Builds the server jar unless BENCH_BUILD=0.
bench_build() {
  if [ "${BENCH_BUILD:-1}" = 1 ]; then
    bench_log "building server (set BENCH_BUILD=0 to use the existing jar)"
    ./mvnw -B -q -ntp -pl server -am -DskipTests -DskipITs package
  fi
  [ -f server/target/ovation-server.jar ] || { echo "bench: server/target/ovation-server.jar missing" >&2; exit 2; }
}

# bench_source_flv -> prints the path of the publisher file: 60 s of 720p30 H.264 (CBR 2.5 Mbps, GOP 2 s,
# x264 veryfast with its default B-frames, like OBS) + AAC-LC 128 kbit/s 48 kHz stereo, encoded once and cached.
bench_source_flv() {
  local dir=${BENCH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ovation-bench}
  local f="$dir/src-720p30-2500k-g60-60s.flv"
  mkdir -p "$dir"
  if [ ! -s "$f" ]; then
    bench_log "pre-encoding $f once (60 s 720p30 2.5 Mbps H.264 + AAC)"
    ffmpeg -hide_banner -loglevel error -y \
      -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine=frequency=440:sample_rate=48000 -t 60 \
      -c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p -r 30 -g 60 -keyint_min 60 -sc_threshold 0 \
      -b:v 2500k -minrate 2500k -maxrate 2500k -bufsize 2500k -x264-params nal-hrd=cbr \
      -c:a aac -b:a 128k -ac 2 -f flv "$f.part"
    mv "$f.part" "$f"
  fi
  echo "$f"
}

# bench_publish URL LOGBASE: one ffmpeg pushing the cached file in real time, in a loop, without encoding.
# Writes ffmpeg's -progress key=value stream to LOGBASE.progress. Appends its pid to bench_pids and sets bench_last_pid.
bench_publish() {
  local url=$1 base=$2
  ffmpeg -hide_banner -nostdin -loglevel error -re -stream_loop -1 -i "$bench_src" -c copy \
    -progress "$base.progress" -stats_period 1 -f flv "$url" > "$base.log" 2>&1 &
  bench_last_pid=$!
  bench_pids+=("$bench_last_pid")
}

# bench_publish_java URLS PROGRESS LOG: one JVM (dev.ovation.ingest.rtmp.LoadPublisher, from the ingest module's test
# jar) publishing the cached file to every stream in URLS ("name url" lines) in real time, in a loop, like one ffmpeg
# -re -stream_loop -1 -c copy per stream. Rewrites PROGRESS every 100 ms ("name state videoFrames ..." lines; see the
# class). Needs bench_start_ovation first (runs from its private copy of server/target/lib). Sets bench_last_pid.
bench_publish_java() {
  local urls=$1 progress=$2 log=$3
  if [ ! -f "$bench_tmp/app/load-publisher.jar" ]; then
    local jar
    jar=$(ls ingest/target/ovation-ingest-*-tests.jar 2>/dev/null | head -n 1)
    [ -n "$jar" ] || { echo "bench: ingest/target/ovation-ingest-*-tests.jar missing (build with ./mvnw -pl server -am -DskipTests package)" >&2; exit 2; }
    cp "$jar" "$bench_tmp/app/load-publisher.jar"
  fi
  # Small heap, serial GC (the media is one direct buffer shared by all streams), no logging, no leak sampling.
  "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -Xms32m -Xmx256m -XX:MaxDirectMemorySize=512m -XX:+UseSerialGC \
    -Dslf4j.provider=org.slf4j.helpers.NOP_FallbackServiceProvider -Dio.netty.leakDetection.level=disabled \
    ${BENCH_PUBLISHER_JAVA_OPTS:-} -cp "$bench_tmp/app/load-publisher.jar:$bench_tmp/app/lib/*" \
    dev.ovation.ingest.rtmp.LoadPublisher --flv "$bench_src" --urls "$urls" --progress "$progress" \
    --progress-ms 100 --stagger-ms "${BENCH_PUBLISHER_STAGGER_MS:-1000}" --tick-ms "${BENCH_PUBLISHER_TICK_MS:-1}" \
    $([ "${BENCH_PUBLISHER_WRITES:-message}" = ffmpeg ] && echo --ffmpeg-writes) > "$log" 2>&1 &
  bench_last_pid=$!
  bench_pids+=("$bench_last_pid")
}

# bench_progress_frames LOGBASE -> last frame= value of a publisher's progress file (0 if none).
bench_progress_frames() {
  local v
  v=$(grep -a '^frame=' "$1.progress" 2>/dev/null | tail -n 1 | cut -d= -f2)
  echo "${v:-0}"
}

# ---- Ovation ----------------------------------------------------------------------------------------
# bench_start_ovation: fresh data dir and ports under bench_tmp; sets ov_pid ov_http ov_admin ov_rtmp ov_token ov_data.
bench_start_ovation() {
  ov_http=${BENCH_HTTP_PORT:-18180}; ov_admin=${BENCH_ADMIN_PORT:-18181}; ov_rtmp=${BENCH_RTMP_PORT:-11945}
  ov_data="$bench_tmp/ovation"
  mkdir -p "$ov_data" "$bench_tmp/app"
  # Run a private copy, so that a concurrent build of the tree cannot swap jars under the running server.
  cp -r server/target/ovation-server.jar server/target/lib "$bench_tmp/app/"
  # shellcheck disable=SC2046
  OVATION_DATA_DIR=$ov_data OVATION_HTTP_PORT=$ov_http OVATION_ADMIN_PORT=$ov_admin OVATION_RTMP_PORT=$ov_rtmp \
    OVATION_HTTP_BIND=127.0.0.1 OVATION_RTMP_BIND=127.0.0.1 \
    "$JAVA_HOME/bin/java" $(java_run_opts) ${BENCH_JAVA_OPTS:-} -jar "$bench_tmp/app/ovation-server.jar" \
    > "$bench_tmp/ovation.log" 2>&1 &
  ov_pid=$!
  bench_pids+=("$ov_pid")
  for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$ov_admin/healthz" >/dev/null 2>&1 && break
    kill -0 "$ov_pid" 2>/dev/null || { tail -n 30 "$bench_tmp/ovation.log" >&2; echo "bench: Ovation did not start" >&2; exit 1; }
    sleep 0.2
  done
  curl -sf "http://127.0.0.1:$ov_admin/healthz" >/dev/null || { echo "bench: Ovation not healthy after 60 s" >&2; exit 1; }
  ov_token=$(cat "$ov_data/admin-token")
}

# bench_ovation_creator HANDLE -> prints the stream key of a new creator.
bench_ovation_creator() {
  curl -sf -X POST -H "Authorization: Bearer $ov_token" -H 'Content-Type: application/json' \
    -d "{\"handle\":\"$1\"}" "http://127.0.0.1:$ov_admin/admin/creators" \
    | sed -n 's/.*"streamKey":"\([^"]*\)".*/\1/p'
}

bench_ovation_metrics() {
  curl -sf -H "Authorization: Bearer $ov_token" "http://127.0.0.1:$ov_admin/metrics"
}

# ---- nginx-rtmp -------------------------------------------------------------------------------------
# bench_start_nginx: nginx in the foreground with its own prefix under bench_tmp, RTMP on ngx_rtmp, HLS (2 s
# fragments, fragment names = wall clock ms at fragment start) served by an http server, plus rtmp_stat.
# Sets ngx_pid ngx_rtmp ngx_http ngx_hls.
bench_start_nginx() {
  ngx_rtmp=${BENCH_NGINX_RTMP_PORT:-11955}; ngx_http=${BENCH_NGINX_HTTP_PORT:-18190}
  local p="$bench_tmp/nginx"
  ngx_hls="$p/hls"
  mkdir -p "$p/logs" "$p/tmp" "$ngx_hls"
  local workers=${BENCH_NGINX_WORKERS:-auto} user_line=""
  # As root the workers would switch to www-data and could not write into our 0700 temp dir.
  [ "$(id -u)" = 0 ] && user_line="user root root;"
  cat > "$p/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
$user_line
daemon off;
master_process on;
worker_processes $workers;
pid $p/nginx.pid;
error_log $p/logs/error.log warn;
events { worker_connections 4096; }
rtmp {
  server {
    listen 127.0.0.1:$ngx_rtmp;
    chunk_size 4096;
    application live {
      live on;
      record off;
      hls on;
      hls_path $ngx_hls;
      hls_fragment 2s;
      hls_playlist_length 30s;
      hls_fragment_naming system;
    }
  }
}
http {
  access_log off;
  client_body_temp_path $p/tmp/body;
  proxy_temp_path $p/tmp/proxy;
  fastcgi_temp_path $p/tmp/fastcgi;
  uwsgi_temp_path $p/tmp/uwsgi;
  scgi_temp_path $p/tmp/scgi;
  types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
  server {
    listen 127.0.0.1:$ngx_http;
    location /hls/ {
      alias $ngx_hls/;
      add_header Cache-Control no-cache;
      add_header Access-Control-Allow-Origin *;
    }
    location /stat { rtmp_stat all; }
  }
}
EOF
  nginx -p "$p" -c "$p/nginx.conf" -e "$p/logs/error.log" > "$p/logs/stdout.log" 2>&1 &
  ngx_pid=$!
  bench_pids+=("$ngx_pid")
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$ngx_http/stat" 2>/dev/null && break
    kill -0 "$ngx_pid" 2>/dev/null || { cat "$p/logs/error.log" >&2; echo "bench: nginx did not start" >&2; exit 1; }
    sleep 0.1
  done
}

# ---- process accounting -------------------------------------------------------------------------------
# bench_tree_pids PID -> PID and its descendants (nginx: master + workers).
bench_tree_pids() {
  local pid=$1 c
  echo "$pid"
  for c in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do bench_tree_pids "$c"; done
}

# bench_cpu_ticks PID -> utime+stime clock ticks summed over PID and its descendants.
bench_cpu_ticks() {
  local total=0 p rest
  for p in $(bench_tree_pids "$1"); do
    rest=$(sed 's/^.*) //' /proc/"$p"/stat 2>/dev/null) || continue
    # fields after "comm)": state(3) ... utime is field 14, stime 15 -> index 12 and 13 here
    set -- $rest
    total=$((total + ${12} + ${13}))
  done
  echo "$total"
}

# bench_hwm_kb PID -> VmHWM (peak RSS, kB) summed over PID and its descendants.
bench_hwm_kb() {
  local total=0 p v
  for p in $(bench_tree_pids "$1"); do
    v=$(awk '/^VmHWM:/ {print $2}' /proc/"$p"/status 2>/dev/null)
    total=$((total + ${v:-0}))
  done
  echo "$total"
}

bench_rss_kb() {
  local total=0 p v
  for p in $(bench_tree_pids "$1"); do
    v=$(awk '/^VmRSS:/ {print $2}' /proc/"$p"/status 2>/dev/null)
    total=$((total + ${v:-0}))
  done
  echo "$total"
}

bench_clk_tck() { getconf CLK_TCK; }

# bench_thread_ticks PID -> "name ticks" per thread (digits in names folded to #, so pools group together).
bench_thread_ticks() {
  local t line comm rest
  for t in /proc/"$1"/task/*; do
    line=$(cat "$t/stat" 2>/dev/null) || continue
    comm=${line#*(}; comm=${comm%)*}
    rest=${line##*) }
    set -- $rest
    echo "$(echo "$comm" | tr ' ' '_' | sed 's/[0-9]\+/#/g') $(( ${12} + ${13} ))"
  done | awk '{a[$1] += $2} END {for (k in a) print k, a[k]}'
}
