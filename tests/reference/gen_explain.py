#!/usr/bin/python3
"""gen_explain.py - PyTorch autograd reference values for mlpd's attributions.

The counterpart of gen_reference.py for engine/explain.c: small networks with
fixed weights and inputs, and what PyTorch (float64) computes for every
attribution method of engine/mlp.h (mlp_explain), for both explained outputs.
tests/unit/test_engine_explain.c reads the fixture; it never needs Python.

Regenerate (Debian's torch; the pyenv python3 on PATH has none):
    /usr/bin/python3 tests/reference/gen_explain.py > tests/reference/fixtures/explain.txt

Definitions, as engine/mlp.h states them (f = the explained number of a row
for its target class t; g(p) = d f / d input at the point p):
- output "probability": f = softmax(z)[t], z the output layer's
  pre-activation (softmax output layers only); "logit": f = z[t].
- target -1 means the predicted class: argmax of the output (first on ties).
- saliency: g(x).  gradient_x_input: x * g(x).
- integrated_gradients: (x - b) * mean_k g(b + a_k (x - b)),
  a_k = (k + 1/2) / n_steps (midpoint Riemann sum); convergence delta =
  sum(attributions) - (f(x) - f(b)). Baseline b: zeros, or the given vector.
- smoothgrad: mean over `samples` draws of g(x + noise * e), e one N(0, 1)
  number per feature from the engine's generator (rng.c: xoshiro256** seeded
  through splitmix64, Box-Muller on two 53-bit uniforms, the cosine variate,
  rounded to float32), drawn row by row, sample by sample, feature by feature.
  The generator is reproduced below bit for bit so the noisy points agree.

Fixture grammar ('#' starts a comment line):
    case NAME / arch L s0 .. sL / act a0 .. / loss L / batch B
    array NAME COUNT             then COUNT numbers, one a line: x (B*s0), params
    explain METHOD OUTPUT N_STEPS SAMPLES NOISE SEED BASELINE   (BASELINE zeros|given)
        then arrays targets_in (B; -1 = predicted), targets (B, resolved),
        baseline (s0, only when given), attr (B*s0), delta (B; 0 but for IG)
    end                          closes the case
"""
import math
import struct
import sys

import torch

torch.set_default_dtype(torch.float64)

RELU_MARGIN = 1e-3  # every ReLU pre-activation at every point stays this far from its kink
M64 = (1 << 64) - 1

ACTS = {
    "relu": torch.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "linear": lambda z: z,
    "softmax": lambda z: torch.softmax(z, dim=-1),
}


class BadSeed(Exception):
    """The drawn weights put a ReLU input too close to 0 at some point."""


def f32(v):
    return struct.unpack("f", struct.pack("f", v))[0]


class Rng:
    """engine/rng.c, bit for bit."""

    def __init__(self, seed):
        x, self.s = seed, []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & M64
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            self.s.append(z ^ (z >> 31))

    @staticmethod
    def rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & M64

    def next(self):
        s = self.s
        result = (self.rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self.rotl(s[3], 45)
        return result

    def normal(self):
        u1 = ((self.next() >> 11) + 1.0) * (1.0 / 9007199254740992.0)
        u2 = (self.next() >> 11) * (1.0 / 9007199254740992.0)
        return f32(math.sqrt(-2.0 * math.log(u1)) * math.cos(6.283185307179586476925 * u2))


def build_params(sizes, gen):
    """Fixed weights: uniform in +-1.5/sqrt(fan_in), biases uniform +-0.3."""
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.5 / math.sqrt(fan_in)
        params.append((torch.rand(fan_out, fan_in, generator=gen) * 2 - 1) * bound)
        params.append((torch.rand(fan_out, generator=gen) * 2 - 1) * 0.3)
    return params


def forward(params, acts, x):
    """(output activation, logits) of one point x (s0,); checks the ReLU margin."""
    h, z = x, None
    for layer, act in enumerate(acts):
        z = h @ params[2 * layer].T + params[2 * layer + 1]
        if act == "relu" and z.detach().abs().min().item() < RELU_MARGIN:
            raise BadSeed(f"ReLU input {z.detach().abs().min().item():g} from 0")
        h = ACTS[act](z)
    return h, z


def f_and_grad(params, acts, output, point, t):
    p = point.clone().requires_grad_(True)
    out, z = forward(params, acts, p)
    f = out[t] if output == "probability" else z[t]
    f.backward()
    return f.item(), p.grad.detach()


def explain_row(params, acts, spec, x, t, baseline, rng):
    method, output = spec["method"], spec["output"]
    if method in ("saliency", "gradient_x_input"):
        _, g = f_and_grad(params, acts, output, x, t)
        return (g if method == "saliency" else x * g), 0.0
    if method == "integrated_gradients":
        n = spec["n_steps"]
        total = torch.zeros_like(x)
        for k in range(n):
            alpha = (k + 0.5) / n
            total += f_and_grad(params, acts, output, baseline + alpha * (x - baseline), t)[1]
        attr = (x - baseline) * total / n
        fx = f_and_grad(params, acts, output, x, t)[0]
        fb = f_and_grad(params, acts, output, baseline, t)[0]
        return attr, attr.sum().item() - (fx - fb)
    total = torch.zeros_like(x)
    for _ in range(spec["samples"]):
        noise = torch.tensor([rng.normal() for _ in range(x.numel())])
        total += f_and_grad(params, acts, output, x + f32(spec["noise"]) * noise, t)[1]
    return total / spec["samples"], 0.0


def emit_array(out, name, values):
    values = values.reshape(-1).tolist() if torch.is_tensor(values) else list(values)
    out.append(f"array {name} {len(values)}")
    out.extend(f"{v:.12g}" for v in values)


def make_case_from_seed(name, sizes, acts, loss, specs, targets_in, seed):
    gen = torch.Generator().manual_seed(seed)
    params = build_params(sizes, gen)
    batch = len(targets_in)
    x = torch.rand(batch, sizes[0], generator=gen)  # 0..1, like scaled pixels
    given = torch.rand(sizes[0], generator=gen) * 0.5
    out = [f"# seed {seed}", f"case {name}", f"arch {len(acts)} " + " ".join(map(str, sizes)),
           "act " + " ".join(acts), f"loss {loss}", f"batch {batch}"]
    emit_array(out, "x", x)
    emit_array(out, "params", torch.cat([p.reshape(-1) for p in params]))
    for spec in specs:
        baseline = given if spec["baseline"] == "given" else torch.zeros(sizes[0])
        rng = Rng(spec["seed"])
        targets, attrs, deltas = [], [], []
        for r in range(batch):
            t = targets_in[r]
            if t < 0:
                t = int(torch.argmax(forward(params, acts, x[r])[0]).item())
            targets.append(t)
            attr, delta = explain_row(params, acts, spec, x[r], t, baseline, rng)
            attrs.append(attr)
            deltas.append(delta)
        out.append("explain {method} {output} {n_steps} {samples} {noise} {seed} {baseline}"
                   .format(**spec))
        emit_array(out, "targets_in", targets_in)
        emit_array(out, "targets", targets)
        if spec["baseline"] == "given":
            emit_array(out, "baseline", given)
        emit_array(out, "attr", torch.stack(attrs))
        emit_array(out, "delta", deltas)
    out.append("end")
    return out


def make_case(name, sizes, acts, loss, specs, targets_in, seed):
    """The case from the first seed >= `seed` whose ReLU inputs stay off their kinks."""
    for s in range(seed, seed + 200):
        try:
            return make_case_from_seed(name, sizes, acts, loss, specs, targets_in, s)
        except BadSeed as e:
            print(f"# {name}: seed {s} skipped: {e}", file=sys.stderr)
    sys.exit(f"{name}: no usable seed")


def spec(method, output, n_steps=50, samples=50, noise=0.15, seed=0, baseline="zeros"):
    return {"method": method, "output": output, "n_steps": n_steps, "samples": samples,
            "noise": noise, "seed": seed, "baseline": baseline}


def main():
    both = []
    for output in ("probability", "logit"):
        both += [spec("saliency", output), spec("gradient_x_input", output),
                 spec("integrated_gradients", output, n_steps=8),
                 spec("integrated_gradients", output, n_steps=50, baseline="given"),
                 spec("smoothgrad", output, samples=6, noise=0.1, seed=7)]
    logit_only = [spec("saliency", "logit"), spec("gradient_x_input", "logit"),
                  spec("integrated_gradients", "logit", n_steps=20),
                  spec("integrated_gradients", "logit", n_steps=5, baseline="given"),
                  spec("smoothgrad", "logit", samples=4, noise=0.05, seed=3)]
    lines = ["# mlpd attribution reference fixture: generated by tests/reference/gen_explain.py",
             f"# with PyTorch {torch.__version__} in float64. Do not edit; regenerate."]
    lines += make_case("tanh_relu_softmax", [6, 5, 4, 3], ["tanh", "relu", "softmax"],
                       "cross_entropy", both, [-1, 2, -1, 0], seed=1)
    lines += make_case("sigmoid_tanh_softmax", [5, 4, 4], ["sigmoid", "softmax"],
                       "cross_entropy", both, [1, -1, 3, -1, 0], seed=11)
    lines += make_case("relu_linear_mse", [6, 7, 3], ["relu", "linear"], "mse", logit_only,
                       [-1, 1, -1], seed=21)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
