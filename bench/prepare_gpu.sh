#!/usr/bin/env bash
# Run here (not on the device) before bench/gpu.sh: fill the git-ignored folders that travel with it.
#   .whl/              wheels the device image lacks (py3.12, manylinux): bitsandbytes and small pure-Python ones
#   .device/tokenizer/ the default model's tokenizer (random-weight models borrow it; the GGUF is too big to carry)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl .device/tokenizer
PIP="python3 -m pip download -q --only-binary=:all: --python-version 3.12 --no-deps -d .whl"
$PIP --platform manylinux_2_24_x86_64 bitsandbytes
$PIP --platform any pytest pluggy iniconfig pygments pytest-asyncio pytest-timeout prometheus-client python-dotenv
.venv/bin/python - <<'PY'
import shutil
from pathlib import Path
from engine.config import EngineConfig
from engine.loading import convert_gguf, default_gguf_path
source = convert_gguf(default_gguf_path(), EngineConfig().cache_dir, print)
for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja"):
    if (source / name).is_file():
        shutil.copy(source / name, Path(".device/tokenizer") / name)
PY
du -sh .whl .device
