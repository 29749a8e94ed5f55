#!/usr/bin/env bash
# Origin load benchmark (packager/src/test/java/.../OriginLoadBench.java): V LL-HLS viewers on one live stream.
# Usage: packager/bench-origin.sh [viewers=200] [seconds=20]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
if [[ -z "${JAVA_HOME:-}" ]]; then
  JAVA_HOME="$(ls -d /usr/lib/jvm/temurin-25* /usr/lib/jvm/*-25-* /usr/lib/jvm/*21* 2>/dev/null | head -1)"
  export JAVA_HOME
fi
cd "$root"
./mvnw -B -q -pl packager -am test-compile
./mvnw -B -q -pl packager dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/bench.classpath
cp="$here/target/test-classes:$here/target/classes:$(cat "$here/target/bench.classpath")"
exec "$JAVA_HOME/bin/java" -Dio.netty.leakDetection.level=disabled \
  -cp "$cp" dev.ovation.packager.OriginLoadBench "$@"
