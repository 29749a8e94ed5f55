#!/usr/bin/env bash
# JMH benchmarks of the packager (packager/src/test/java/.../PackagerBenchmark.java).
# Usage: packager/bench-packager.sh [extra JMH args, e.g. -f 1 -wi 1 -i 3]
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
exec "$JAVA_HOME/bin/java" -cp "$cp" org.openjdk.jmh.Main PackagerBenchmark "$@"
