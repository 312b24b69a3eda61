# tests/netns/delay_relay.py: a UDP relay that adds a fixed delay, for the
# server-selection tests (this kernel has no netem qdisc).
#
#   python3 delay_relay.py LISTEN_ADDR LISTEN_PORT TARGET_ADDR TARGET_PORT DELAY_MS READY_FILE
#
# Each datagram from a client is sent on to the target DELAY_MS/2 later,
# from a socket of that client's own (so the server sees one flow per
# client), and each answer goes back to the client DELAY_MS/2 later, from
# the listening address: the round trip grows by DELAY_MS.  SIGUSR1 makes
# it drop everything from then on (a server gone silent), SIGUSR2 makes it
# relay again.  Standard library only.
import heapq, itertools, os, selectors, signal, socket, sys, time

laddr, lport, taddr, tport, delay_ms, ready = sys.argv[1:7]
half = float(delay_ms) / 2000.0
fam = socket.AF_INET6 if ":" in laddr else socket.AF_INET
listen = socket.socket(fam, socket.SOCK_DGRAM)
listen.bind((laddr, int(lport)))
listen.setblocking(False)
target = (taddr, int(tport))
sel = selectors.DefaultSelector()
sel.register(listen, selectors.EVENT_READ, None)
upstream = {}          # client address -> socket towards the target
queue = []             # (due, seq, socket, data, destination)
seq = itertools.count()
state = {"silent": False}

def silent(*_): state["silent"] = True
def loud(*_): state["silent"] = False
signal.signal(signal.SIGUSR1, silent)
signal.signal(signal.SIGUSR2, loud)

with open(ready, "w") as f:
    f.write("ready\n")

while True:
    now = time.monotonic()
    while queue and queue[0][0] <= now:
        _, _, s, data, dest = heapq.heappop(queue)
        try:
            s.sendto(data, dest)
        except OSError:
            pass
    timeout = max(0.0, queue[0][0] - now) if queue else None
    try:
        events = sel.select(timeout)
    except InterruptedError:
        continue
    for key, _ in events:
        s = key.fileobj
        try:
            data, src = s.recvfrom(65535)
        except OSError:
            continue
        if state["silent"]:
            continue
        due = time.monotonic() + half
        if key.data is None:           # from a client
            up = upstream.get(src)
            if up is None:
                up = socket.socket(fam, socket.SOCK_DGRAM)
                up.setblocking(False)
                upstream[src] = up
                sel.register(up, selectors.EVENT_READ, src)
            heapq.heappush(queue, (due, next(seq), up, data, target))
        else:                          # an answer for client key.data
            heapq.heappush(queue, (due, next(seq), listen, data, key.data))
