#!/usr/bin/env bash
# Regenerates the traces in this folder from real programs run under valgrind's
# lackey tool, piped through `hmmv trace convert` (run `npm run build` first).
# Slow (lackey runs programs ~100x slower): a few minutes in all.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
hmmv="node $here/../dist/plugin/cli.js"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Deterministic input: 5000 random lowercase words (LCG, fixed seed).
node -e '
let s = 12345; const r = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296;
const out = [];
for (let i = 0; i < 5000; i++) { let w = ""; const n = 5 + Math.floor(r() * 26); for (let j = 0; j < n; j++) w += String.fromCharCode(97 + Math.floor(r() * 26)); out.push(w); }
process.stdout.write(out.join("\n") + "\n");' > "$work/words.txt"

trace() { # name cache_kib epoch_accesses command...
  local name=$1 cache=$2 epoch=$3
  shift 3
  valgrind --tool=lackey --trace-mem=yes --log-fd=9 "$@" 9>&1 >/dev/null 2>/dev/null \
    | $hmmv trace convert -o "$here/$name.trace.gz" --name "$name" --cache-kib "$cache" --epoch-accesses "$epoch"
}

trace sort 32 2000 sort "$work/words.txt"
trace gzip 32 2000 gzip -9 -c "$work/words.txt"
gcc -O2 -o "$work/kvstore" "$here/kvstore.c" -lm
trace kvstore 1024 2000 "$work/kvstore"
