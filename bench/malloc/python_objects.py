# python_objects: a short real-program run for bench/malloc/run -- the
# Debian python3 interpreter building and tearing down dicts, lists,
# tuples and strings, as a data-munging script does.
#
# The driver runs it with PYTHONMALLOC=malloc, so that every object
# CPython creates is a malloc (by default CPython's own pymalloc serves
# objects up to 512 bytes from 256 KiB arenas and malloc would see only
# the large ones), and with PYTHONHASHSEED=0, so that every run does the
# same work.  It prints a digest of what it computed, which must not
# depend on the allocator.
#
# Usage: python3 python_objects.py N    (N records; the suite uses 100000)
import sys

n = int(sys.argv[1])
records = {}
for i in range(n):
    key = "key%d" % i
    records[key] = [i, str(i * 7919 % 1000003), (i, i % 97), {"x": i % 13}]

digest = 0
for rnd in range(3):
    # A derived table of strings, sorted: a burst of short-lived objects.
    names = {k: v[1] + "-" + str(rnd) for k, v in records.items()}
    ordered = sorted(names.values())
    digest = (digest * 31 + len(ordered[len(ordered) // 2])
              + sum(len(s) for s in ordered[:1000])) % (1 << 61)
    # Group by a field: many small lists that grow one append at a time.
    groups = {}
    for k, v in records.items():
        groups.setdefault(v[2][1], []).append(v[0])
    digest = (digest * 31 + sum(len(g) * (j + 1)
              for j, g in sorted(groups.items()))) % (1 << 61)
    del names, ordered, groups
    # Replace a third of the records: frees scattered through the heap.
    for i in range(rnd, n, 3):
        key = "key%d" % i
        old = records.pop(key)
        records[key + "'"] = [old[0] + 1, old[1] * 2, (old[0], old[0] % 89), {}]

text = ",".join(str(v[0]) for v in records.values())
digest = (digest * 31 + len(text) + len(records)) % (1 << 61)
print(digest)
