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
    with pytest.raises(AttributeError, match=r"config\.limiter\.rsp is not set"):
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
