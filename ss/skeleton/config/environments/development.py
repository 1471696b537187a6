# Settings for SS_ENV=development (the default), merged over config/app.py.
config = {
    "log": {"level": 3},
}
