#!/usr/bin/env bash
# program_python: Debian's /usr/bin/python3 runs a workload of its own
# standard library -- json, re, collections, sqlite3, unittest, decimal,
# zlib/lzma/bz2, hashlib, pickle, xml, difflib, big containers growing and
# shrinking, a thread pool whose workers release the GIL inside zlib and
# hashlib (so frees cross threads), and a multiprocessing pool of forked
# workers started while threads run -- and prints deterministic results.
# It runs once with PYTHONMALLOC=malloc, so that every Python object comes
# from malloc rather than from pymalloc's arenas, and once with Python's
# default allocator.  The output under libkmem_malloc.so must match the
# output under glibc's malloc.
. "$(dirname "$0")/lib.sh"
kmem_init "$@"
kmem_need /usr/bin/python3 python3
kmem_install

cat >"$KMEM_INPUT/workload.py" <<'EOF'
import bisect, bz2, collections, concurrent.futures, csv, decimal, difflib
import fractions, gc, hashlib, heapq, io, itertools, json, lzma, math
import multiprocessing, os, pickle, random, re, sqlite3, statistics, struct
import sys, textwrap, threading, unittest, zlib
import xml.etree.ElementTree as ET

def digest(obj):
    if not isinstance(obj, bytes):
        obj = repr(obj).encode()
    return hashlib.sha256(obj).hexdigest()[:16]

def out(name, value):
    print(f"{name}: {value}", flush=True)

rng = random.Random(20240601)
words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 12)))
         for _ in range(60000)]
text = " ".join(words)

# json: a nested document, dumped and loaded again.
doc = {"items": [{"id": i, "name": words[i], "tags": words[i:i + (i % 7)],
                  "score": i * 1.25, "nested": {"a": [i] * (i % 5), "b": None}}
                 for i in range(20000)]}
s = json.dumps(doc, sort_keys=True)
back = json.loads(s)
assert back == doc
out("json", (len(s), digest(s.encode()), digest(json.dumps(back, indent=2).encode())))

# re: many patterns over the text, substitutions, splits.
pats = [re.compile(p) for p in (r"\b[aeiou]\w+", r"(\w)\1", r"\b\w{10,}\b", r"[xyz]+", r"(ab|cd)+e?")]
counts = [len(p.findall(text)) for p in pats]
subbed = re.sub(r"(\w+) (\w+)", r"\2 \1", text[:200000])
out("re", (counts, digest(subbed.encode()), len(re.split(r"[aeiou]", text))))
for i in range(300):
    re.compile(r"x{%d}y[%s]+" % (i, "abc"[: i % 3 + 1]))
re.purge()

# collections
c = collections.Counter(words)
dd = collections.defaultdict(list)
for i, w in enumerate(words):
    dd[w[0]].append(i)
dq = collections.deque(maxlen=1000)
for w in words:
    dq.append(w)
od = collections.OrderedDict((w, len(w)) for w in words)
for w in words[::3]:
    od.move_to_end(w)
out("collections", (c.most_common(5), sorted((k, len(v)) for k, v in dd.items())[:5],
                    list(dq)[:3], list(od)[:3], len(od)))

# sqlite3, in memory
db = sqlite3.connect(":memory:")
db.execute("CREATE TABLE w(id INTEGER PRIMARY KEY, word TEXT, len INT, grp INT)")
db.executemany("INSERT INTO w(word, len, grp) VALUES (?, ?, ?)",
               ((w, len(w), i % 37) for i, w in enumerate(words)))
db.execute("CREATE INDEX w_word ON w(word)")
rows = db.execute("SELECT grp, count(*), sum(len), min(word), max(word) FROM w GROUP BY grp ORDER BY grp").fetchall()
top = db.execute("SELECT word, count(*) AS n FROM w GROUP BY word ORDER BY n DESC, word LIMIT 5").fetchall()
joined = db.execute("SELECT count(*) FROM w a JOIN w b ON a.word = b.word WHERE a.id < b.id").fetchone()
out("sqlite3", (digest(rows), top, joined))
db.close()

# unittest: a small suite run by the text runner into a buffer.
class Arith(unittest.TestCase):
    def test_add(self):
        self.assertEqual(sum(range(1000)), 499500)
    def test_sort(self):
        xs = words[:5000]
        self.assertEqual(sorted(xs), sorted(xs, key=lambda w: w))
    def test_fail(self):
        self.assertEqual(1, 2)
    @unittest.skip("skipped on purpose")
    def test_skip(self):
        pass
suite = unittest.defaultTestLoader.loadTestsFromTestCase(Arith)
result = unittest.TextTestRunner(stream=io.StringIO(), verbosity=2).run(suite)
out("unittest", (result.testsRun, len(result.failures), len(result.errors), len(result.skipped)))

# numbers
decimal.getcontext().prec = 400
pi = decimal.Decimal(0)
for k in range(300):
    pi += (decimal.Decimal(1) / (16 ** k)) * (decimal.Decimal(4) / (8 * k + 1) - decimal.Decimal(2) / (8 * k + 4)
                                              - decimal.Decimal(1) / (8 * k + 5) - decimal.Decimal(1) / (8 * k + 6))
h = sum(fractions.Fraction(1, n) for n in range(1, 400))
sys.set_int_max_str_digits(0)
big = math.factorial(3000)
out("numbers", (str(pi)[:60], digest(str(pi).encode()), h.denominator % 1000003, len(str(big)),
                statistics.mean(len(w) for w in words), statistics.median(len(w) for w in words)))

# compression and hashing
blob = text.encode()
assert zlib.decompress(zlib.compress(blob)) == blob
assert bz2.decompress(bz2.compress(blob, 1)) == blob
assert lzma.decompress(lzma.compress(blob, preset=0)) == blob
out("compression", (digest(zlib.compress(blob, 6)), digest(bz2.compress(blob, 1)), hashlib.md5(blob).hexdigest(),
                    hashlib.sha512(blob).hexdigest()[:16], hashlib.blake2b(blob).hexdigest()[:16]))

# pickle, struct, csv, xml, textwrap, difflib
obj = {"words": words[:5000], "nums": list(range(10000)), "nested": [[i, str(i), {i: i * i}] for i in range(3000)]}
assert pickle.loads(pickle.dumps(obj, protocol=5)) == obj
packed = b"".join(struct.pack("<iqd", i, i * i, i / 3) for i in range(20000))
buf = io.StringIO()
w = csv.writer(buf)
for i in range(5000):
    w.writerow([i, words[i], f"{i / 7:.5f}", 'quote"d'])
rows = list(csv.reader(io.StringIO(buf.getvalue())))
root = ET.Element("root")
for i in range(5000):
    e = ET.SubElement(root, "item", id=str(i))
    e.text = words[i]
xml = ET.tostring(root)
parsed = ET.fromstring(xml)
wrapped = textwrap.fill(text[:100000], width=72)
a = words[:3000]
b = [x for i, x in enumerate(words[:3000]) if i % 11] + words[3000:3100]
diff = list(difflib.unified_diff(a, b, lineterm=""))
ratio = difflib.SequenceMatcher(None, text[:3000], text[1000:4000], autojunk=False).ratio()
out("formats", (digest(packed), len(rows), digest(buf.getvalue().encode()), digest(xml), len(parsed),
                digest(wrapped.encode()), len(diff), round(ratio, 6)))

# heapq, bisect, itertools, and containers that grow and shrink
heap = []
for i in range(200000):
    heapq.heappush(heap, (i * 7919) % 200003)
smallest = [heapq.heappop(heap) for _ in range(10)]
sorted_list = []
for i in range(20000):
    bisect.insort(sorted_list, (i * 104729) % 20011)
perms = sum(1 for _ in itertools.permutations(range(8)))
big_list = []
for i in range(1000000):
    big_list.append(i)
del big_list[::2]
big_dict = {i: str(i) for i in range(300000)}
for i in range(0, 300000, 3):
    del big_dict[i]
s = ""
for i in range(50000):
    s += words[i]
ba = bytearray()
for i in range(50000):
    ba.extend(words[i].encode())
out("containers", (smallest, sorted_list[:5], perms, len(big_list), sum(big_list) % 1000003, len(big_dict),
                   len(s), digest(bytes(ba))))
del big_list, big_dict

# garbage cycles
class Node:
    def __init__(self, i):
        self.i = i
        self.peer = None
        self.data = [i] * 10
nodes = []
for i in range(100000):
    n = Node(i)
    m = Node(-i)
    n.peer, m.peer = m, n
    nodes.append(n)
del nodes
out("gc", gc.collect() >= 0)

# threads: zlib and hashlib release the GIL on large buffers, so the
# workers allocate and free in parallel; results are freed by another
# thread than the one that made them.
def job(i):
    r = random.Random(i)
    data = bytes(r.getrandbits(8) for _ in range(20000)) * 20
    c = zlib.compress(data, 6)
    parts = [hashlib.sha256(data[j:j + 65536]).hexdigest() for j in range(0, len(data), 65536)]
    d = json.dumps({"i": i, "parts": parts, "w": words[i * 10:(i + 1) * 10]})
    return i, len(c), hashlib.sha256(zlib.decompress(c)).hexdigest()[:16], digest(d.encode())

with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
    results = list(pool.map(job, range(48)))
out("threads", digest(results))

lock = threading.Lock()
shared = []
def churn(seed):
    r = random.Random(seed)
    local = []
    for _ in range(20000):
        local.append(bytes(r.randrange(1, 2000)))
        if len(local) > 100:
            local.pop(r.randrange(len(local)))
    with lock:
        shared.append((seed, sum(map(len, local))))
ts = [threading.Thread(target=churn, args=(k,)) for k in range(4)]
for t in ts:
    t.start()
for t in ts:
    t.join()
out("churn", sorted(shared))

# fork: a pool of forked workers, started while a thread is busy
# allocating in the parent.
def square_words(k):
    return k, sum(len(w) ** 2 for w in words[k * 1000:(k + 1) * 1000]), digest(words[k * 1000:(k + 1) * 1000])

stop = threading.Event()
def busy():
    while not stop.is_set():
        junk = [bytes(100) for _ in range(1000)]
        del junk
spinner = threading.Thread(target=busy)
spinner.start()
ctx = multiprocessing.get_context("fork")
with ctx.Pool(2) as mp:
    forked = mp.map(square_words, range(40))
stop.set()
spinner.join()
out("fork", digest(forked))

pid = os.fork()
if pid == 0:
    x = [str(i) * 10 for i in range(100000)]
    os._exit(len(x) % 251)
_, status = os.waitpid(pid, 0)
out("fork child status", os.waitstatus_to_exitcode(status))
out("done", True)
EOF

run_both "python3 (PYTHONMALLOC=malloc)" \
	env PYTHONHASHSEED=0 PYTHONMALLOC=malloc PYTHONDONTWRITEBYTECODE=1 \
	/usr/bin/python3 -I "$KMEM_INPUT/workload.py"
run_both "python3 (pymalloc)" \
	env PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1 \
	/usr/bin/python3 -I "$KMEM_INPUT/workload.py"
kmem_done
