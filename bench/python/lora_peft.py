"""PyTorch + Hugging Face PEFT reference for sweeplab's LoRA benchmark
(bench/src/bin/lora_bench.rs).

Builds the model of sweeplab's "LoRA fine-tune" study in PyTorch (core/src/train/lm/mod.rs):
byte tokens and learned positions, pre-norm blocks (RMSNorm, causal multi-head
self-attention through `scaled_dot_product_attention`, a SwiGLU MLP), a final RMSNorm and an
untied head, with the same parameter names, and loads sweeplab's shipped base
(static/data/lm/base.safetensors, strictly: every name and shape must match). Then it trains,
on random windows of the same corpus's training text:

- `lora-qv`, `lora-all`: PEFT's `LoraConfig` (r, alpha, dropout; target modules
  q_proj/v_proj, or every projection) through `get_peft_model`, the base frozen;
- `finetune`: every weight.

Adam (lr 1e-3), the same batch, context and threads. Prints one JSON object per repeat:
{"variant": ..., "tokens_per_sec": ..., "trainable": ...}, where a token is one predicted
byte (batch x context per step), as sweeplab counts them.
"""

import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from peft import LoraConfig, get_peft_model
from safetensors.torch import load_file


class Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.q_proj = nn.Linear(d, d, bias=False)
        self.k_proj = nn.Linear(d, d, bias=False)
        self.v_proj = nn.Linear(d, d, bias=False)
        self.o_proj = nn.Linear(d, d, bias=False)

    def forward(self, x):
        b, t, d = x.shape
        h = self.heads

        def split(p):
            return p(x).view(b, t, h, d // h).transpose(1, 2)

        out = F.scaled_dot_product_attention(
            split(self.q_proj), split(self.k_proj), split(self.v_proj), is_causal=True)
        return self.o_proj(out.transpose(1, 2).reshape(b, t, d))


class Mlp(nn.Module):
    def __init__(self, d, f):
        super().__init__()
        self.gate_proj = nn.Linear(d, f, bias=False)
        self.up_proj = nn.Linear(d, f, bias=False)
        self.down_proj = nn.Linear(f, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, d, heads, f):
        super().__init__()
        # burn's RmsNorm epsilon.
        self.input_layernorm = nn.RMSNorm(d, eps=1e-5)
        self.self_attn = Attention(d, heads)
        self.post_attention_layernorm = nn.RMSNorm(d, eps=1e-5)
        self.mlp = Mlp(d, f)

    def forward(self, x):
        x = x + self.self_attn(self.input_layernorm(x))
        return x + self.mlp(self.post_attention_layernorm(x))


class Inner(nn.Module):
    def __init__(self, d, layers, heads, f, context):
        super().__init__()
        self.embed_tokens = nn.Embedding(256, d)
        self.embed_positions = nn.Embedding(context, d)
        self.layers = nn.ModuleList([Layer(d, heads, f) for _ in range(layers)])
        self.norm = nn.RMSNorm(d, eps=1e-5)


class TinyLm(nn.Module):
    def __init__(self, d, layers, heads, f, context):
        super().__init__()
        self.model = Inner(d, layers, heads, f, context)
        self.lm_head = nn.Linear(d, 256, bias=False)

    def forward(self, tokens):
        t = tokens.shape[1]
        pos = torch.arange(t, device=tokens.device)
        x = self.model.embed_tokens(tokens) + self.model.embed_positions(pos)
        for layer in self.model.layers:
            x = layer(x)
        return self.lm_head(self.model.norm(x))


def load_base(path):
    weights = load_file(path)
    with open(path, "rb") as f:
        header_len = int.from_bytes(f.read(8), "little")
        meta = json.loads(f.read(header_len)).get("__metadata__", {})
    shape = {k: int(meta[k]) for k in ("d_model", "layers", "heads", "d_ff", "context")}
    model = TinyLm(shape["d_model"], shape["layers"], shape["heads"], shape["d_ff"],
                   shape["context"])
    model.load_state_dict(weights, strict=True)
    return model, shape


@torch.no_grad()
def val_loss(model, valid, ctx, max_windows=96):
    """The mean next-byte loss over the fixed validation windows sweeplab's `evaluate_lm`
    reads (train/lm/trial.rs): the frozen base must score what sweeplab's does, which shows
    the two sides train the same model."""
    model.eval()
    room = len(valid) - (ctx + 1)
    count = max(1, min(max_windows, room // ctx + 1))
    starts = torch.tensor([i * room // count for i in range(count)])
    w = valid[starts[:, None] + torch.arange(ctx + 1)[None, :]]
    logits = model(w[:, :-1])
    return F.cross_entropy(logits.reshape(-1, 256), w[:, 1:].reshape(-1)).item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--variant", choices=["lora-qv", "lora-all", "finetune"], required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--r", type=int, default=8)
    ap.add_argument("--alpha", type=float, default=16.0)
    ap.add_argument("--dropout", type=float, default=0.05)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    data = open(a.corpus, "rb").read()
    # sweeplab's split (train/lm/train.rs, `Corpus::split`): at the first line break after
    # 90% of the bytes.
    cut = data.find(b"\n", int(len(data) * 0.9))
    cut = len(data) if cut < 0 else cut + 1
    train = torch.tensor(list(data[:cut]), dtype=torch.long)
    valid = torch.tensor(list(data[cut:]), dtype=torch.long)
    base_val = None

    for _ in range(a.repeats):
        model, shape = load_base(a.base)
        if a.variant.startswith("lora"):
            targets = (["q_proj", "v_proj"] if a.variant == "lora-qv" else
                       ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                        "down_proj"])
            model = get_peft_model(model, LoraConfig(
                r=a.r, lora_alpha=a.alpha, lora_dropout=a.dropout, target_modules=targets))
        if base_val is None:
            base_val = val_loss(model, valid, shape["context"])
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        trainable = sum(p.numel() for p in params)
        opt = torch.optim.Adam(params, lr=1e-3)
        ctx = shape["context"]
        gen = torch.Generator().manual_seed(a.seed)

        def step():
            starts = torch.randint(0, len(train) - ctx - 1, (a.batch,), generator=gen)
            idx = starts[:, None] + torch.arange(ctx + 1)[None, :]
            w = train[idx]
            logits = model(w[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, 256), w[:, 1:].reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return loss

        for _ in range(a.warmup):
            step()
        t0 = time.perf_counter()
        for _ in range(a.steps):
            loss = step()
        last = loss.item()
        secs = time.perf_counter() - t0
        assert math.isfinite(last), last
        print(json.dumps({"variant": a.variant,
                          "tokens_per_sec": a.steps * a.batch * ctx / secs,
                          "trainable": trainable, "loss": last,
                          "base_val_loss": base_val}), flush=True)


if __name__ == "__main__":
    main()
