#!/bin/sh
# The JSON of a snapshot, and of one whose names need escaping, parses
# with python3's json module (each written as one object and a newline),
# and holds what the program allocated.
set -eu
program=$1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$program" --json "$out" >/dev/null
python3 - "$out" <<'PY'
import json, sys
text = open(sys.argv[1], encoding="ascii").read()
decoder = json.JSONDecoder()
snap, end = decoder.raw_decode(text)
awkward, end = decoder.raw_decode(text, end + 1)
assert text[end:] == "\n", "trailing text"
caches = {c["name"]: c for c in snap["caches"]}
assert caches["stats_cache"]["buf_inuse"] == 10, caches["stats_cache"]
assert caches["stats_cache"]["buf_size"] == 200
arenas = {a["name"]: a for a in snap["arenas"]}
assert arenas["stats_arena"]["mem_inuse"] == 3 * 8192
pools = {p["name"]: p for p in snap["pools"]}
assert pools["stats_pool"]["nout"] == 7 and pools["stats_pcache"]["is_cache"] == 1
types = {t["name"]: t for t in snap["malloc_types"]}
assert types["stats_type"]["inuse"] == 4
assert len(types["stats_type"]["buckets"]) == 20
assert types["stats_type"]["buckets"][-1]["size"] is None
assert awkward["program"] == 'prog"ram'
assert awkward["arenas"][0]["name"] == 'q"b\\n\nt\t\x80\x01', awkward["arenas"][0]["name"]
print("stats_json_test: ok")
PY
