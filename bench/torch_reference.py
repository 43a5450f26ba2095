#!/usr/bin/python3
"""The PyTorch side of bench/train_bench: the same two models in plain torch.nn, timed the same way.

GPT (taesan's models::DecoderModel): token + learned position embeddings, pre-LN blocks
(causal self-attention as explicit matmul + masked softmax, GELU MLP 4x), final LayerNorm, output
projection tied to the token embedding; causal LM loss. BERT-MLM (models::MaskedLanguageModel):
token + position + segment embeddings, embedding LayerNorm, post-LN encoder blocks (BERT's order,
as taesan's EncoderModel), tanh pooler (computed, unused by the loss), dense + GELU + LayerNorm
transform, output tied to the token embedding plus a bias; cross entropy on masked positions.
Parameter names and layouts are taesan's, so one safetensors file loads into both (the reader and
writer below use json + struct + torch.frombuffer only). Batches come from the LCG documented in
train_bench.cc. Run with /usr/bin/python3 (Debian's python3-torch); pin 1-thread runs with
`taskset -c 0` and run 2-thread runs with OMP_WAIT_POLICY=PASSIVE (bench/compare.sh does both).
"""
import argparse
import json
import math
import resource
import statistics
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIGS = {  # vocab, context, d_model, heads, layers, batch (issue 8)
    "tiny": dict(vocab=256, context=128, d=128, heads=4, layers=4, batch=16),
    "small": dict(vocab=8192, context=256, d=384, heads=6, layers=6, batch=8),
}
MASK_ID = 1
IGNORE = -100
MAX_GRAD_NORM = 1.0
ADAMW = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
MASK64 = (1 << 64) - 1


# ---- safetensors (the subset taesan writes: F32/F64/I64 tensors, optional __metadata__) ----

_DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}
_CODES = {v: k for k, v in _DTYPES.items()}


def load_safetensors(path):
    """Returns {name: tensor} from a safetensors file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"load_safetensors: {path} is {len(data)} bytes, shorter than a header")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError(f"load_safetensors: {path}: header of {n} bytes exceeds the file")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    body = memoryview(data)[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise ValueError(f"load_safetensors: {path}: tensor {name} has unsupported dtype {info['dtype']}")
        begin, end = info["data_offsets"]
        t = torch.frombuffer(bytearray(body[begin:end]), dtype=dtype) if end > begin else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(info["shape"]).clone()
    return out


def save_safetensors(path, tensors, metadata=None):
    """Writes {name: tensor} as a safetensors file (names sorted, header padded to 8 bytes)."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        raw = t.numpy().tobytes()
        header[name] = {"dtype": _CODES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# ---- the models (taesan's names) ----

class MultiheadAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(d, d) for _ in range(4))

    def forward(self, x, causal):
        B, T, d = x.shape
        H = self.heads
        split = lambda t: t.view(B, T, H, d // H).transpose(1, 2)  # (B, H, T, hd)
        q, k, v = split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x))
        s = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d // H))
        if causal:
            s = s.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
        o = torch.softmax(s, dim=-1) @ v
        return self.out_proj(o.transpose(1, 2).reshape(B, T, d))


class EncoderLayer(nn.Module):
    def __init__(self, d, heads, norm_first):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiheadAttention(d, heads)
        self.linear1, self.linear2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
        self.norm1, self.norm2 = nn.LayerNorm(d, eps=1e-5), nn.LayerNorm(d, eps=1e-5)

    def ff(self, x):
        return self.linear2(F.gelu(self.linear1(x)))

    def forward(self, x, causal):
        if self.norm_first:
            x = x + self.self_attn(self.norm1(x), causal)
            return x + self.ff(self.norm2(x))
        x = self.norm1(x + self.self_attn(x, causal))
        return self.norm2(x + self.ff(x))


class Stack(nn.Module):
    def __init__(self, d, heads, layers, norm_first, final_norm):
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(d, heads, norm_first) for _ in range(layers))
        self.norm = nn.LayerNorm(d, eps=1e-5) if final_norm else None

    def forward(self, x, causal):
        for layer in self.layers:
            x = layer(x, causal)
        return self.norm(x) if self.norm is not None else x


class GPT(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wte = nn.Embedding(c["vocab"], c["d"])
        self.wpe = nn.Embedding(c["context"], c["d"])
        self.blocks = Stack(c["d"], c["heads"], c["layers"], norm_first=True, final_norm=True)

    def loss(self, ids, labels=None):
        T = ids.shape[1]
        h = self.blocks(self.wte(ids) + self.wpe(torch.arange(T)), causal=True)
        logits = F.linear(h, self.wte.weight)  # tied output projection
        V = logits.shape[-1]
        return F.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1))


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["d"]
        self.word_embeddings = nn.Embedding(c["vocab"], d, padding_idx=0)
        self.position_embeddings = nn.Embedding(c["context"], d)
        self.token_type_embeddings = nn.Embedding(2, d)
        self.embedding_norm = nn.LayerNorm(d, eps=1e-5)
        self.encoder = Stack(d, c["heads"], c["layers"], norm_first=False, final_norm=False)
        self.pooler = nn.Linear(d, d)

    def forward(self, ids):
        T = ids.shape[1]
        x = self.word_embeddings(ids) + self.position_embeddings(torch.arange(T))
        x = self.embedding_norm(x + self.token_type_embeddings(torch.zeros_like(ids)))
        hidden = self.encoder(x, causal=False)
        pooled = torch.tanh(self.pooler(hidden[:, 0]))
        return hidden, pooled


class BertMLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = Encoder(c)
        self.transform = nn.Linear(c["d"], c["d"])
        self.transform_norm = nn.LayerNorm(c["d"], eps=1e-5)
        self.output_bias = nn.Parameter(torch.zeros(c["vocab"]))

    def loss(self, ids, labels):
        hidden, _ = self.body(ids)
        h = self.transform_norm(F.gelu(self.transform(hidden)))
        logits = F.linear(h, self.body.word_embeddings.weight, self.output_bias)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=IGNORE)


# ---- batches: the LCG of train_bench.cc ----

def make_batch(c, masked_lm, index):
    state = ((index + 1) * 0x9E3779B97F4A7C15) & MASK64

    def nxt():
        nonlocal state
        state = (state * 6364136223846793005 + 1442695040888963407) & MASK64
        return state >> 33

    V, B, T = c["vocab"], c["batch"], c["context"]
    ids = []
    for _ in range(B):
        s = nxt() % (V - 2)
        d = 1 + nxt() % 7
        for t in range(T):
            tok = 2 + (s + d * t) % (V - 2)
            if nxt() % 10 == 0:
                tok = 2 + nxt() % (V - 2)
            ids.append(tok)
    labels = [IGNORE] * (B * T)
    if masked_lm:
        for i in range(B * T):
            if nxt() % 100 < 15:
                labels[i] = ids[i]
                ids[i] = MASK_ID
    return torch.tensor(ids, dtype=torch.int64).view(B, T), torch.tensor(labels, dtype=torch.int64).view(B, T)


# ---- figures (the same formulas as train_bench.cc) ----

def step_flops(c, bert):
    d, L, V, T = c["d"], c["layers"], c["vocab"], c["context"]
    tokens = c["batch"] * T
    n = L * (4 * d * d + 2 * d * 4 * d) + d * V + (d * d if bert else 0)
    return 6 * n * tokens + 12 * L * T * d * tokens


def peak_rss_mb():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def default_peak(threads):
    return 92.0 if threads == 1 else 176.0 if threads == 2 else 88.0 * threads


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", choices=["gpt", "bert"], default="gpt")
    p.add_argument("--config", choices=["tiny", "small"], default="tiny")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--loss-curve", type=int, default=0, help="print the losses of the first N steps")
    p.add_argument("--weights", default="", help="initial weights (safetensors, taesan's names)")
    p.add_argument("--save-weights", default="", help="write this model's initial weights, then exit")
    p.add_argument("--peak-gflops", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    if a.threads < 1 or a.steps < 1 or a.warmup < 0:
        p.error("--threads and --steps must be >= 1, --warmup >= 0")

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    c = CONFIGS[a.config]
    bert = a.model == "bert"
    model = BertMLM(c) if bert else GPT(c)
    for m in model.modules():  # GPT-2 / BERT initialisation, as taesan's models
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.bias)
    if a.save_weights:
        save_safetensors(a.save_weights, model.state_dict())
        print(f"wrote the initial weights of {a.model} {a.config} to {a.save_weights}")
        return 0
    if a.weights:
        state = load_safetensors(a.weights)
        mine = model.state_dict()
        missing = sorted(set(mine) - set(state))
        unexpected = sorted(set(state) - set(mine))
        wrong = sorted(k for k in mine if k in state and tuple(state[k].shape) != tuple(mine[k].shape))
        if missing or unexpected or wrong:
            sys.exit(f"torch_reference: {a.weights} does not match the {a.model} model: missing {missing}, "
                     f"unexpected {unexpected}, wrong shapes {wrong}")
        model.load_state_dict({k: v.to(mine[k].dtype) for k, v in state.items()})
    model.train()
    params = list(model.parameters())
    opt = torch.optim.AdamW(params, **ADAMW)

    def step(batch):
        loss = model.loss(*batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, MAX_GRAD_NORM)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    if a.loss_curve > 0:
        for k in range(a.loss_curve):
            print(f"step {k} loss {step(make_batch(c, bert, k)):.9g}")
        return 0

    batches = [make_batch(c, bert, k) for k in range(a.warmup + a.steps)]
    ms, cpu_ms, last = [], [], 0.0
    for k, b in enumerate(batches):
        c0, t0 = time.process_time(), time.perf_counter()
        last = step(b)
        if k >= a.warmup:
            ms.append((time.perf_counter() - t0) * 1e3)
            cpu_ms.append((time.process_time() - c0) * 1e3)
    s = sorted(ms)

    def pct(q):
        pos = q * (len(s) - 1)
        lo = int(math.floor(pos))
        hi = min(lo + 1, len(s) - 1)
        return s[lo] + (s[hi] - s[lo]) * (pos - lo)

    median = pct(0.5)
    tokens = c["batch"] * c["context"]
    tok_s = tokens / (median * 1e-3)
    gflops = step_flops(c, bert) / (median * 1e-3) * 1e-9
    peak = a.peak_gflops if a.peak_gflops > 0 else default_peak(a.threads)
    rss = peak_rss_mb()
    n_params = sum(t.numel() for t in params)
    print(f"pytorch {torch.__version__} {a.model} {a.config}, {a.threads} thread(s): {n_params} parameters, "
          f"batch {c['batch']} x {c['context']} tokens, last loss {last:.4f}")
    print(f"  step: median {median:.2f} ms over {a.steps} steps (min {s[0]:.2f}, max {s[-1]:.2f}, "
          f"IQR {pct(0.25):.2f}-{pct(0.75):.2f}) after {a.warmup} warm-up; process CPU time "
          f"{statistics.median(cpu_ms):.2f} ms/step (median)")
    print(f"  {tok_s:.0f} tokens/s, {gflops:.1f} GFLOP/s = {100 * gflops / peak:.1f}% of the FMA peak ({peak:.1f} GFLOP/s)")
    print(f"  peak RSS {rss:.1f} MB")
    print(f"RESULT impl=pytorch model={a.model} config={a.config} threads={a.threads} steps={a.steps} "
          f"ms_median={median:.3f} ms_min={s[0]:.3f} ms_max={s[-1]:.3f} "
          f"cpu_ms_median={statistics.median(cpu_ms):.3f} tok_s={tok_s:.1f} gflops={gflops:.2f} "
          f"peak_frac={gflops / peak:.4f} rss_mb={rss:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
