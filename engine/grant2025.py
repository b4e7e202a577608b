"""The paper's own protocol on the synthetic task, as its public code ran it (``--protocol grant2025``).

Grant, Han, Tartaglini & Potts, "Addressing divergent representations from causal interventions on neural
networks" (arXiv 2511.04638). Read from grantsrb/rep_divergence: ``divergence/clloss_synthetic_task.ipynb``
(cells "Generate Initial Data", ``prep_data``, ``train_classifier``, ``get_cl_vectors``, ``get_cl_loss``,
``train_rotation``, ``test_rotation`` and the "Task Exploration" loop that wrote
``divergence/csvs/cl_synthetic_ood.csv``), ``toytask_utils.make_tasks`` and
``divergence_utils.SymmetricDefiniteMatrix``. Where the paper's text and the code differ, this follows the
code, which produced the published numbers:

- **Data.** 100 draws of each of the 10 classes, (x + 0.2·y, y) + N(0, 0.1²), centred by the mean, drawn
  *once for all seeds* (here from ``data_seed``). Each task gets 16 fresh N(0, 1) dimensions per seed (the
  two tasks of a partition draw theirs separately, even for the classes they share).
- **Interventions swap x only** (mask = rotated dim 0). For each class c = (x_c, y_c) of a task, 100 pairs:
  the source is a random sample of the task with x = x_c, the base one with y = y_c; the target is c. So the
  source's y and the base's x are random: 800 interventions on og_holdouts, 400 on inner_square.
- **Probe.** BatchNorm(18) → Linear(18, 128) → ReLU → Dropout(0.5) → BatchNorm(128) → Linear(128, classes),
  Adam lr 0.01, weight decay 0.005, batch 200 (the last partial batch dropped), ≤ 1000 epochs, trained on the
  interventions' *source vectors*: the first 80 % in order for training, the last 20 % for validation (no
  shuffling, so on og_holdouts validation holds only task 2's last classes). The training accuracy is read
  in train mode (dropout on, BatchNorm updating its running statistics). Kept: the epoch with the best
  validation accuracy (ties: a better training accuracy). Its patience counter counts every epoch whose
  validation loss did not fall and is never reset (stop at 100). og_holdouts trains one 10-class probe on
  both tasks' data (task 1's first); inner_square trains one 4-class probe per task, and a map trained on
  one task is scored on the other with the other task's probe.
- **Map.** The general linear map W = (A Aᵀ + 0.1·I)·diag(s̃), s̃ = tanh(s) + 0.1·sign(tanh(s)), A ~ N(0, 1/D),
  **s ~ N(0, 0.01²)** (``SymmetricDefiniteMatrix``), W⁻¹ by ``torch.linalg.inv``, float32.
- **Training.** Full batch, Adam lr 0.01; loss = CE (DAS), 100·L_CL (CL) or CE + 100·L_CL (DAS+CL). L_CL
  (``cl_1d``): a random half of the interventions is assigned to x, the other half to y; the target of each is
  the mean of that half's *source vectors* whose value of the assigned variable equals the intervention's
  target value; both sides projected onto the variable's rotated dim, target detached; mse + (1 − cos).
  ``n_epochs`` is 3000 but the early-stopping counter increments on every epoch and is never reset, so
  training always stops after epoch ``patience`` = 600: 601 updates.
- **Checkpoint.** DAS: the first epoch with the best training accuracy; CL and DAS+CL: the epoch with the
  lowest training divergence (the paper's measure, intervened vs the interventions' sources, causal dims),
  ties to a training accuracy at least as good; no accuracy guard, so epoch 0 is eligible. Metrics are read
  before each update but the snapshot is taken after it: the kept map is one update past the scored one.
- **Evaluation.** A map trained on one task is scored on the *other* task's intervention set (the one that
  task's map was trained on) with that task's probe: IIA = argmax equals the target class; divergence = the
  paper's measure (:mod:`engine.paper_estimator`) between the intervened vectors and the sources, both on the
  causal coordinates.

Measured differences from the paper's run are a result, not something to tune away: record them with this
protocol named. The engine's own protocol stays the default (:mod:`engine.protocol`).
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from engine.synthetic import DIM, N_CAUSAL, PARTITIONS, X_VALUES, Y_VALUES, ProbedMLP, freeze

PROTOCOL = "grant2025"
NOISE_DIMS = DIM - N_CAUSAL
CL_WEIGHT = 100.0
SIGN_INIT_STD = 0.01


def derive(*parts: int) -> int:
    """A 31-bit seed from a tuple of ints."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0] & 0x7FFFFFFF)


@dataclass(frozen=True)
class Samples:
    """The causal draws shared by every seed: causal (n, 2) float32 centred; x, y (n,) ints; repeat-major order
    (for each repeat the 10 classes with x = −1 first, y ascending), as the paper's array."""

    causal: np.ndarray
    x: np.ndarray
    y: np.ndarray


def draw_samples(samples_per_class: int = 100, data_seed: int = 0) -> Samples:
    rng = np.random.default_rng(np.random.SeedSequence([data_seed, 2025]))
    classes = np.array([(x, y) for x in X_VALUES for y in Y_VALUES], dtype=float)
    rows = []
    for _ in range(samples_per_class):
        s = classes.copy()
        s[:, 0] += 0.2 * s[:, 1]
        rows.append(s + 0.1 * rng.standard_normal(s.shape))
    causal = np.vstack(rows)
    causal -= causal.mean(0)
    reps = np.tile(classes, (samples_per_class, 1))
    return Samples(causal.astype(np.float32), reps[:, 0].astype(int), reps[:, 1].astype(int))


@dataclass
class TaskSet:
    """One task's interventions (n = 100 per class). trg (base), src (n, 18) float32; target (n,) class labels
    in the evaluating probe's class order; classes: that order as (x, y) pairs; src_xy, target_xy (n, 2) ints;
    natives (m, 18) and natives_xy (m, 2): the task's native samples (for references and floors)."""

    trg: torch.Tensor
    src: torch.Tensor
    target: torch.Tensor
    target_xy: np.ndarray
    src_xy: np.ndarray
    base_label: torch.Tensor
    classes: list[tuple[int, int]]
    natives: torch.Tensor
    natives_xy: np.ndarray

    def __len__(self) -> int:
        return len(self.target)


def _task_natives(samples: Samples, y_values: tuple[int, ...], gen: torch.Generator):
    keep = np.isin(samples.y, y_values)
    causal = torch.from_numpy(samples.causal[keep])
    noise = torch.randn(int(keep.sum()), NOISE_DIMS, generator=gen)
    xy = np.stack([samples.x[keep], samples.y[keep]], 1)
    return torch.cat([causal, noise], 1), xy


def _appearance_order(xy: np.ndarray, start: list[tuple[int, int]] | None = None) -> list[tuple[int, int]]:
    order = list(start or [])
    for pair in map(tuple, xy.tolist()):
        if pair not in order:
            order.append(pair)
    return order


def make_task_sets(samples: Samples, partition: str, seed: int, per_class: int = 100) -> dict[str, TaskSet]:
    """Both tasks' intervention sets for one seed (the paper's ``prep_data`` with ``n_samples_per_class``)."""
    tasks = PARTITIONS[partition]
    combined = partition != "inner_square"  # the paper's combine_classifiers: False for inner_square only
    out: dict[str, TaskSet] = {}
    shared_order: list[tuple[int, int]] | None = None
    for t_index, (name, y_values) in enumerate(tasks.items(), start=1):
        gen = torch.Generator().manual_seed(derive(seed, 11, t_index))
        natives, xy = _task_natives(samples, y_values, gen)
        order = _appearance_order(xy, shared_order if combined else None)
        if combined:
            shared_order = order
        own = set(map(tuple, xy.tolist()))
        rng = np.random.default_rng(derive(seed, 12, t_index))
        src_idx, trg_idx, tgt = [], [], []
        for c in order:
            if c not in own:
                continue
            with_x = np.nonzero(xy[:, 0] == c[0])[0]
            with_y = np.nonzero(xy[:, 1] == c[1])[0]
            for _ in range(per_class):
                src_idx.append(with_x[rng.integers(len(with_x))])
                trg_idx.append(with_y[rng.integers(len(with_y))])
                tgt.append(c)
        src_idx, trg_idx = np.array(src_idx), np.array(trg_idx)
        target_xy = np.array(tgt)
        out[name] = TaskSet(
            trg=natives[trg_idx], src=natives[src_idx], target=torch.tensor([order.index(c) for c in tgt]),
            target_xy=target_xy, src_xy=xy[src_idx],
            base_label=torch.tensor([order.index(tuple(p)) for p in xy[trg_idx].tolist()]),
            classes=order, natives=natives, natives_xy=xy)
    if combined:  # one probe for both tasks: every label in the final shared order
        for ts in out.values():
            ts.classes = shared_order
    return out


# ---- the probe ------------------------------------------------------------------------------------------
@dataclass
class ProbeInfo:
    epochs: int
    best_epoch: int
    train_accuracy: float
    val_accuracy: float


def train_probe(vecs: torch.Tensor, labels: torch.Tensor, n_classes: int, seed: int, max_epochs: int = 1000,
                patience: int = 100, lr: float = 0.01, weight_decay: float = 0.005,
                batch_size: int = 200) -> tuple[nn.Module, ProbeInfo]:
    """The paper's ``train_classifier`` (see the module docstring for its checkpoint and patience rules)."""
    torch.manual_seed(derive(seed, 13, n_classes))
    gen = torch.Generator().manual_seed(derive(seed, 14, n_classes))
    n_train = int(len(vecs) * 0.8)
    x_tr, y_tr, x_va, y_va = vecs[:n_train], labels[:n_train], vecs[n_train:], labels[n_train:]
    model = ProbedMLP(n_classes=n_classes)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    best = None
    best_val, best_train, best_epoch = 0.0, 0.0, 0
    prev_loss, bad = float("inf"), 0
    epoch = 0
    for epoch in range(max_epochs):
        model.train()
        perm = torch.randperm(n_train, generator=gen)
        for b in range(0, max(n_train - batch_size + 1, 1), batch_size):
            idx = perm[b:b + batch_size]
            opt.zero_grad()
            nn.functional.cross_entropy(model(x_tr[idx]), y_tr[idx]).backward()
            opt.step()
        with torch.no_grad():
            train_acc = float((model(x_tr).argmax(-1) == y_tr).float().mean())  # train mode, as the paper
            model.eval()
            logits = model(x_va)
            val_acc = float((logits.argmax(-1) == y_va).float().mean())
            val_loss = float(nn.functional.cross_entropy(logits, y_va))
        if val_acc > best_val or (val_acc >= best_val and train_acc > best_train):
            best_val, best_train, best_epoch = val_acc, train_acc, epoch
            best = copy.deepcopy(model.state_dict())
        if val_loss >= prev_loss:
            bad += 1  # never reset, as in the paper's code
            if bad >= patience:
                break
        prev_loss = val_loss
    model.load_state_dict(best)
    return freeze(model), ProbeInfo(epoch + 1, best_epoch, best_train, best_val)


def train_probes(sets: dict[str, TaskSet], seed: int, max_epochs: int = 1000, patience: int = 100):
    """{task: (state_dict, n_classes, ProbeInfo)}: one probe shared by both tasks, or one per task."""
    names = list(sets)
    first = sets[names[0]]
    if first.classes == sets[names[1]].classes:  # combined
        vecs = torch.cat([sets[n].src for n in names])
        labels = torch.cat([torch.tensor([first.classes.index(tuple(p)) for p in sets[n].src_xy.tolist()])
                            for n in names])
        model, info = train_probe(vecs, labels, len(first.classes), seed, max_epochs, patience)
        return {n: (model.state_dict(), len(first.classes), info) for n in names}
    out = {}
    for n in names:
        ts = sets[n]
        labels = torch.tensor([ts.classes.index(tuple(p)) for p in ts.src_xy.tolist()])
        model, info = train_probe(ts.src, labels, len(ts.classes), derive(seed, names.index(n)), max_epochs,
                                  patience)
        out[n] = (model.state_dict(), len(ts.classes), info)
    return out


def load_probe(state: dict, n_classes: int) -> nn.Module:
    model = ProbedMLP(n_classes=n_classes)
    model.load_state_dict(state)
    return freeze(model)


# ---- the map and its training ---------------------------------------------------------------------------
def paper_linear_map(seed: int):
    """The paper's SymmetricDefiniteMatrix: A ~ N(0, 1/D), s ~ N(0, 0.01²)."""
    from engine.interventions import LinearMap

    gen = torch.Generator().manual_seed(seed)
    m = LinearMap(DIM, generator=gen)
    with torch.no_grad():
        m.s.copy_(SIGN_INIT_STD * torch.randn(DIM, generator=gen))
    return m


def cl_targets(ts: TaskSet, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The paper's cl_1d targets: (targets (n, 18), variable (n,) 0 = x, 1 = y) — see the module docstring."""
    n = len(ts)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    variable = torch.zeros(n, dtype=torch.long)
    variable[perm[n // 2:]] = 1
    targets = torch.empty_like(ts.src)
    for v, rows in ((0, perm[:n // 2]), (1, perm[n // 2:])):
        src_vals = ts.src_xy[rows.numpy(), v]
        src_vecs = ts.src[rows]
        for value in np.unique(ts.target_xy[rows.numpy(), v]):
            pool = src_vals == value
            if not pool.any():
                raise ValueError(f"No source vector with {'xy'[v]} = {value} in the CL half; cannot form its target.")
            targets[rows[ts.target_xy[rows.numpy(), v] == value]] = src_vecs[torch.from_numpy(pool)].mean(0)
    return targets, variable


@dataclass
class PaperTraining:
    align_map: object
    epochs: int
    chosen_epoch: int
    chosen_train_iia: float
    chosen_train_divergence: float | None
    seconds: float


def train_map(probe: nn.Module, ts: TaskSet, loss: str, map_seed: int, cl_seed: int, lr: float = 0.01,
              n_epochs: int = 3000, patience: int = 600, cl_weight: float = CL_WEIGHT) -> PaperTraining:
    """The paper's ``train_rotation`` on one task's interventions; returns the kept map (see the docstring)."""
    from engine.interventions import swap, variable_mask
    from engine.losses import cl_loss
    from engine.paper_estimator import paper_divergence_fast

    start = time.perf_counter()
    align_map = paper_linear_map(map_seed)
    opt = torch.optim.Adam(align_map.parameters(), lr=lr)
    n = len(ts)
    swap_mask = variable_mask(torch.zeros(n, dtype=torch.long), DIM, 1)
    cl_target, cl_variable = cl_targets(ts, cl_seed)
    cl_mask = variable_mask(cl_variable, DIM, 1)
    src_causal = ts.src[:, :N_CAUSAL].contiguous()
    by_divergence = loss != "das"
    best_acc, best_acc_state, best_acc_epoch = 0.0, None, 0
    best_div, best_div_acc, best_div_state, best_div_epoch = float("inf"), 0.0, None, 0
    epoch = 0
    for epoch in range(n_epochs):
        w, w_inv = align_map.matrices()
        h = swap(ts.trg, ts.src, swap_mask, w, w_inv)
        logits = probe(h)
        with torch.no_grad():
            acc = float((logits.argmax(-1) == ts.target).float().mean())
            div = paper_divergence_fast(h.detach()[:, :N_CAUSAL].contiguous(), src_causal) if by_divergence else None
        total = 0.0
        if loss in ("das", "das+cl"):
            total = nn.functional.cross_entropy(logits, ts.target)
        if loss in ("cl", "das+cl"):
            total = total + cl_weight * cl_loss(h, cl_target, cl_mask, w, w_inv)
        opt.zero_grad()
        total.backward()
        opt.step()
        # the snapshot is taken after the update, as the paper's deepcopy follows optim.step()
        if acc > best_acc:
            best_acc, best_acc_epoch = acc, epoch
            best_acc_state = copy.deepcopy(align_map.state_dict())
        if by_divergence and (div < best_div or (div <= best_div and acc >= best_div_acc)):
            best_div, best_div_acc, best_div_epoch = div, acc, epoch
            best_div_state = copy.deepcopy(align_map.state_dict())
        if epoch + 1 > patience:  # the paper's counter: +1 every epoch, never reset
            break
    if by_divergence:
        align_map.load_state_dict(best_div_state)
        chosen, chosen_acc, chosen_div = best_div_epoch, best_div_acc, best_div
    else:
        if best_acc_state is None:
            raise RuntimeError("DAS never reached a training accuracy above 0; no checkpoint to keep.")
        align_map.load_state_dict(best_acc_state)
        chosen, chosen_acc, chosen_div = best_acc_epoch, best_acc, None
    return PaperTraining(align_map, epoch + 1, chosen, chosen_acc, chosen_div,
                         round(time.perf_counter() - start, 3))


def intervene(align_map, ts: TaskSet) -> torch.Tensor:
    """The paper's interchange with the kept map on a task's set: (n, 18)."""
    from engine.interventions import swap, variable_mask

    with torch.no_grad():
        w, w_inv = align_map.matrices()
        return swap(ts.trg, ts.src, variable_mask(torch.zeros(len(ts), dtype=torch.long), DIM, 1), w, w_inv)
