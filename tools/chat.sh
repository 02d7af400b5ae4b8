#!/usr/bin/env bash
# make chat: build apr-chat, fetch the default model on first use (cached in $APR_CACHE,
# default ~/.cache/apr), and start a chat with it.
#   make chat                         Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF:Q4_K_M
#   make chat MODEL=path/to/file.gguf a local file instead (no network)
#   make chat HF=USER/REPO[:QUANT]    another Hugging Face repository
#   make chat ARGS="-sys 'Be brief.' --temp 0.2"   more apr-chat flags
set -u
cd "$(dirname "$0")/.."
if [ ! -x ./apr-chat ] || [ drivers/chat.c -nt ./apr-chat ] || [ apr.h -nt ./apr-chat ]; then
  make -s apr-chat || exit 1
fi
extra=()
if [ -n "${ARGS:-}" ]; then eval "extra=($ARGS)"; fi
if [ -n "${MODEL:-}" ]; then
  exec ./apr-chat -m "$MODEL" "${extra[@]}" "$@"
fi
export APR_CHAT_LOCAL_HINT="make chat MODEL=path/to/model.gguf"
exec ./apr-chat -hf "${HF:-Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF:Q4_K_M}" "${extra[@]}" "$@"
