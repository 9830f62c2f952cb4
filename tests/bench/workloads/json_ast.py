"""JSON and ast round trips: parse, walk and unparse/compile Python source; dump and load a
nested JSON document. BENCH_SCALE scales the number of rounds."""
import ast
import json
import os

SOURCE = '''
import os
class Config:
    """A configuration holder."""
    def __init__(self, name, values=None, *, strict=False):
        self.name = name
        self.values = dict(values or {})
        self.strict = strict
    def get(self, key, default=None):
        try:
            return self.values[key]
        except KeyError:
            if self.strict:
                raise
            return default
    def merged(self, other):
        out = {k: v for k, v in self.values.items() if v is not None}
        out.update((k, v * 2) for k, v in other.values.items() if isinstance(v, int))
        return Config(self.name + "+" + other.name, out, strict=self.strict or other.strict)
def load(path):
    with open(path) as f:
        lines = [line.strip() for line in f if line and not line.startswith("#")]
    return Config(os.path.basename(path), (l.split("=", 1) for l in lines if "=" in l))
'''

DOC = {
    "users": [{"id": i, "name": "user%d" % i, "email": "u%d@example.org" % i,
               "roles": ["read", "write"][: 1 + i % 2], "score": i * 1.5,
               "address": {"city": "c%d" % (i % 7), "zip": "%05d" % i}} for i in range(40)],
    "meta": {"count": 40, "next": None, "flags": [True, False, None]},
}


def rounds(n):
    size = 0
    for _ in range(n):
        tree = ast.parse(SOURCE)
        size += sum(1 for _ in ast.walk(tree))
        size += len(ast.unparse(tree))
        compile(tree, "<bench>", "exec")
        text = json.dumps(DOC)
        size += len(json.loads(text)["users"])
        size += len(json.dumps(json.loads(text), indent=1, sort_keys=True))
    return size


rounds(int(300 * float(os.environ.get("BENCH_SCALE", "1"))))
