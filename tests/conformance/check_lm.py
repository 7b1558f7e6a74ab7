"""The language model's files, read by Hugging Face's `safetensors` (the library PEFT and
transformers load weights with) and run by an independent NumPy implementation of the model.

1. The base (`static/data/lm/base.safetensors`): every tensor has its llama-style name, F32,
   the shape the metadata's sizes imply (linear weights `[out, in]`, as PyTorch stores them).
2. A LoRA trial's adapter folder: PEFT's tensor names
   (`base_model.model.model.layers.N.<group>.<proj>.lora_A.weight`, `[r, in]`; `lora_B`,
   `[out, r]`) for exactly the `target_modules` of `adapter_config.json`, whose `r`,
   `lora_alpha` and `base_sha256` (the base file's SHA-256) agree with the files.
3. NumPy's forward pass of base + merged adapters (W + B·A·alpha/r) continues the prompt
   greedily with exactly the bytes `sweeplab generate --temperature 0` writes.

usage: check_lm.py SWEEPLAB_BIN BASE_FILE ADAPTER_DIR
"""

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file

from truth import expect, run_checks

PROJ = {"q_proj": "self_attn", "k_proj": "self_attn", "v_proj": "self_attn", "o_proj": "self_attn",
        "gate_proj": "mlp", "up_proj": "mlp", "down_proj": "mlp"}


def shapes(cfg):
    d, f, n = cfg["d_model"], cfg["d_ff"], cfg["layers"]
    want = {"model.embed_tokens.weight": (256, d), "model.embed_positions.weight": (cfg["context"], d),
            "model.norm.weight": (d,), "lm_head.weight": (256, d)}
    for i in range(n):
        p = f"model.layers.{i}."
        want[p + "input_layernorm.weight"] = (d,)
        want[p + "post_attention_layernorm.weight"] = (d,)
        for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
            want[p + f"self_attn.{proj}.weight"] = (d, d)
        want[p + "mlp.gate_proj.weight"] = (f, d)
        want[p + "mlp.up_proj.weight"] = (f, d)
        want[p + "mlp.down_proj.weight"] = (d, f)
    return want


def rms(x, g):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-5) * g


def logits(w, cfg, tokens):
    t, d, h = len(tokens), cfg["d_model"], cfg["heads"]
    dh = d // h
    x = w["model.embed_tokens.weight"][tokens] + w["model.embed_positions.weight"][:t]
    future = np.triu(np.ones((t, t), dtype=bool), 1)
    for i in range(cfg["layers"]):
        p = f"model.layers.{i}."
        a = rms(x, w[p + "input_layernorm.weight"])
        q, k, v = (
            (a @ w[p + f"self_attn.{n}.weight"].T).reshape(t, h, dh).transpose(1, 0, 2)
            for n in ("q_proj", "k_proj", "v_proj")
        )
        s = q @ k.transpose(0, 2, 1) / np.sqrt(dh)
        s = np.where(future, -1e9, s)
        s = np.exp(s - s.max(-1, keepdims=True))
        s = s / s.sum(-1, keepdims=True)
        o = (s @ v).transpose(1, 0, 2).reshape(t, d)
        x = x + o @ w[p + "self_attn.o_proj.weight"].T
        m = rms(x, w[p + "post_attention_layernorm.weight"])
        g = m @ w[p + "mlp.gate_proj.weight"].T
        u = m @ w[p + "mlp.up_proj.weight"].T
        x = x + ((g / (1 + np.exp(-g))) * u) @ w[p + "mlp.down_proj.weight"].T
    return rms(x, w["model.norm.weight"]) @ w["lm_head.weight"].T


def main():
    bin_, base_path, adapter_dir = sys.argv[1:4]
    with safe_open(base_path, "np") as f:
        meta = f.metadata()
    expect(meta.get("format") == "sweeplab-tinylm-1", f"base format {meta.get('format')}")
    cfg = {k: int(meta[k]) for k in ("d_model", "layers", "heads", "d_ff", "context")}
    base = {k: v.astype(np.float64) for k, v in load_file(base_path).items()}
    want = shapes(cfg)
    expect(sorted(base) == sorted(want), f"base tensors {sorted(set(base) ^ set(want))}")
    for k, s in want.items():
        expect(base[k].shape == s, f"{k}: shape {base[k].shape} != {s}")
    print(f"base: {len(base)} llama-named F32 tensors, shapes as the metadata's {cfg}")

    with open(os.path.join(adapter_dir, "adapter_config.json")) as f:
        conf = json.load(f)
    with open(base_path, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    expect(conf["peft_type"] == "LORA" and conf["task_type"] == "CAUSAL_LM", f"config {conf}")
    expect(conf["base_sha256"] == sha, f"base_sha256 {conf['base_sha256']} != {sha}")
    ad = {k: v.astype(np.float64) for k, v in load_file(os.path.join(adapter_dir, "adapter_model.safetensors")).items()}
    r, scale = conf["r"], conf["lora_alpha"] / conf["r"]
    names = set()
    merged = dict(base)
    for i in range(cfg["layers"]):
        for proj in conf["target_modules"]:
            stem = f"model.layers.{i}.{PROJ[proj]}.{proj}"
            a, b = f"base_model.model.{stem}.lora_A.weight", f"base_model.model.{stem}.lora_B.weight"
            out_dim, in_dim = base[stem + ".weight"].shape
            expect(ad[a].shape == (r, in_dim), f"{a}: {ad[a].shape} != {(r, in_dim)}")
            expect(ad[b].shape == (out_dim, r), f"{b}: {ad[b].shape} != {(out_dim, r)}")
            merged[stem + ".weight"] = base[stem + ".weight"] + scale * (ad[b] @ ad[a])
            names |= {a, b}
    expect(set(ad) == names, f"adapter tensors outside target_modules: {sorted(set(ad) - names)}")
    expect(any(np.abs(ad[n]).max() > 0 for n in names if "lora_B" in n), "B is still zero: nothing trained")
    print(f"adapter: {len(ad)} PEFT-named tensors, r={r}, alpha={conf['lora_alpha']}, "
          f"targets {conf['target_modules']}, trained on this base")

    n = 40
    for prompt in ("She was not ", "WISDOM, n.  The"):
        tokens = list(prompt.encode())
        for _ in range(n):
            window = tokens[-cfg["context"]:]
            tokens.append(int(logits(merged, cfg, np.array(window))[-1].argmax()))
        ours = bytes(tokens).decode("utf-8", errors="replace")
        out = subprocess.run([bin_, "generate", "--adapter", adapter_dir, "--base", base_path, "--prompt", prompt,
                              "--bytes", str(n), "--temperature", "0"], capture_output=True, check=True)
        theirs = out.stdout.decode("utf-8", errors="replace").rstrip("\n")
        expect(theirs == ours, f"sweeplab generate wrote {theirs!r}; NumPy's forward pass {ours!r}")
        expect(len(set(ours[len(prompt):])) > 3, f"a degenerate continuation proves little: {ours!r}")
        print(f"greedy text equal to NumPy's forward pass of the merged weights: {ours!r}")

if __name__ == "__main__":
    run_checks("lm", main)
