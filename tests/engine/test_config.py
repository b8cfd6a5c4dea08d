"""engine/config.py: settings from ENGINE_* variables, and clear errors for wrong ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import ConfigError, EngineConfig


def test_defaults_are_safe() -> None:
    config = EngineConfig.from_env({})
    assert config.host == "127.0.0.1" and config.api_key is None
    assert (config.device, config.quantization, config.backend) == ("auto", "auto", "auto")
    assert config.max_batch == 0 and config.max_queue >= 1


def test_values_are_parsed() -> None:
    config = EngineConfig.from_env(
        {
            "ENGINE_PORT": " 9000 ",
            "ENGINE_DEVICE": "CPU",
            "ENGINE_DTYPE": "FP32",
            "ENGINE_REQUEST_TIMEOUT": "2.5",
            "ENGINE_CACHE_DIR": "~/somewhere",
            "ENGINE_MAX_BATCH": "",  # blank means unset
            "ENGINE_HOST": "0.0.0.0",
            "ENGINE_API_KEY": "k",
            "OTHER": "ignored",
        }
    )
    assert config.port == 9000 and config.device == "cpu" and config.dtype == "fp32"
    assert config.request_timeout == 2.5 and config.max_batch == 0
    assert config.cache_dir == Path("~/somewhere").expanduser()


def test_explicit_overrides_win_and_none_is_ignored() -> None:
    config = EngineConfig.from_env({"ENGINE_PORT": "9000", "ENGINE_MAX_BATCH": "4"}, port=9100, max_batch=None)
    assert config.port == 9100 and config.max_batch == 4


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"ENGINE_PORT": "http"}, "ENGINE_PORT"),
        ({"ENGINE_PORT": "0"}, "ENGINE_PORT"),
        ({"ENGINE_PORT": "70000"}, "ENGINE_PORT"),
        ({"ENGINE_MAX_BATCH": "2.5"}, "ENGINE_MAX_BATCH"),
        ({"ENGINE_MAX_BATCH": "-1"}, "ENGINE_MAX_BATCH"),
        ({"ENGINE_MAX_QUEUE": "0"}, "ENGINE_MAX_QUEUE"),
        ({"ENGINE_REQUEST_TIMEOUT": "soon"}, "ENGINE_REQUEST_TIMEOUT"),
        ({"ENGINE_REQUEST_TIMEOUT": "0"}, "ENGINE_REQUEST_TIMEOUT"),
        ({"ENGINE_REQUEST_TIMEOUT": "nan"}, "ENGINE_REQUEST_TIMEOUT"),
        ({"ENGINE_SHUTDOWN_GRACE": "-1"}, "ENGINE_SHUTDOWN_GRACE"),
        ({"ENGINE_MAX_TOKENS_DEFAULT": "5000"}, "ENGINE_MAX_TOKENS_DEFAULT"),
        ({"ENGINE_MAX_TOKENS_DEFAULT": "0"}, "ENGINE_MAX_TOKENS_DEFAULT"),
        ({"ENGINE_DEVICE": "tpu"}, "ENGINE_DEVICE"),
        ({"ENGINE_DTYPE": "int4"}, "ENGINE_DTYPE"),
        ({"ENGINE_QUANTIZATION": "gptq"}, "ENGINE_QUANTIZATION"),
        ({"ENGINE_BACKEND": "vllm"}, "ENGINE_BACKEND"),
        ({"ENGINE_LOG_LEVEL": "chatty"}, "ENGINE_LOG_LEVEL"),
        ({"ENGINE_HOST": "0.0.0.0"}, "ENGINE_API_KEY"),
        ({"ENGINE_HOST": "192.168.1.5", "ENGINE_API_KEY": ""}, "ENGINE_API_KEY"),
        ({"ENGINE_ADAPTERS": "noir"}, "ENGINE_ADAPTERS"),
        ({"ENGINE_ADAPTERS": "noir=a,noir=b"}, "twice"),
        ({"ENGINE_ADAPTERS": "default=a"}, "ENGINE_ADAPTERS"),
        ({"ENGINE_ADAPTERS": "no spaces=a"}, "ENGINE_ADAPTERS"),
    ],
)
def test_wrong_settings_name_themselves(env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError) as caught:
        EngineConfig.from_env(env)
    assert names in str(caught.value)


def test_a_public_host_is_allowed_with_a_key() -> None:
    assert EngineConfig.from_env({"ENGINE_HOST": "0.0.0.0", "ENGINE_API_KEY": "long-secret"}).host == "0.0.0.0"


def test_dotenv_is_read_without_overriding_the_environment(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / ".env").write_text("ENGINE_PORT=9200\nENGINE_MAX_QUEUE=7\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ENGINE_PORT", "9300")
    monkeypatch.setenv("ENGINE_MAX_QUEUE", "1")  # so that monkeypatch removes what .env sets, afterwards
    monkeypatch.delenv("ENGINE_MAX_QUEUE")
    config = EngineConfig.from_env()
    assert config.port == 9300 and config.max_queue == 7


def test_adapters_are_parsed_by_name() -> None:
    config = EngineConfig.from_env({"ENGINE_ADAPTERS": " noir=adapters/noir , fairy.v2=~/fairy,"})
    assert config.adapter_paths() == {"noir": Path("adapters/noir"), "fairy.v2": Path("~/fairy").expanduser()}
