# App-wide settings, merged over the preset of the environment (SS_ENV).
# Every key is listed in docs/config.md; for example:
config = {
    "http": {"port": 3000},
    # "redis": {"enabled": True, "host": "127.0.0.1", "port": 6379, "db_index": 0},
    # "limiter": {"enabled": True, "websockets": {"rps": 15}},
}
