#!/usr/bin/env python3
"""Writes users into etcd for the fleet tests, through etcd's v3 JSON
gateway (standard library only).  etcdctl is the tool for single changes;
this is for what etcdctl does slowly or cannot take on a command line:

  bulk --url U --prefix P --count N --batch B [--base NAME] [--net A]
        N users NAME0..NAME(N-1), B per transaction, random public keys
        (no private key exists for them), one /32 each in 10.A.0.0/16 up;
        prints the revision of the last transaction
  raw --url U --key K --size N
        a value of N bytes of JSON-looking garbage at key K
"""

import argparse
import base64
import json
import os
import sys
import urllib.request


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def post(url, path, body):
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def bulk(a):
    rev = 0
    for start in range(0, a.count, a.batch):
        ops = []
        for i in range(start, min(start + a.batch, a.count)):
            value = {
                "public_key": b64(os.urandom(32)),
                "allowed_ips": ["10.%d.%d.%d/32" % (a.net + i // 65536,
                                                    i // 256 % 256, i % 256)],
            }
            ops.append({"request_put": {
                "key": b64(a.prefix + a.base + str(i)),
                "value": b64(json.dumps(value))}})
        answer = post(a.url, "/v3/kv/txn", {"success": ops})
        if not answer.get("succeeded"):
            sys.exit("fleet_put: a transaction failed: %s" % answer)
        rev = int(answer["header"]["revision"])
    print(rev)


def raw(a):
    value = '{"public_key": "' + "A" * max(0, a.size - 20) + '"}'
    post(a.url, "/v3/kv/put", {"key": b64(a.key), "value": b64(value[:a.size])})


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(required=True)
    s = sub.add_parser("bulk")
    s.add_argument("--url", required=True)
    s.add_argument("--prefix", required=True)
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--batch", type=int, default=500)
    s.add_argument("--base", default="u")
    s.add_argument("--net", type=int, default=100)
    s.set_defaults(fn=bulk)
    s = sub.add_parser("raw")
    s.add_argument("--url", required=True)
    s.add_argument("--key", required=True)
    s.add_argument("--size", type=int, required=True)
    s.set_defaults(fn=raw)
    a = p.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
