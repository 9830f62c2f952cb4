"""A small JSON web service with a slow leak, for docs/tutorials.md.

Each request parses a JSON body and builds a response; and (the bug) every request's body is
kept in a per-client audit log that nothing ever trims.
Run: python3.11 service.py PORT SECONDS (it stops by itself after SECONDS)."""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

audit_log = {}  # client id -> the body of every request it made: the leak


def summarize(order):
    lines = [{"sku": item["sku"], "total": item["price"] * item["qty"]} for item in order["items"]]
    return {"order": order["id"], "lines": lines, "total": sum(l["total"] for l in lines)}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        order = json.loads(body)
        audit_log.setdefault(order["client"], []).append(body)
        reply = json.dumps(summarize(order)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


def main():
    port, seconds = int(sys.argv[1]), float(sys.argv[2])
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Timer(seconds, server.shutdown).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
