#!/usr/bin/env bash
# Larger traces of real programs, NOT kept in the repository (hundreds of KiB
# each, and slow to make: lackey runs programs ~100x slower; 15-50 minutes in
# all on a 2-core machine): python3 dict look-ups, sqlite3 inserts, index
# look-ups and updates, xz and bzip2 compression. Written to the folder given
# (default out/traces). Run `npm run build` first. docs/report/README.md
# ("Larger traces of real programs") has what they measured.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../out/traces}
mkdir -p "$out"
hmmv="node $here/../dist/plugin/cli.js"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

trace() { # name cache_kib epoch_accesses command...
  local name=$1 cache=$2 epoch=$3
  shift 3
  valgrind --tool=lackey --trace-mem=yes --log-fd=9 "$@" 9>&1 >/dev/null 2>/dev/null \
    | $hmmv trace convert -o "$out/$name.trace.gz" --name "$name" --cache-kib "$cache" --epoch-accesses "$epoch"
}

# A dict of 60 000 entries, then 120 000 look-ups and updates, 80% Pareto-skewed (fixed seed).
cat > "$work/dict.py" <<'EOF'
import random
random.seed(7)
d = {}
for i in range(60000):
    d["k%07d" % i] = [i, str(i) * 3]
keys = list(d)
s = 0
for _ in range(120000):
    k = keys[min(int(random.paretovariate(1.2)) - 1, len(keys) - 1)] if random.random() < 0.8 else random.choice(keys)
    v = d[k]; v[0] += 1; s += v[0]
print(s)
EOF

# 30 000 rows with an index, a range query, 20 000 indexed look-ups, an update of every 7th row.
cat > "$work/db.sql" <<'EOF'
create table t(id integer primary key, k text, v blob);
create index tk on t(k);
with recursive c(x) as (select 1 union all select x+1 from c where x < 30000)
insert into t select x, printf('key%08d', (x*7919) % 30000), randomblob(200) from c;
select count(*), sum(length(v)) from t where k between 'key00001000' and 'key00009000';
with recursive c(x) as (select 1 union all select x+1 from c where x < 20000)
select sum(length(v)) from c join t on t.k = printf('key%08d', (x*x) % 30000);
update t set v = randomblob(210) where id % 7 = 0;
EOF

# 400 KB of base64 text from a fixed byte stream (deterministic input for the compressors).
node -e '
let s = 12345; const b = Buffer.alloc(300000);
for (let i = 0; i < b.length; i++) { s = (Math.imul(s, 1103515245) + 12345) >>> 0; b[i] = s >>> 24; }
process.stdout.write(b.toString("base64").replace(/.{76}/g, "$&\n"));' > "$work/data.txt"

# A 1 MiB cache filter (an LLC-sized share, as kvstore's in make-traces.sh): these footprints exceed it.
# pyenv and similar put a shell script in front of python: trace the interpreter itself
py=$("${PYTHON:-python3}" -c 'import sys; print(sys.executable)')
trace bzip2 1024 2000 bzip2 -9 -c "$work/data.txt"
trace xz 1024 2000 xz -6 -c "$work/data.txt"
trace sqlite 1024 2000 sqlite3 :memory: -init "$work/db.sql" .quit
trace python-dict 1024 2000 "$py" "$work/dict.py"
