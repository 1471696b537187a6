# The ss benchmark app. Redis is switched on by $SS_REDIS_URL (bench/run.py
# sets it for the Redis variants); everything else stays at the preset
# values a user would get, so the figures are for ss as shipped.
config = {
    # The idle-connection figure opens 5,000 sockets from one address.
    "limiter": {"enabled": False},
}

# bench/run.py's "ss-unbatched" column: the same app with write batching off.
import os  # noqa: E402

if os.environ.get("SS_BENCH_WRITE_DELAY_MS"):
    config["limits"] = {"max_write_delay_ms": float(os.environ["SS_BENCH_WRITE_DELAY_MS"])}

# bench/run.py's "ss-uvloop" column: the same app on uvloop instead of asyncio's own loop.
if os.environ.get("SS_BENCH_EVENT_LOOP"):
    config["server"] = {"event_loop": os.environ["SS_BENCH_EVENT_LOOP"]}
