#!/usr/bin/env bash
# Copies the pinned validator jars (pom.xml) from Maven Central into $1 (default
# third_party/fhir-validator). Idempotent. Test tooling only.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/../../third_party/fhir-validator}"
out="$(realpath -m "$out")"  # Maven resolves a relative output folder against the pom's folder
stamp="$out/.complete"
want="$(sha256sum "$here/pom.xml" | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
mkdir -p "$out"
mvn -q -f "$here/pom.xml" dependency:copy-dependencies -DoutputDirectory="$out" -DincludeScope=runtime
echo "$want" > "$stamp"
