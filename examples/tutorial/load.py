"""Sends orders to service.py on 127.0.0.1 for a number of seconds (docs/tutorials.md)."""
import http.client
import json
import sys
import time


def main():
    port, seconds = int(sys.argv[1]), float(sys.argv[2])
    for _ in range(100):  # wait for the service to listen
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port)
            conn.connect()
            break
        except OSError:
            time.sleep(0.05)
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        order = {"id": n, "client": "c%d" % (n % 50),
                 "items": [{"sku": "sku-%d" % i, "price": 3, "qty": i} for i in range(20)]}
        body = json.dumps(order)
        conn.request("POST", "/orders", body, {"Content-Type": "application/json"})
        conn.getresponse().read()
        n += 1
    print("sent %d orders" % n)


if __name__ == "__main__":
    main()
