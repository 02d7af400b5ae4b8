#!/usr/bin/env python3
"""Reference logits from Hugging Face transformers for tests/test_model.c.

Builds tiny random LlamaForCausalLM, Qwen2ForCausalLM (q/k/v biases, tied embeddings)
and Qwen3ForCausalLM (per-head q/k RMSNorm, head_dim != hidden/heads) models in float32,
writes each as a GGUF with the small writer below (no gguf package), and records
transformers' logits for a fixed token sequence.

    python3 tests/make_hf_fixtures.py OUTDIR      (needs torch + transformers)

Outputs per model NAME in {llama, qwen2, qwen3}:
    hf-NAME.gguf    2-D weights F16 (the HF model runs on the same F16-rounded values),
                    norms and biases F32, no tokenizer
    hf-NAME.logits  one ASCII header line
                      "APRHF1 arch=NAME n_tokens=T n_vocab=V transformers=X torch=Y\\n"
                    then int32 tokens[T], then float32 logits[T][V] (little-endian)
"""
import struct
import sys

import numpy as np
import torch
import transformers

GGUF_U32, GGUF_F32, GGUF_STRING = 4, 6, 8
T_F32, T_F16 = 0, 1
ALIGN = 32


def gguf_write(path, kv, tensors):
    """kv: list of (key, kind, value) with kind in {'u32','f32','str'};
    tensors: list of (name, np.ndarray) (float32 1-D, or float16 2-D)."""
    def s(x):
        b = x.encode()
        return struct.pack("<Q", len(b)) + b

    out = bytearray(b"GGUF")
    out += struct.pack("<IQQ", 3, len(tensors), len(kv))
    for key, kind, val in kv:
        out += s(key)
        if kind == "u32":
            out += struct.pack("<II", GGUF_U32, val)
        elif kind == "f32":
            out += struct.pack("<If", GGUF_F32, val)
        else:
            out += struct.pack("<I", GGUF_STRING) + s(val)
    offset = 0
    blobs = []
    for name, arr in tensors:
        ttype = T_F16 if arr.dtype == np.float16 else T_F32
        ne = list(reversed(arr.shape))  # ne[0] is the fastest dimension
        out += s(name) + struct.pack("<I", len(ne))
        for n in ne:
            out += struct.pack("<Q", n)
        out += struct.pack("<IQ", ttype, offset)
        data = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()
        blobs.append(data)
        offset += (len(data) + ALIGN - 1) // ALIGN * ALIGN
    out += b"\0" * ((-len(out)) % ALIGN)
    for data in blobs:
        out += data + b"\0" * ((-len(data)) % ALIGN)
    with open(path, "wb") as f:
        f.write(out)


def permute_norm_rope(w, n_head):
    """llama.cpp's converter: HF's rotate_half (pairs i, i+d/2) -> GGUF NORM (pairs 2i, 2i+1)."""
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 2:
                v = torch.randn(p.shape, generator=g) * 0.25
                p.copy_(v.half().float())  # the GGUF stores these exactly as F16
            elif name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
            else:  # norm weights
                p.copy_(1.0 + 0.3 * torch.randn(p.shape, generator=g))


def effective_theta(model, head_dim):
    inv = model.model.rotary_emb.inv_freq.double()
    # inv[i] = theta^(-2i/d)
    return float(inv[1].item() ** (-head_dim / 2.0))


def build(arch, outdir):
    torch.manual_seed(0)
    common = dict(vocab_size=0, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)
    if arch == "llama":
        common.update(vocab_size=256, rms_norm_eps=1e-5)
        theta = 50000.0
        cfg = transformers.LlamaConfig(rope_theta=theta, tie_word_embeddings=False, attention_bias=False,
                                       mlp_bias=False, **common)
        cls = transformers.LlamaForCausalLM
    elif arch == "qwen2":
        common.update(vocab_size=320, rms_norm_eps=1e-6)
        theta = 1000000.0
        cfg = transformers.Qwen2Config(rope_theta=theta, tie_word_embeddings=True, use_sliding_window=False,
                                       **common)
        cls = transformers.Qwen2ForCausalLM
    else:
        common.update(vocab_size=288, hidden_size=48, rms_norm_eps=1e-6)
        theta = 20000.0
        cfg = transformers.Qwen3Config(rope_theta=theta, head_dim=16, tie_word_embeddings=False,
                                       attention_bias=False, use_sliding_window=False, **common)
        cls = transformers.Qwen3ForCausalLM
    rp = getattr(cfg, "rope_parameters", None)
    if isinstance(rp, dict):
        rp["rope_theta"] = theta
    cfg._attn_implementation = "eager"
    model = cls(cfg).float().eval()
    randomize(model, {"llama": 1, "qwen2": 2, "qwen3": 3}[arch])
    if arch == "qwen2":
        assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr(), "not tied"

    n_head, n_kv = cfg.num_attention_heads, cfg.num_key_value_heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // n_head
    th = effective_theta(model, head_dim)
    assert abs(th - theta) / theta < 1e-3, f"rope theta {th} != {theta}"
    V, E = cfg.vocab_size, cfg.hidden_size

    tokens = [(7 + 37 * i * i + 11 * i) % V for i in range(16)]
    with torch.no_grad():
        logits = model(torch.tensor([tokens])).logits[0].float().numpy()

    sd = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    f16 = lambda a: a.astype(np.float16)
    f32 = lambda a: a.astype(np.float32)
    tensors = [("token_embd.weight", f16(sd["model.embed_tokens.weight"])),
               ("output_norm.weight", f32(sd["model.norm.weight"]))]
    if not cfg.tie_word_embeddings:
        tensors.append(("output.weight", f16(sd["lm_head.weight"])))
    for l in range(cfg.num_hidden_layers):
        p = f"model.layers.{l}."
        q, k = sd[p + "self_attn.q_proj.weight"], sd[p + "self_attn.k_proj.weight"]
        if arch == "llama":
            q, k = permute_norm_rope(q, n_head), permute_norm_rope(k, n_kv)
        b = f"blk.{l}."
        tensors += [(b + "attn_norm.weight", f32(sd[p + "input_layernorm.weight"])),
                    (b + "attn_q.weight", f16(q)), (b + "attn_k.weight", f16(k)),
                    (b + "attn_v.weight", f16(sd[p + "self_attn.v_proj.weight"])),
                    (b + "attn_output.weight", f16(sd[p + "self_attn.o_proj.weight"]))]
        if arch == "qwen2":
            for n in "qkv":
                tensors.append((b + f"attn_{n}.bias", f32(sd[p + f"self_attn.{n}_proj.bias"])))
        if arch == "qwen3":
            tensors += [(b + "attn_q_norm.weight", f32(sd[p + "self_attn.q_norm.weight"])),
                        (b + "attn_k_norm.weight", f32(sd[p + "self_attn.k_norm.weight"]))]
        tensors += [(b + "ffn_norm.weight", f32(sd[p + "post_attention_layernorm.weight"])),
                    (b + "ffn_gate.weight", f16(sd[p + "mlp.gate_proj.weight"])),
                    (b + "ffn_up.weight", f16(sd[p + "mlp.up_proj.weight"])),
                    (b + "ffn_down.weight", f16(sd[p + "mlp.down_proj.weight"]))]
    a = arch
    kv = [("general.architecture", "str", a), ("general.name", "str", f"hf-{a}-tiny-random"),
          ("general.file_type", "u32", 1),
          (a + ".context_length", "u32", 256), (a + ".embedding_length", "u32", E),
          (a + ".block_count", "u32", cfg.num_hidden_layers), (a + ".feed_forward_length", "u32", cfg.intermediate_size),
          (a + ".attention.head_count", "u32", n_head), (a + ".attention.head_count_kv", "u32", n_kv),
          (a + ".attention.key_length", "u32", head_dim), (a + ".attention.value_length", "u32", head_dim),
          (a + ".attention.layer_norm_rms_epsilon", "f32", cfg.rms_norm_eps),
          (a + ".rope.freq_base", "f32", theta), (a + ".rope.dimension_count", "u32", head_dim),
          (a + ".vocab_size", "u32", V)]
    gguf_write(f"{outdir}/hf-{a}.gguf", kv, tensors)
    with open(f"{outdir}/hf-{a}.logits", "wb") as f:
        f.write((f"APRHF1 arch={a} n_tokens={len(tokens)} n_vocab={V} "
                 f"transformers={transformers.__version__} torch={torch.__version__}\n").encode())
        f.write(np.array(tokens, dtype="<i4").tobytes())
        f.write(logits.astype("<f4").tobytes())
    print(a, "logits[0][:4]", logits[0][:4], "norm", float(np.linalg.norm(logits)))


if __name__ == "__main__":
    outdir = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures"
    torch.set_grad_enabled(False)
    for arch in ("llama", "qwen2", "qwen3"):
        build(arch, outdir)
    print("transformers", transformers.__version__, "torch", torch.__version__)
