"""Config: presets, app file, env file, deep merge, attribute access, errors with file and line."""

import pytest

from ss.settings import Config, ConfigError, deep_merge, load_config


def write(root, rel, text):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_presets_per_env(tmp_path):
    dev = load_config(tmp_path, "development")
    prod = load_config(tmp_path, "production")
    assert dev.env == "development" and dev.http.port == 3000
    assert dev.errors.show_traceback is True and prod.errors.show_traceback is False
    assert dev.log.level > prod.log.level


def test_custom_env_starts_from_production(tmp_path):
    config = load_config(tmp_path, "qa")
    assert config.env == "qa" and config.errors.show_traceback is False


def test_app_then_env_file_deep_merged(tmp_path):
    write(tmp_path, "config/app.py", 'config = {"http": {"port": 4000}, "limiter": {"enabled": True}, "db": {"x": 1}}')
    write(tmp_path, "config/environments/staging.py", 'config = {"http": {"port": 5000}, "db": {"y": 2}}')
    config = load_config(tmp_path, "staging")
    assert config.http.port == 5000
    assert config.http.host == "0.0.0.0"            # preset key kept beside the override
    assert config.limiter.enabled is True and config.limiter.websockets.rps == 15
    assert config.db == {"x": 1, "y": 2}
    assert load_config(tmp_path, "development").http.port == 4000


def test_unknown_env_file_is_fine_and_env_var_picks_env(tmp_path, monkeypatch):
    write(tmp_path, "config/environments/whatever.py", "config = {'app': {'feature': True}}")
    monkeypatch.setenv("SS_ENV", "whatever")
    assert load_config(tmp_path).app.feature is True


def test_syntax_error_names_file_and_line(tmp_path):
    write(tmp_path, "config/app.py", 'config = {\n  "http": {"port": 3000\n  "x": 1}\n}\n')
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, "development")
    assert "config/app.py:" in str(info.value) and "syntax error" in str(info.value)


def test_runtime_error_names_file_and_line(tmp_path):
    write(tmp_path, "config/environments/development.py", "x = 1\nconfig = {'a': undefined_name}\n")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, "development")
    assert "development.py:2: NameError" in str(info.value)


def test_config_must_be_a_dict(tmp_path):
    write(tmp_path, "config/app.py", "config = [1]\n")
    with pytest.raises(ConfigError, match="`config` must be a dict, not list"):
        load_config(tmp_path, "development")


def test_redis_url_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SS_REDIS_URL", "redis://example:1234/2")
    config = load_config(tmp_path, "development")
    assert config.redis.enabled is True and config.redis.url == "redis://example:1234/2"


def test_attribute_access_and_missing_key_message():
    config = Config({"limiter": {"websockets": {"rps": 15}}})
    assert config.limiter.websockets.rps == 15
    config.limiter.enabled = True
    assert config["limiter"]["enabled"] is True
    with pytest.raises(AttributeError, match=r"config\.limiter\.rsp is not set; did you mean limiter\.websockets\.rps"):
        config.limiter.rsp
    assert config.get_path("limiter.websockets.rps") == 15 and config.get_path("a.b", 3) == 3


def test_deep_merge_does_not_mutate_inputs():
    base = {"a": {"b": 1, "c": [1]}}
    merged = deep_merge(base, {"a": {"b": 2}})
    assert merged == {"a": {"b": 2, "c": [1]}} and base == {"a": {"b": 1, "c": [1]}}


# --- Redis settings that used to be ignored -------------------------------------------------------

def test_redis_host_without_enabled_uses_that_redis(tmp_path):
    """The seed's way (host, port, db_index) must not leave the app on the embedded store without a word."""
    from ss.store import open_store

    write(tmp_path, "config/app.py", 'config = {"redis": {"host": "redis.internal", "port": 6380, "db_index": 3}}')
    config = load_config(tmp_path, "production")
    assert config.redis.enabled is True
    store = open_store(config)
    assert store.shared and store.description == "redis://redis.internal:6380/3"


def test_unknown_nested_key_stops_the_start_naming_key_file_and_the_closest_key(tmp_path):
    write(tmp_path, "config/app.py", 'config = {"limiter": {"enabled": True, "websockets": {"rsp": 5}}}')
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, "development")
    message = str(info.value)
    assert "config/app.py" in message
    assert "limiter.websockets.rsp: no such key; did you mean limiter.websockets.rps?" in message


def test_redis_enabled_false_in_the_config_wins_over_host(tmp_path):
    write(tmp_path, "config/app.py", 'config = {"redis": {"host": "redis.internal"}}')
    write(tmp_path, "config/environments/test.py", 'config = {"redis": {"enabled": False}}')
    assert load_config(tmp_path, "test").redis.enabled is False       # said explicitly: the embedded store
    assert load_config(tmp_path, "production").redis.enabled is True
    assert load_config(tmp_path, "test", {"redis": {"url": None}}).redis.enabled is False
    write(tmp_path, "config/app.py", 'config = {"redis": {"key_prefix": "a:"}}')   # not a connection key
    assert load_config(tmp_path, "production").redis.enabled is False


def test_redis_url_in_a_file_or_overrides_turns_redis_on(tmp_path):
    write(tmp_path, "config/app.py", 'config = {"redis": {"url": "redis://r:1/0"}}')
    assert load_config(tmp_path, "development").redis.enabled is True
    assert load_config(None, "development", {"redis": {"port": 6390}}).redis.enabled is True


# --- Unknown keys and wrong types ----------------------------------------------------------------

def refused(tmp_path, source, env="development", overrides=None):
    write(tmp_path, "config/app.py", source)
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, env, overrides)
    return str(info.value)


def test_config_error_is_a_startup_error():
    from ss.errors import StartupError

    assert issubclass(ConfigError, StartupError)


def test_unknown_top_level_key_names_key_file_and_line_and_the_app_namespace(tmp_path):
    message = refused(tmp_path, 'config = {\n    "http": {"port": 4000},\n    "feature_x": True,\n}\n')
    assert f"{tmp_path}/config/app.py:3: feature_x: no such key" in message
    assert 'go under "app"' in message and "docs/config.md" in message


def test_typo_suggests_the_closest_key(tmp_path):
    message = refused(tmp_path, 'config = {"limiter": {"enabled": True, "http": {"rsp": 5}}, "presense": {}}')
    assert "limiter.http.rsp: no such key; did you mean limiter.http.rps?" in message
    assert "presense: no such key; did you mean presence?" in message      # every problem at once


def test_a_key_in_the_wrong_section_suggests_where_it_is(tmp_path):
    message = refused(tmp_path, 'config = {"limits": {"rps": 5}, "redis": {"db": 1}, "pubsub": {"ttl": 9}}')
    assert "limits.rps: no such key; did you mean limiter.websockets.rps or limiter.http.rps? (limits has " in message
    assert "redis.db: no such key; did you mean redis.db_index?" in message
    assert "pubsub.ttl: no such key; did you mean pubsub.history.ttl?" in message


def test_unknown_key_in_the_env_file_names_that_file(tmp_path):
    write(tmp_path, "config/environments/staging.py", 'config = {"https": {"domian": "example.com"}}')
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, "staging")
    assert "config/environments/staging.py:1: https.domian: no such key; did you mean https.domain?" in str(info.value)


@pytest.mark.parametrize("source, expected", [
    ('{"http": {"port": "3000"}}', "http.port: expected int, given str '3000': write 3000 without quotes"),
    ('{"http": {"port": 3000.0}}', "http.port: expected int, given float 3000.0"),
    ('{"http": {"port": True}}', "http.port: expected int, given bool True"),
    ('{"limiter": {"enabled": "true"}}', "limiter.enabled: expected bool, given str 'true': write True or False"),
    ('{"limiter": {"http": {"rps": "fast"}}}', "limiter.http.rps: expected number, given str 'fast'"),
    ('{"log": {"level": None}}', "log.level: expected int, given None"),
    ('{"https": {"domain": 3}}', "https.domain: expected str or None, given int 3"),
    ('{"security": {"allowed_origins": {"a": 1}}}', "security.allowed_origins: expected list of str, given dict"),
    ('{"security": {"allowed_origins": "https://a.example"}}', "expected list of str, given str"),
    ('{"security": {"allowed_origins": ["https://a.example", 3]}}', "allowed_origins: item 1: expected str, given int 3"),
    ('{"errors": True}', "errors: expected a dict of settings (show_traceback), given bool True"),
    ('{"app": ["x"]}', "app: expected dict (any keys), given list"),
    ('{"redis": {"url": "localhost:6379"}}', "redis.url: 'localhost:6379' is not a Redis URL: write redis://"),
])
def test_wrong_types_name_key_file_expected_and_given(tmp_path, source, expected):
    message = refused(tmp_path, f"config = {source}\n")
    assert f"{tmp_path}/config/app.py:1: " in message and expected in message


def test_numbers_take_ints_and_none_keys_take_none_or_their_type(tmp_path):
    write(tmp_path, "config/app.py", 'config = {"limits": {"shutdown_timeout": 3}, "client": {"reconnect": {"max_delay": 2.5}},'
                                     ' "https": {"domain": "example.com"}, "api": {"auth": {"basic": {"module_name": None}}},'
                                     ' "security": {"allowed_origins": ("https://a.example",)}}')
    config = load_config(tmp_path, "production")
    assert config.limits.shutdown_timeout == 3.0 and type(config.limits.shutdown_timeout) is float
    assert config.client.reconnect.max_delay == 2.5 and config.https.domain == "example.com"
    assert config.api.auth.basic.module_name is None
    assert config.security.allowed_origins == ["https://a.example"]


def test_overrides_and_the_redis_url_variable_are_checked_too(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match=r"overrides: http\.prot: no such key; did you mean http\.port\?"):
        load_config(tmp_path, "test", {"http": {"prot": 1}})
    with pytest.raises(ConfigError, match=r"overrides: limits.max_depth: expected int, given str"):
        load_config(tmp_path, "test", {"limits": {"max_depth": "9"}})
    monkeypatch.setenv("SS_REDIS_URL", "127.0.0.1:6379")
    with pytest.raises(ConfigError, match=r"\$SS_REDIS_URL: redis\.url: '127\.0\.0\.1:6379' is not a Redis URL"):
        load_config(tmp_path, "test")


def test_env_is_not_a_config_key(tmp_path):
    assert "env: no such key; the environment is chosen with $SS_ENV" in refused(tmp_path, 'config = {"env": "x"}')


# --- The app's own settings ----------------------------------------------------------------------

def test_the_app_namespace_and_db_take_any_keys(tmp_path):
    write(tmp_path, "config/app.py", 'config = {"app": {"feature": {"beta": True}, "plans": [1, 2]}, '
                                     '"db": {"mongo": {"url": "mongodb://x", "database": "a"}}}')
    write(tmp_path, "config/environments/test.py",
          'config = {"app": {"feature": {"gamma": 1}}, "db": {"mongo": {"database": "t"}}}')
    config = load_config(tmp_path, "test")
    assert config.app.feature == {"beta": True, "gamma": 1} and config.app.plans == [1, 2]
    assert config.db.mongo.url == "mongodb://x" and config.db.mongo.database == "t"
    assert load_config(tmp_path, "production").app == {"feature": {"beta": True}, "plans": [1, 2]}
    assert load_config(None, "production").app == {}


# --- Every preset, and values come out typed -----------------------------------------------------

@pytest.mark.parametrize("env", ["development", "test", "staging", "production", "qa"])
def test_every_preset_validates_and_every_key_has_a_value_of_its_type(env):
    from ss.settings import SCHEMA, Key

    config = load_config(None, env)
    for key in SCHEMA.walk():
        if not isinstance(key, Key):
            assert isinstance(config.get_path(key.path), dict), key.path
            continue
        value = config.get_path(key.path, KeyError)
        assert value is not KeyError, f"{key.path} missing"
        assert key.convert(value) == value, key.path
        assert value is None or (isinstance(value, key.type) if key.type is dict else type(value) is key.type), key.path
    assert type(config.limits.max_frame_bytes) is int and type(config.limiter.websockets.rps) is float
    assert type(config.presence.timeout) is float and type(config.errors.show_traceback) is bool


def test_presets_only_use_known_keys():
    from ss.presets import PRESETS
    from ss.settings import _Source, check_layer

    for env, preset in PRESETS.items():
        problems = []
        check_layer(preset, _Source(env), problems)
        assert problems == [], env


def test_the_schema_comes_from_the_presets():
    from ss.presets import BASE, TYPES
    from ss.settings import SCHEMA, Key, build_schema

    assert SCHEMA.find("http.port") == Key("http.port", int, 3000)
    assert SCHEMA.find("https.domain").type_name == "str or None"
    assert SCHEMA.find("limiter.http.rps").type_name == "number"
    assert set(SCHEMA.keys) == set(BASE)
    with pytest.raises(TypeError, match="x.y defaults to None, so its type must be given in TYPES"):
        build_schema({"x": {"y": None}}, {})
    with pytest.raises(TypeError, match="TYPES names x.z, which is not a key of BASE"):
        build_schema({"x": {"y": 1}}, {"x.z": int})
    assert all(SCHEMA.find(dotted) is not None for dotted in TYPES)
