#!/usr/bin/python3
"""gen_reference.py - PyTorch reference values for mlpd's engine test.

Independent check of engine/*.c in the style of llm.c's test_gpt2.c: small
networks with fixed weights and inputs are run through PyTorch in float64 and
every number the C engine must reproduce is written to a plain-text fixture:
forward outputs, the mean loss, the gradient of every parameter, and the
parameters after 1, 2 and 3 full-batch optimizer steps for SGD, momentum,
Nesterov and Adam, with L1 / L2 penalties. tests/unit/test_engine_reference.c
reads the fixture; it never needs Python.

Regenerate (Debian's torch; the pyenv python3 on PATH has none):
    /usr/bin/python3 tests/reference/gen_reference.py > tests/reference/fixtures/reference.txt

Definitions, chosen to match engine/mlp.h (Keras semantics):
- A dense layer computes y = x W^T + b, W is (out, in) row-major as in
  nn.Linear. The flat parameter layout is W0, b0, W1, b1, ... (model->params).
- cross_entropy: mean over the batch of -log softmax(z)[label].
- mse: mean over the batch of the mean over outputs of (y - onehot(label))^2
  (Keras' MeanSquaredError; equals F.mse_loss with reduction "mean").
- Penalties: l1 * sum|W| + l2 * sum W^2 over weights only, not biases, added
  to the mean batch loss (Keras kernel_regularizer). Added here explicitly to
  the loss before backward(), so their gradients come from autograd.
- SGD, momentum and Nesterov: torch.optim.SGD (dampening 0). With a constant
  learning rate PyTorch's buf = mu*buf + g; w -= lr*buf equals Keras'
  v = mu*v - lr*g; w += v (and likewise for Nesterov), so one reference
  serves both.
- Adam: PyTorch's algorithm (torch.optim.Adam, the one engine/optim.c
  implements), with Keras' default epsilon 1e-7:
      m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
      w -= lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
  Keras (and Kingma & Ba's "epsilon hat" variant) adds eps before the bias
  correction of v instead: w -= alpha m / (sqrt(v) + eps) with
  alpha = lr sqrt(1-b2^t) / (1-b1^t), i.e. PyTorch's rule with eps replaced
  by eps / sqrt(1-b2^t). With eps = 1e-7 the two agree within the test's
  tolerance for these gradients; the run "adam_eps" (eps = 1e-3) tells them
  apart and pins PyTorch's form, the one mlp.h's engine implements.

- AdamW: torch.optim.AdamW (decoupled weight decay w -= lr*wd*w, then Adam).
- label smoothing: F.cross_entropy(..., label_smoothing=s).
- clip_norm: torch.nn.utils.clip_grad_norm_ on every parameter's gradient
  (penalty included) before the step; the run's limit is half the gradient
  norm of the first step, so clipping really happens.
- Learning-rate schedules (engine/mlp.h, mlp_lr_schedule), PyTorch's own
  schedulers: StepLR and ExponentialLR stepped per epoch, CosineAnnealingLR
  stepped per batch (after LinearLR for the warm-up, through SequentialLR),
  ReduceLROnPlateau (threshold_mode "abs", patience one less than Keras',
  which counts the epoch that triggers) stepped per epoch on the epoch loss.
  Every rate is also checked here against the closed forms of mlp.h.
- Runs with bpe=K split each epoch into K equal batches taken in order (no
  shuffling); loss_before / penalty_before are then each epoch's means over
  its batches (what mlp_train reports) and after<t> the parameters after
  epoch t.

Fixture grammar (one token group per line, '#' starts a comment line):
    case NAME                    starts a network
    arch L s0 s1 ... sL          L dense layers, widths
    act a0 ... a(L-1)            activation after each layer
    loss cross_entropy|mse
    batch B
    array NAME COUNT             followed by COUNT lines of one number each:
        x (B*s0), labels (B), params (initial), out (B*sL), loss (1),
        grad (gradient of the mean loss, no penalty, params layout)
    run NAME OPT LR MOMENTUM NESTEROV BETA1 BETA2 EPS L1 L2 [KEY=VALUE ...]
        OPT sgd|momentum|adam|adamw; keys wd (weight decay), ls (label
        smoothing), clip (clip_norm), bpe (batches per epoch, default 1),
        sched (constant|step|exponential|cosine|reduce_on_plateau),
        step_epochs, gamma, min_lr, warmup, factor, patience, min_delta
        then arrays loss_before (3: mean loss, no penalty, before steps 1..3),
        penalty_before (3), lr (3: the rate of each epoch's last batch),
        after1, after2, after3 (params layout)
    end                          closes the case
"""
import math
import sys

import torch

torch.set_default_dtype(torch.float64)

STEPS = 3
RELU_MARGIN = 1e-3  # every ReLU pre-activation stays this far from its kink
MIN_GRAD = 1e-4     # non-zero gradients are this large (Adam's first step is ~sign(g))

ACTS = {
    "relu": torch.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "linear": lambda z: z,
    "softmax": lambda z: torch.softmax(z, dim=1),
}


class BadSeed(Exception):
    """The drawn weights put a ReLU input or a gradient too close to 0."""


def build_params(sizes, gen):
    """Fixed weights: uniform in +-1/sqrt(fan_in) * 1.5, biases uniform +-0.3."""
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.5 / math.sqrt(fan_in)
        w = (torch.rand(fan_out, fan_in, generator=gen) * 2 - 1) * bound
        b = (torch.rand(fan_out, generator=gen) * 2 - 1) * 0.3
        params += [w, b]
    return params


def forward(params, acts, x):
    """Returns (output, list of pre-activations)."""
    h, pre = x, []
    for layer, act in enumerate(acts):
        z = h @ params[2 * layer].T + params[2 * layer + 1]
        pre.append(z)
        h = ACTS[act](z)
    return h, pre


def data_loss(params, acts, loss, x, labels, smoothing=0.0):
    out, pre = forward(params, acts, x)
    if loss == "cross_entropy":
        # acts[-1] is softmax: use the logits for a stable log-softmax.
        value = torch.nn.functional.cross_entropy(pre[-1], labels, label_smoothing=smoothing)
    else:
        target = torch.nn.functional.one_hot(labels, out.shape[1]).to(out.dtype)
        value = torch.mean((out - target) ** 2)
    return value, out, pre


def penalty(params, l1, l2):
    total = torch.zeros(())
    for w in params[0::2]:
        total = total + l1 * w.abs().sum() + l2 * (w * w).sum()
    return total


def flat(tensors):
    return torch.cat([t.detach().reshape(-1) for t in tensors])


def check_relu_margin(name, acts, pre):
    for act, z in zip(acts, pre):
        if act == "relu":
            m = z.abs().min().item()
            if m < RELU_MARGIN:
                raise BadSeed(f"{name}: a ReLU input is {m:g} from 0")


def check_min_grad(name, grad):
    small = grad[(grad != 0) & (grad.abs() < MIN_GRAD)]
    if small.numel():
        raise BadSeed(f"{name}: gradient {small[0].item():g} is too close to 0")


def make_optimizer(run, params):
    opt = run["opt"]
    if opt in ("adam", "adamw"):
        cls = torch.optim.AdamW if opt == "adamw" else torch.optim.Adam
        kw = {"weight_decay": run["x"].get("wd", 0.01)} if opt == "adamw" else {}
        return cls(params, lr=run["lr"], betas=(run["beta1"], run["beta2"]), eps=run["eps"], **kw)
    mu = run["momentum"] if opt == "momentum" else 0.0
    return torch.optim.SGD(params, lr=run["lr"], momentum=mu, nesterov=bool(run["nesterov"]))


def make_scheduler(run, optim, bpe):
    """(scheduler, stepped "batch" or "epoch") for the run's schedule, or (None, None)."""
    x = run["x"]
    kind = x.get("sched", "constant")
    sch = torch.optim.lr_scheduler
    if kind == "step":
        return sch.StepLR(optim, step_size=x["step_epochs"], gamma=x["gamma"]), "epoch"
    if kind == "exponential":
        return sch.ExponentialLR(optim, gamma=x["gamma"]), "epoch"
    if kind == "cosine":
        warm, total = x.get("warmup", 0) * bpe, STEPS * bpe
        cosine = sch.CosineAnnealingLR(optim, T_max=total - warm, eta_min=x.get("min_lr", 0.0))
        if warm == 0:
            return cosine, "batch"
        linear = sch.LinearLR(optim, start_factor=1.0 / warm, end_factor=1.0,
                              total_iters=warm - 1)
        return sch.SequentialLR(optim, [linear, cosine], milestones=[warm]), "batch"
    if kind == "reduce_on_plateau":
        return sch.ReduceLROnPlateau(optim, mode="min", factor=x["factor"],
                                     patience=x["patience"] - 1, threshold=x["min_delta"],
                                     threshold_mode="abs", min_lr=x.get("min_lr", 0.0),
                                     eps=0.0), "plateau"
    return None, None


def closed_form_lr(run, step, bpe, plateau_lr):
    """mlp.h's formula for 0-based batch `step` (checks PyTorch's schedulers)."""
    x, lr = run["x"], run["lr"]
    kind, epoch0 = x.get("sched", "constant"), step // bpe
    if kind == "step":
        return lr * x["gamma"] ** (epoch0 // x["step_epochs"])
    if kind == "exponential":
        return lr * x["gamma"] ** epoch0
    if kind == "cosine":
        warm, total, low = x.get("warmup", 0) * bpe, STEPS * bpe, x.get("min_lr", 0.0)
        if step < warm:
            return lr * (step + 1) / warm
        return low + (lr - low) * (1 + math.cos(math.pi * (step - warm) / (total - warm))) / 2
    if kind == "reduce_on_plateau":
        return plateau_lr
    return lr


def run_steps(case, run, x, labels):
    """Epochs from the case's initial weights; returns the run's arrays."""
    params = [p.clone().requires_grad_(True) for p in case["params"]]
    optim = make_optimizer(run, params)
    bpe = run["x"].get("bpe", 1)
    sched, every = make_scheduler(run, optim, bpe)
    rows = x.shape[0] // bpe
    losses, penalties, rates, after = [], [], [], []
    step = 0
    for t in range(1, STEPS + 1):
        loss_sum = pen_sum = 0.0
        for b in range(bpe):
            xb, yb = x[b * rows:(b + 1) * rows], labels[b * rows:(b + 1) * rows]
            value, _, pre = data_loss(params, case["acts"], case["loss"], xb, yb,
                                      run["x"].get("ls", 0.0))
            check_relu_margin(f"{case['name']}/{run['name']} step {t}", case["acts"], pre)
            pen = penalty(params, run["l1"], run["l2"])
            loss_sum += value.item()
            pen_sum += pen.item()
            for p in params:
                p.grad = None
            (value + pen).backward()
            if t == 1 and b == 0:
                check_min_grad(f"{case['name']}/{run['name']}", flat([p.grad for p in params]))
            if "clip" in run["x"]:
                torch.nn.utils.clip_grad_norm_(params, run["x"]["clip"])
            lr = optim.param_groups[0]["lr"]
            want = closed_form_lr(run, step, bpe, lr)
            if abs(lr - want) > 1e-12 * max(1.0, abs(want)):
                sys.exit(f"{run['name']} step {step}: PyTorch's rate {lr!r}, mlp.h's {want!r}")
            optim.step()
            step += 1
            if every == "batch":
                sched.step()
        losses.append(loss_sum / bpe)
        penalties.append(pen_sum / bpe)
        rates.append(lr)
        if every == "epoch":
            sched.step()
        elif every == "plateau":
            sched.step(losses[-1] + penalties[-1])
        after.append(flat(params))
    return losses, penalties, rates, after


def emit_array(out, name, values):
    values = values.reshape(-1).tolist() if torch.is_tensor(values) else list(values)
    out.append(f"array {name} {len(values)}")
    out.extend(f"{v:.12g}" for v in values)


def make_case(name, sizes, acts, loss, runs, seed, batch=8):
    """The case from the first seed >= `seed` whose values are well-conditioned."""
    for s in range(seed, seed + 100):
        try:
            return make_case_from_seed(name, sizes, acts, loss, runs, s, batch)
        except BadSeed as e:
            print(f"# seed {s} skipped: {e}", file=sys.stderr)
    sys.exit(f"{name}: no usable seed")


def make_case_from_seed(name, sizes, acts, loss, runs, seed, batch):
    gen = torch.Generator().manual_seed(seed)
    case = {"name": name, "sizes": sizes, "acts": acts, "loss": loss}
    case["params"] = build_params(sizes, gen)
    x = torch.rand(batch, sizes[0], generator=gen) * 2 - 1
    labels = torch.arange(batch) % sizes[-1]  # every class present
    labels = labels[torch.randperm(batch, generator=gen)]

    params = [p.clone().requires_grad_(True) for p in case["params"]]
    value, y, pre = data_loss(params, acts, loss, x, labels)
    check_relu_margin(name, acts, pre)
    value.backward()
    grad = flat([p.grad for p in params])
    check_min_grad(name, grad)

    out = [f"# seed {seed}", f"case {name}", f"arch {len(acts)} " + " ".join(map(str, sizes)),
           "act " + " ".join(acts), f"loss {loss}", f"batch {batch}"]
    emit_array(out, "x", x)
    emit_array(out, "labels", labels)
    emit_array(out, "params", flat(case["params"]))
    emit_array(out, "out", y.detach())
    emit_array(out, "loss", [value.item()])
    emit_array(out, "grad", grad)
    for run in runs:
        run = dict(run, x=dict(run["x"]))
        if run["x"].get("clip") == "half":
            first = [p.clone().requires_grad_(True) for p in case["params"]]
            v, _, _ = data_loss(first, acts, loss, x[:batch // run["x"].get("bpe", 1)],
                                labels[:batch // run["x"].get("bpe", 1)], run["x"].get("ls", 0.0))
            (v + penalty(first, run["l1"], run["l2"])).backward()
            norm = flat([p.grad for p in first]).norm().item()
            run["x"]["clip"] = float(f"{norm / 2:.6g}")
        losses, penalties, rates, after = run_steps(case, run, x, labels)
        line = ("run {name} {opt} {lr} {momentum} {nesterov} {beta1} {beta2} {eps} {l1} {l2}"
                .format(**run))
        out.append(" ".join([line] + [f"{k}={v}" for k, v in run["x"].items()]))
        emit_array(out, "loss_before", losses)
        emit_array(out, "penalty_before", penalties)
        emit_array(out, "lr", rates)
        for t, p in enumerate(after, 1):
            emit_array(out, f"after{t}", p)
    out.append("end")
    return out


def run_spec(name, opt, lr, momentum=0.0, nesterov=0, l1=0.0, l2=0.0, eps=1e-7, **extra):
    return {"name": name, "opt": opt, "lr": lr, "momentum": momentum, "nesterov": nesterov,
            "beta1": 0.9, "beta2": 0.999, "eps": eps, "l1": l1, "l2": l2, "x": extra}


def main():
    sgd = run_spec("sgd", "sgd", 0.1)
    mom = run_spec("momentum", "momentum", 0.1, momentum=0.9)
    nag = run_spec("nesterov", "momentum", 0.1, momentum=0.9, nesterov=1)
    adam = run_spec("adam", "adam", 0.01)
    # With gradients >= 1e-4 the placement of eps = 1e-7 changes a step by less
    # than the tolerance; eps = 1e-3 makes PyTorch's and Keras' forms differ
    # by far more, so this run pins which one the engine implements.
    adam_eps = run_spec("adam_eps", "adam", 0.01, eps=1e-3)
    lines = ["# mlpd engine reference fixture: generated by tests/reference/gen_reference.py",
             f"# with PyTorch {torch.__version__} in float64. Do not edit; regenerate."]
    lines += make_case("tanh_relu_softmax_ce", [6, 5, 4, 3], ["tanh", "relu", "softmax"],
                       "cross_entropy",
                       [sgd, mom, nag, adam, adam_eps,
                        run_spec("sgd_l2", "sgd", 0.1, l2=0.01),
                        run_spec("momentum_l1", "momentum", 0.1, momentum=0.9, l1=0.01),
                        run_spec("adam_l1_l2", "adam", 0.01, l1=0.001, l2=0.01),
                        run_spec("adamw", "adamw", 0.01, wd=0.1),
                        run_spec("adamw_l2", "adamw", 0.01, l2=0.01, wd=0.01, bpe=2),
                        run_spec("sgd_smooth", "sgd", 0.1, ls=0.1),
                        run_spec("adam_smooth", "adam", 0.01, ls=0.2, bpe=2),
                        run_spec("momentum_clip", "momentum", 0.1, momentum=0.9, clip="half"),
                        run_spec("adam_clip_l2", "adam", 0.01, l2=0.01, clip="half", bpe=2),
                        run_spec("sgd_step", "sgd", 0.1, bpe=2, sched="step", step_epochs=2,
                                 gamma=0.5),
                        run_spec("momentum_exp", "momentum", 0.1, momentum=0.9,
                                 sched="exponential", gamma=0.7),
                        run_spec("sgd_cosine", "sgd", 0.1, bpe=2, sched="cosine", min_lr=0.01),
                        run_spec("adam_cosine_warmup", "adam", 0.01, bpe=2, sched="cosine",
                                 warmup=1, min_lr=0.001),
                        run_spec("sgd_plateau", "sgd", 0.1, sched="reduce_on_plateau",
                                 factor=0.5, patience=1, min_delta=10.0)],
                       seed=1)
    lines += make_case("sigmoid_mse", [6, 5, 3], ["sigmoid", "sigmoid"], "mse",
                       [sgd, nag, adam, run_spec("sgd_l1_l2", "sgd", 0.5, l1=0.001, l2=0.01)],
                       seed=2)
    lines += make_case("relu_linear_mse", [6, 7, 3], ["relu", "linear"], "mse",
                       [sgd, mom, adam, adam_eps, run_spec("adamw", "adamw", 0.01, wd=0.1),
                        run_spec("nesterov_clip_cosine", "momentum", 0.1, momentum=0.9,
                                 nesterov=1, clip="half", sched="cosine", warmup=1, bpe=2)],
                       seed=3)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
