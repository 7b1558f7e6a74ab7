"""A TCP proxy that adds network latency to a loopback server, for benchmarks where `tc netem`
is not available (a container without the module).

    python3 bench/python/delay_proxy.py LISTEN_PORT TARGET_PORT DELAY_SECONDS

listens on 127.0.0.1:LISTEN_PORT, forwards to 127.0.0.1:TARGET_PORT, and delivers each chunk
DELAY_SECONDS after it arrived, in each direction: a round trip of 2 * DELAY_SECONDS more,
while requests pipelined by a client still overlap (each chunk has its own deadline). The
README's figures with 1 ms added: `delay_proxy.py 55433 55432 0.0005`, then `rdb_bench
--postgres postgresql://USER:PASS@127.0.0.1:55433/postgres --workers 1,4 --trials 200`.
Standard library only."""
import asyncio, sys
LISTEN, TARGET, DELAY = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
async def pipe(r, w):
    loop = asyncio.get_running_loop()
    q = asyncio.Queue()
    async def writer():
        while True:
            at, data = await q.get()
            if data is None:
                break
            wait = at - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            w.write(data)
            await w.drain()
        w.close()
    t = asyncio.create_task(writer())
    try:
        while True:
            data = await r.read(65536)
            if not data:
                break
            q.put_nowait((loop.time() + DELAY, data))
    except Exception:
        pass
    q.put_nowait((0, None))
    await t
async def handle(cr, cw):
    sr, sw = await asyncio.open_connection("127.0.0.1", TARGET)
    await asyncio.gather(pipe(cr, sw), pipe(sr, cw))
async def main():
    srv = await asyncio.start_server(handle, "127.0.0.1", LISTEN)
    async with srv:
        await srv.serve_forever()
asyncio.run(main())
