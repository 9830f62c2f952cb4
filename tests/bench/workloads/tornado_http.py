"""A Tornado HTTP server and client in one process doing many small requests (Debian's
python3-tornado). BENCH_SCALE scales the number of requests."""
import asyncio
import os

from tornado import httpclient, httpserver, netutil, web


class Item(web.RequestHandler):
    def get(self, key):
        self.set_header("X-Item", key)
        self.write({"key": key, "n": int(self.get_argument("n", "0")), "tags": ["a", "b", key]})


async def main(requests):
    sockets = netutil.bind_sockets(0, "127.0.0.1")
    port = sockets[0].getsockname()[1]
    server = httpserver.HTTPServer(web.Application([(r"/item/(\w+)", Item)]))
    server.add_sockets(sockets)
    client = httpclient.AsyncHTTPClient()
    total = 0
    for start in range(0, requests, 8):
        replies = await asyncio.gather(*[
            client.fetch("http://127.0.0.1:%d/item/k%d?n=%d" % (port, i % 50, i))
            for i in range(start, start + 8)])
        total += sum(len(r.body) for r in replies)
    server.stop()
    client.close()
    return total


asyncio.run(main(int(2000 * float(os.environ.get("BENCH_SCALE", "1")))))
