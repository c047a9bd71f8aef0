#!/usr/bin/python3
"""PyTorch CPU peer of bench/train_step.ts: the same BERT training step in plain PyTorch.

Run with Debian's Python and PyTorch (`apt-get install python3-torch`; HF transformers is not
needed): a compact BertForSequenceClassification with Hugging Face's math (post-LN encoder, exact
erf GELU, additive attention mask, dropout 0.1 in train mode, tanh pooler, cross-entropy), HF
initialisation (normal(0, 0.02), LayerNorm 1/0, zero biases), AdamW (lr 5e-5, weight_decay 0),
clip_grad_norm_(1.0), zero_grad(set_to_none=True).  One step = forward with labels, backward,
clip, optimizer step, zero_grad; the median of `--steps` timed steps after `--warmup` is printed
as one JSON line on stdout:

    {"framework": "pytorch", "torch": "...", "device": "cpu", "threads": 2, "batch": 8,
     "seq": 128, "step_ms": ..., "tokens_per_second": ..., ...}

Usage: /usr/bin/python3 bench/peers/torch_step.py [--batch 8] [--seq 128] [--steps 5]
         [--warmup 1] [--layers 4] [--hidden 256] [--heads 4] [--intermediate 1024]
         [--vocab 30522] [--threads 2] [--seed 0]
Tests never need this script.
"""

import argparse
import json
import math
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class BertLayer(nn.Module):
    def __init__(self, hidden, heads, intermediate, dropout, eps):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.attn_out = nn.Linear(hidden, hidden)
        self.attn_ln = nn.LayerNorm(hidden, eps=eps)
        self.intermediate = nn.Linear(hidden, intermediate)
        self.out = nn.Linear(intermediate, hidden)
        self.out_ln = nn.LayerNorm(hidden, eps=eps)
        self.drop = nn.Dropout(dropout)

    def forward(self, h, ext_mask):
        b, s, d = h.shape
        hd = d // self.heads

        def split(t):
            return t.view(b, s, self.heads, hd).transpose(1, 2)

        q, k, v = split(self.query(h)), split(self.key(h)), split(self.value(h))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(hd) + ext_mask
        probs = self.drop(torch.softmax(scores, dim=-1))
        ctx = torch.matmul(probs, v).transpose(1, 2).reshape(b, s, d)
        a = self.attn_ln(self.drop(self.attn_out(ctx)) + h)
        inter = F.gelu(self.intermediate(a))  # HF "gelu": exact erf GELU
        return self.out_ln(self.drop(self.out(inter)) + a)


class BertForSequenceClassification(nn.Module):
    def __init__(self, vocab, hidden, layers, heads, intermediate, num_labels=2, max_pos=512,
                 type_vocab=2, dropout=0.1, eps=1e-12, pad=0):
        super().__init__()
        self.word = nn.Embedding(vocab, hidden, padding_idx=pad)
        self.pos = nn.Embedding(max_pos, hidden)
        self.token_type = nn.Embedding(type_vocab, hidden)
        self.emb_ln = nn.LayerNorm(hidden, eps=eps)
        self.drop = nn.Dropout(dropout)
        self.layers = nn.ModuleList(
            BertLayer(hidden, heads, intermediate, dropout, eps) for _ in range(layers))
        self.pooler = nn.Linear(hidden, hidden)
        self.classifier = nn.Linear(hidden, num_labels)
        self.apply(self._init)

    @staticmethod
    def _init(m):  # HF BertPreTrainedModel._init_weights, initializer_range 0.02
        if isinstance(m, nn.Linear):
            m.weight.data.normal_(0.0, 0.02)
            m.bias.data.zero_()
        elif isinstance(m, nn.Embedding):
            m.weight.data.normal_(0.0, 0.02)
            if m.padding_idx is not None:
                m.weight.data[m.padding_idx].zero_()
        elif isinstance(m, nn.LayerNorm):
            m.weight.data.fill_(1.0)
            m.bias.data.zero_()

    def forward(self, input_ids, attention_mask, token_type_ids, labels):
        b, s = input_ids.shape
        pos = torch.arange(s).unsqueeze(0).expand(b, s)
        h = self.word(input_ids) + self.token_type(token_type_ids) + self.pos(pos)
        h = self.drop(self.emb_ln(h))
        ext = (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for layer in self.layers:
            h = layer(h, ext)
        pooled = torch.tanh(self.pooler(h[:, 0]))
        logits = self.classifier(self.drop(pooled))
        return F.cross_entropy(logits, labels)


def blas_library():
    """The BLAS shared library this process loaded (Linux), e.g. .../blas/libblas.so.3 (the
    reference BLAS) or .../openblas-pthread/libblas.so.3; None when unknown."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.rsplit("/", 1)[-1]}
        return sorted(libs)[0] if libs else None
    except OSError:
        return None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--intermediate", type=int, default=1024)
    ap.add_argument("--vocab", type=int, default=30522)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda (bench/gpu.sh)")
    a = ap.parse_args(argv)
    if a.steps < 1 or a.batch < 1 or a.seq < 1 or a.seq > 512:
        ap.error("--steps, --batch must be ≥ 1 and --seq in [1, 512]")

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    dev = torch.device(a.device)
    model = BertForSequenceClassification(a.vocab, a.hidden, a.layers, a.heads, a.intermediate)
    model.to(dev)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=5e-5, weight_decay=0.0)
    g = torch.Generator().manual_seed(a.seed)
    input_ids = torch.randint(1000, a.vocab, (a.batch, a.seq), generator=g)
    attention_mask = torch.ones(a.batch, a.seq, dtype=torch.long)
    token_type_ids = torch.zeros(a.batch, a.seq, dtype=torch.long)
    labels = torch.randint(0, 2, (a.batch,), generator=g)
    input_ids, attention_mask, token_type_ids, labels = (
        t.to(dev) for t in (input_ids, attention_mask, token_type_ids, labels))

    def step():
        t0, c0 = time.perf_counter(), time.process_time()
        loss = model(input_ids, attention_mask, token_type_ids, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        ms, cpu_ms = (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000
        return ms, cpu_ms, loss.item()

    warm = [step()[0] for _ in range(a.warmup)]
    times, cpu, loss = [], [], float("nan")
    for _ in range(a.steps):
        ms, cpu_ms, loss = step()
        times.append(ms)
        cpu.append(cpu_ms)
    med = statistics.median(times)
    print(json.dumps({
        "framework": "pytorch",
        "torch": torch.__version__,
        "device": a.device,
        "peak_bytes": torch.cuda.max_memory_allocated() if dev.type == "cuda" else None,
        "threads": torch.get_num_threads(),
        "blas": blas_library(),
        "batch": a.batch,
        "seq": a.seq,
        "layers": a.layers,
        "hidden": a.hidden,
        "step_ms": round(med, 2),
        "tokens_per_second": round(a.batch * a.seq / (med / 1000), 1),
        "step_cpu_ms": round(statistics.median(cpu), 1),
        "step_ms_all": [round(t, 1) for t in times],
        "warmup_ms": [round(t) for t in warm],
        "loss": loss,
        "parameters": sum(p.numel() for p in model.parameters()),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
