# Settings for SS_ENV=production, merged over config/app.py.
config = {
    "log": {"level": 1},
}
