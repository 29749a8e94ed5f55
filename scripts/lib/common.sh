# Shared by scripts/*: finding a JDK >= 21 and the repository root. Source it; it defines functions only.

ovation_root() {
  cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd
}

# java_major JAVA_BIN -> prints the feature version (17, 21, 25, ...) or nothing.
java_major() {
  "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p' | head -n 1
}

# Exports JAVA_HOME for a JDK >= 21: JAVA_HOME if it qualifies, else the newest under /usr/lib/jvm.
pick_jdk() {
  local candidate major best="" best_major=0
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/javac" ]; then
    major=$(java_major "$JAVA_HOME/bin/java")
    if [ -n "$major" ] && [ "$major" -ge 21 ]; then
      export JAVA_HOME
      return 0
    fi
  fi
  for candidate in /usr/lib/jvm/*; do
    [ -x "$candidate/bin/javac" ] || continue
    major=$(java_major "$candidate/bin/java")
    if [ -n "$major" ] && [ "$major" -ge 21 ] && [ "$major" -gt "$best_major" ]; then
      best="$candidate"
      best_major="$major"
    fi
  done
  if [ -z "$best" ]; then
    echo "ovation: no JDK 21 or newer found (JAVA_HOME=${JAVA_HOME:-unset}; looked under /usr/lib/jvm)." >&2
    echo "ovation: install one, e.g. 'apt-get install openjdk-21-jdk' or Temurin 21/25, or set JAVA_HOME to it." >&2
    return 1
  fi
  export JAVA_HOME="$best"
}

# JVM options for running the server on this JDK, plus its memory: SERVER_HEAP (default 1g) for -Xmx and
# SERVER_DIRECT_MEMORY (default: SERVER_HEAP) for -XX:MaxDirectMemorySize. Media is not on the heap: ingest buffers
# are direct and held for one part at most, and the packager's LL-HLS parts are unpooled direct buffers (the open
# segment and hls.spool.memory-segments closed ones per stream, plus segments waiting for the spool's writer; the
# rest is in the spool files). At 200 streams of 2.6 Mbit/s that is about 260 MB, some 500 MB with 8 s per stream
# held (a slow spool, readers still writing parts out); Netty's pooled network buffers and spool reads come on top.
# Netty 4.2 on JDK 25 (no sun.misc.Unsafe) allocates its direct buffers with malloc through the FFM linker (a
# restricted method: --enable-native-access below) and frees them on release; it counts them against
# io.netty.maxDirectMemory, which defaults to this MaxDirectMemorySize (checked: with 32m it stops at 32 unpooled
# 1 MiB buffers, OutOfDirectMemoryError), while the JDK's own ByteBuffer.allocateDirect counts separately against the
# same number. Without a spool (hls.spool.enabled = false) every kept segment is in direct memory: size
# SERVER_DIRECT_MEMORY to streams x hls.max-segments-kept x segment size. Without -Xmx the JVM takes up to 1/4 of RAM
# and G1 grows into it. SERVER_JAVA_OPTS is appended (and wins: a later -Xmx overrides this one).
#
# An idle server should cost next to nothing. The monitor deflation thread woke 4 times a second on the idle
# assembled server (G1, 60 s, /proc/PID/task/*/schedstat: 0.05-0.08 CPU s/min, the second largest idle cost after G1's
# refinement thread), checking every AsyncDeflationInterval = 250 ms whether inflated monitors need deflating; here it
# checks every 10 s (deflation still runs when needed, and the 60 s guaranteed check stays). A diagnostic flag, used
# only when this JVM has it; SERVER_IDLE_FLAGS=0 leaves it out.
#
# G1 refines its remembered sets in the young pauses, not in a concurrent thread (SERVER_G1_REFINEMENT=pause, the
# default; concurrent restores the JVM's default). The refinement thread woke 12-13 times a second on the idle server
# (0.09-0.11 CPU s/min, three quarters of that server's wakeups) and took 4-9 clock ticks a minute at one stream, G1's
# whole cost there; -XX:-G1UseConcRefinement leaves the dirty cards for the next young pause, which scans them. Measured
# in session 10 (docs/benchmarks.md): idle 1,009 -> 207 wakeups and 0.11 -> 0.03 CPU s a minute; ingest at one stream
# 1.02-1.13 -> 0.95 of nginx's CPU, at 200 streams the same CPU (0.46-0.48 of nginx) and pauses (max 26-34 ms both
# ways); 1,000 LL-HLS viewers the same CPU and part latency. (Session 4 had found pauses of 161 ms at 10 streams this
# way, when the LL-HLS parts were heap arrays that got promoted; they are direct buffers now and the old generation
# stays small.) A diagnostic flag, used only when this JVM has it (JDK 20 and later).
#
# The collector: SERVER_GC=g1 (default) | parallel | zgc. Measured on the assembled server with scripts/bench/ingest
# (docs/benchmarks.md "Session 6"), CPU s per stream-minute at 1 / 10 / 200 streams and the longest pause at 200:
#   g1        0.65 / 0.31 / 0.14-0.18, pauses up to 31 ms (mixed collections keep the old generation in check)
#   parallel  0.41 / 0.23 / 0.14-0.15, but full collections of 105-135 ms every ~11 s at 200 streams: the packager's
#             LL-HLS parts were heap byte arrays that lived a few seconds, got promoted and filled the old generation.
#             Since they are direct buffers (session 7, another VM) g1 and parallel cost the same (1 / 10 / 200:
#             0.26 / 0.16 / 0.08 both), parallel makes no full collection at 200 streams and its young pauses stay
#             under 5 ms; g1's longest pause there 18 ms, peak RSS 550 MB instead of 1,253.
#   zgc       0.73 / 0.29 / 0.14, pauses under 1 ms, but its director thread costs about 0.3 CPU s/min at any load
#             and its RSS starts higher (about 480 MB at one stream).
# jvm_has_flag NAMES FLAG: true when FLAG is one of the lines of NAMES (java_run_opts' list of the JVM's flags).
jvm_has_flag() { [[ $'\n'"$1"$'\n' == *$'\n'"$2"$'\n'* ]]; }

java_run_opts() {
  local major
  major=$(java_major "$JAVA_HOME/bin/java")
  if [ "$major" -ge 22 ]; then
    echo -n "--enable-native-access=ALL-UNNAMED "
  fi
  # The flags this JVM knows, diagnostic ones included, one name a line (awk reads to the end: grep -q would stop
  # early, and under pipefail the JVM's SIGPIPE would read as "absent"). Diagnostic flags go last, after one unlock.
  local known diagnostic=""
  known=$("$JAVA_HOME/bin/java" -XX:+UnlockDiagnosticVMOptions -XX:+PrintFlagsFinal -version 2>/dev/null \
    | awk '{print $2}')
  if [ "${SERVER_IDLE_FLAGS:-1}" = 1 ] && jvm_has_flag "$known" AsyncDeflationInterval; then
    diagnostic+="-XX:AsyncDeflationInterval=10000 "
  fi
  case "${SERVER_GC:-g1}" in
    g1) echo -n "-XX:+UseG1GC "
      case "${SERVER_G1_REFINEMENT:-pause}" in
        pause) if jvm_has_flag "$known" G1UseConcRefinement; then diagnostic+="-XX:-G1UseConcRefinement "; fi ;;
        concurrent) ;;
        *) echo "ovation: SERVER_G1_REFINEMENT must be pause or concurrent (got '${SERVER_G1_REFINEMENT}')" >&2
           return 1 ;;
      esac ;;
    parallel) echo -n "-XX:+UseParallelGC " ;;
    zgc) echo -n "-XX:+UseZGC " ;;
    *) echo "ovation: SERVER_GC must be g1, parallel or zgc (got '${SERVER_GC}')" >&2; return 1 ;;
  esac
  if [ -n "$diagnostic" ]; then
    echo -n "-XX:+UnlockDiagnosticVMOptions $diagnostic"
  fi
  # Netty uses sun.misc.Unsafe for its buffers only when the JVM allows Unsafe memory access (JDK 24+ warns, Netty
  # 4.2 on JDK 25+ does without it unless allowed): the RTMP event loop's decoding and allocation then take the
  # Unsafe paths. Ingest bench, same machine, alternating runs (docs/benchmarks.md "Session 7"): ratio to nginx at
  # 10 streams 1.16 / 1.19 allowed against 1.37 / 1.26 not. SERVER_UNSAFE=0 leaves the flag out; it is also left out
  # when this JDK does not know it (a future JDK that removed Unsafe memory access). The tests get the same flag
  # (pom.xml, profile jdk-24-and-newer).
  if [ "${SERVER_UNSAFE:-1}" = 1 ] && "$JAVA_HOME/bin/java" --sun-misc-unsafe-memory-access=allow -version >/dev/null 2>&1; then
    echo -n "--sun-misc-unsafe-memory-access=allow "
  fi
  # Netty's leak detector samples one buffer allocation in 128 (its default level, simple) and fills a stack trace
  # for each: 2-3% of the RTMP event loop at 10 streams (perf, docs/benchmarks.md "Session 7"), the largest cost in it
  # that does no work. The tests run every buffer under paranoid detection, and the benchmarks already ran without it
  # (the fan-out gateway, the load clients); SERVER_NETTY_LEAK_DETECTION=simple (or advanced, paranoid) turns it on.
  case "${SERVER_NETTY_LEAK_DETECTION:-disabled}" in
    disabled|simple|advanced|paranoid) echo -n "-Dio.netty.leakDetection.level=${SERVER_NETTY_LEAK_DETECTION:-disabled} " ;;
    *) echo "ovation: SERVER_NETTY_LEAK_DETECTION must be disabled, simple, advanced or paranoid (got '${SERVER_NETTY_LEAK_DETECTION}')" >&2
       return 1 ;;
  esac
  local heap=${SERVER_HEAP:-1g}
  local direct=${SERVER_DIRECT_MEMORY:-$heap}
  echo "-Xms64m -Xmx$heap -XX:MaxDirectMemorySize=$direct ${SERVER_JAVA_OPTS:-}"
}

# The build needs node and npm (the web pages' packages are installed from the npm registry by
# ./mvnw); installs Debian's nodejs and npm when either is missing (root, or passwordless sudo).
ensure_node() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 && return 0
  echo "ovation: installing nodejs and npm (the build installs the web pages' packages with npm)" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
}
