# The ss benchmark app. Redis is switched on by $SS_REDIS_URL (bench/run.py
# sets it for the Redis variants); everything else stays at the preset
# values a user would get, so the figures are for ss as shipped.
config = {
    # The idle-connection figure opens 5,000 sockets from one address.
    "limiter": {"enabled": False},
}
