#!/usr/bin/python3
"""The DCASE 2022 task 4 baseline CRNN and its mean-teacher training step in PyTorch, written from
greensed's spec (desed_baseline.md §3, §4.2-4.6), with the module names of DESED_task (commit
f0161eb) so that state_dict keys match the recipe's: cnn.cnn.conv0.weight, cnn.cnn.batchnorm0.*,
cnn.cnn.glu0.linear.*, rnn.rnn.weight_ih_l0(_reverse), dense.*, dense_softmax.*.

Used as a library by make_crnn_goldens.py, bench_torch_step.py, convert_ckpt.py and
check_ckpt_in_torch.py. The deterministic weight/input formulas are defined in crnn_formulas.md.
Needs Debian's python3-torch (1.13) and numpy.
"""
import math

import numpy as np
import torch
import torch.nn as nn

# The recipe's 2022 net section (confs/default.yaml).
DEFAULT_NET = {
    "n_in_channel": 1,
    "nclass": 10,
    "attention": True,
    "dropout": 0.5,
    "n_RNN_cell": 128,
    "kernel_size": [3] * 7,
    "padding": [1] * 7,
    "stride": [1] * 7,
    "nb_filters": [16, 32, 64, 128, 128, 128, 128],
    "pooling": [[2, 2], [2, 2], [1, 2], [1, 2], [1, 2], [1, 2], [1, 2]],
}
N_RNN_LAYERS = 2  # net.rnn_layers is never read by the recipe (spec §3.4)


class GLU(nn.Module):
    """The recipe's "GLU": Linear over channels at every (t, f), times sigmoid of the input."""

    def __init__(self, channels):
        super().__init__()
        self.sigmoid = nn.Sigmoid()
        self.linear = nn.Linear(channels, channels)

    def forward(self, x):  # x [B, C, T, F]
        value = self.linear(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return value * self.sigmoid(x)


class CNN(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.cnn = nn.Sequential()
        c_in = net["n_in_channel"]
        for i, c_out in enumerate(net["nb_filters"]):
            self.cnn.add_module(f"conv{i}", nn.Conv2d(c_in, c_out, net["kernel_size"][i],
                                                      net["stride"][i], net["padding"][i]))
            self.cnn.add_module(f"batchnorm{i}", nn.BatchNorm2d(c_out, eps=0.001, momentum=0.99))
            self.cnn.add_module(f"glu{i}", GLU(c_out))
            self.cnn.add_module(f"dropout{i}", nn.Dropout(net["dropout"]))
            self.cnn.add_module(f"pooling{i}", nn.AvgPool2d(tuple(net["pooling"][i])))
            c_in = c_out

    def forward(self, x):
        return self.cnn(x)


class BidirectionalGRU(nn.Module):
    def __init__(self, n_in, n_hidden):
        super().__init__()
        self.rnn = nn.GRU(n_in, n_hidden, bidirectional=True, batch_first=True,
                          num_layers=N_RNN_LAYERS, dropout=0)

    def forward(self, x):
        out, _ = self.rnn(x)
        return out


class CRNN(nn.Module):
    """forward(x [B, F, T]) -> (strong [B, K, T'], weak [B, K])."""

    def __init__(self, net=None):
        super().__init__()
        net = dict(DEFAULT_NET, **(net or {}))
        self.attention = net["attention"]
        self.cnn = CNN(net)
        self.rnn = BidirectionalGRU(net["nb_filters"][-1], net["n_RNN_cell"])
        self.dropout = nn.Dropout(net["dropout"])
        self.dense = nn.Linear(2 * net["n_RNN_cell"], net["nclass"])
        self.sigmoid = nn.Sigmoid()
        if self.attention:
            self.dense_softmax = nn.Linear(2 * net["n_RNN_cell"], net["nclass"])
            self.softmax = nn.Softmax(dim=-1)

    def forward(self, x):
        x = self.cnn(x.transpose(1, 2).unsqueeze(1))  # [B, 1, T, F] -> [B, C, T', F']
        b, c, t, f = x.shape
        x = x.permute(0, 2, 1, 3).reshape(b, t, c * f)  # [B, T', C·F'] (F' = 1 by default)
        x = self.dropout(self.rnn(x))  # [B, T', 2H]
        strong = self.sigmoid(self.dense(x))  # [B, T', K]
        if self.attention:
            att = torch.clamp(self.softmax(self.dense_softmax(x)), min=1e-7, max=1)  # over K
            weak = (strong * att).sum(1) / att.sum(1)
        else:
            weak = strong.mean(1)
        return strong.transpose(1, 2), weak


def set_dropout(model, p):
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = p


# ---------------------------------------------------------------------------------------------
# Formulas (crnn_formulas.md)

_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def hash_u(stream, n):
    """u(stream, i) for i = 0..n-1: splitmix64 of stream·2^32 + i, top 53 bits, in [0, 1)."""
    with np.errstate(over="ignore"):
        z = (np.uint64(stream) << np.uint64(32)) + np.arange(n, dtype=np.uint64)
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * (2.0 ** -53)


def hash_sym(stream, n):
    return 2.0 * hash_u(stream, n) - 1.0


# Weight scales are gain/sqrt(fan_in): √3 (unit variance per input, so an untrained network's
# outputs still depend on its input) and 2·√3 for the two heads (outputs spread over (0, 1)).
SQRT3 = math.sqrt(3.0)


def weight_table(model):
    """[{name, shape, stream, offset, scale, dtype}] in state_dict order (crnn_formulas.md)."""
    rules = {}
    for prefix, m in model.named_modules():
        names = {n: f"{prefix}.{n}" if prefix else n for n, _ in m.named_parameters(recurse=False)}
        names.update({n: f"{prefix}.{n}" if prefix else n for n, _ in m.named_buffers(recurse=False)})
        if isinstance(m, nn.Conv2d):
            fan_in = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
            rule = {n: (0.0, SQRT3 / math.sqrt(fan_in)) for n in names}
        elif isinstance(m, nn.Linear):
            gain = 2 * SQRT3 if prefix in ("dense", "dense_softmax") else SQRT3
            rule = {n: (0.0, gain / math.sqrt(m.in_features)) for n in names}
        elif isinstance(m, nn.GRU):
            rule = {n: (0.0, SQRT3 / math.sqrt(m.hidden_size)) for n in names}
        elif isinstance(m, nn.BatchNorm2d):
            rule = {"weight": (1.0, 0.2), "bias": (0.0, 0.2), "running_mean": (0.0, 0.2),
                    "running_var": (1.25, 0.25), "num_batches_tracked": (0.0, 0.0)}
        else:
            assert not names, f"no weight rule for {prefix} ({type(m).__name__})"
            continue
        for n, full in names.items():
            rules[full] = rule[n]
    table = []
    for j, (name, tensor) in enumerate(model.state_dict().items()):
        offset, scale = rules[name]
        table.append({"name": name, "shape": list(tensor.shape), "stream": 100 + j,
                      "offset": offset, "scale": scale,
                      "dtype": "I64" if tensor.dtype == torch.int64 else "F32"})
    return table


def fill_by_formula(model):
    """Sets every state_dict entry from its formula; returns the table."""
    table = weight_table(model)
    state = model.state_dict()
    with torch.no_grad():
        for row in table:
            t = state[row["name"]]
            if row["dtype"] == "I64":
                t.zero_()
                continue
            values = row["offset"] + row["scale"] * hash_sym(row["stream"], t.numel())
            t.copy_(torch.from_numpy(values.astype(np.float32)).reshape(t.shape))
    return table


def formula_tensor(stream, shape, sym=False, scale=1.0):
    n = int(np.prod(shape))
    values = (hash_sym(stream, n) if sym else hash_u(stream, n)) * scale
    return torch.from_numpy(values.astype(np.float32)).reshape(shape)


def formula_features(stream, batch, n_mels, n_frames):
    """x[b, f, t] = float32(0.3·u(stream, i) + 0.7·u(stream + 500, block)), block =
    (b·ceil(F/16) + f//16)·ceil(T/32) + t//32: noise over 16-bin × 32-frame patches, so that
    clips differ like sounds do (crnn_formulas.md)."""
    nf, nt = -(-n_mels // 16), -(-n_frames // 32)
    b, f, t = np.meshgrid(np.arange(batch), np.arange(n_mels), np.arange(n_frames), indexing="ij")
    block = ((b * nf + f // 16) * nt + t // 32).ravel()
    coarse = hash_u(stream + 500, batch * nf * nt)[block]
    values = 0.3 * hash_u(stream, batch * n_mels * n_frames) + 0.7 * coarse
    return torch.from_numpy(values.astype(np.float32)).reshape(batch, n_mels, n_frames)


def step_batch(k, batch, n_frames=626, n_mels=128, n_classes=10, n_out_frames=None):
    """Features [B, F, T] and labels [B, K, T'] of step k (crnn_formulas.md)."""
    if n_out_frames is None:
        n_out_frames = n_frames // 4
    x = formula_features(10 + k, batch, n_mels, n_frames)
    u = torch.from_numpy(hash_u(30 + k, batch * n_classes * n_out_frames)).reshape(
        batch, n_classes, n_out_frames)
    labels = torch.zeros(batch, n_classes, n_out_frames)
    q = batch // 4
    labels[:q] = (u[:q] < 0.25).float()
    labels[q:2 * q, :, 0] = (u[q:2 * q, :, 0] < 0.4).float()
    return x, labels


# ---------------------------------------------------------------------------------------------
# The mean-teacher step (spec §4.2-4.6)

def ramp(step, rampup_length, exponent=-5.0):
    """ExponentialWarmup's scaling factor f(step)."""
    if rampup_length == 0:
        return 1.0
    phase = 1.0 - min(max(step, 0.0), rampup_length) / rampup_length
    return float(math.exp(exponent * phase * phase))


class MeanTeacher:
    """Student, EMA teacher (a copy of the student), Adam and the recipe's schedules."""

    def __init__(self, student, teacher, max_lr=1e-3, rampup_length=5900, const_max=2.0,
                 ema_factor=0.999):
        self.student, self.teacher = student, teacher
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.max_lr, self.rampup_length = max_lr, rampup_length
        self.const_max, self.ema_factor = const_max, ema_factor
        self.adam = torch.optim.Adam(student.parameters(), lr=max_lr, betas=(0.9, 0.999))
        self.step_num = 1  # the scheduler counter; the first update runs at max_lr (quirk)
        self.bce, self.mse = nn.BCELoss(), nn.MSELoss()

    def step(self, x, labels, composition, y_weak=None):
        """One training step on features x [B, F, T] and labels [B, K, T']; composition =
        [strong, weak, unlabelled] row counts. y_weak [n_weak, K], when given, replaces the weak
        targets derived from labels (the recipe derives them before MixUp, which keeps them soft).
        Returns a dict of the step's numbers."""
        n_strong, n_weak, _ = composition
        k = self.step_num
        self.student.train()
        self.teacher.train()  # the recipe's teacher runs in train mode (spec §4.6)
        strong_s, weak_s = self.student(x)
        y_strong = labels[:n_strong]
        if y_weak is None:
            y_weak = (labels[n_strong:n_strong + n_weak].sum(-1) > 0).to(x.dtype)
        loss_strong = self.bce(strong_s[:n_strong], y_strong)
        loss_weak = self.bce(weak_s[n_strong:n_strong + n_weak], y_weak)
        with torch.no_grad():
            strong_t, weak_t = self.teacher(x)
            teacher_strong = self.bce(strong_t[:n_strong], y_strong)
            teacher_weak = self.bce(weak_t[n_strong:n_strong + n_weak], y_weak)
        weight = self.const_max * ramp(k, self.rampup_length)
        loss_cs = self.mse(strong_s, strong_t)
        loss_cw = self.mse(weak_s, weak_t)
        loss = loss_strong + loss_weak + weight * (loss_cs + loss_cw)
        lr = self.adam.param_groups[0]["lr"]
        # EMA before this step's update (on_before_zero_grad), parameters only.
        alpha = min(1.0 - 1.0 / (k + 1), self.ema_factor)
        with torch.no_grad():
            for t, s in zip(self.teacher.parameters(), self.student.parameters()):
                t.mul_(alpha).add_(s, alpha=1.0 - alpha)
        self.adam.zero_grad()
        loss.backward()
        self.adam.step()
        self.step_num += 1  # scheduler.step(): the next update uses max_lr·f(k+1)
        for group in self.adam.param_groups:
            group["lr"] = self.max_lr * ramp(self.step_num, self.rampup_length)
        return {"step": k, "loss_strong": loss_strong.item(), "loss_weak": loss_weak.item(),
                "loss_cs": loss_cs.item(), "loss_cw": loss_cw.item(), "weight": weight,
                "loss": loss.item(), "lr": lr, "alpha": alpha,
                "teacher_loss_strong": teacher_strong.item(),
                "teacher_loss_weak": teacher_weak.item()}


def state_dict_numpy(model):
    """state_dict as numpy arrays (float32 / int64)."""
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}
