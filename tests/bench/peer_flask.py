#!/usr/bin/python3
"""Python peer for `make bench`: the prediction service one would write with
Flask and PyTorch, served by gunicorn.

    PEER_MODEL=model.mlp OPENBLAS_NUM_THREADS=1 \\
        /usr/bin/python3 -m gunicorn --workers 2 --worker-class gthread --threads 1 \\
        --bind 127.0.0.1:PORT --chdir tests/bench peer_flask:app

POST /predict with {"input": [n numbers]} answers
{"model": 1, "predictions": [{"label": L, "probabilities": [...]}]}, like
mlpd's POST /predict for one vector. The network is the mlpd model file
named by PEER_MODEL (docs/model-format.md), loaded into torch.nn.Linear
layers, so both services compute the same thing. One torch thread per
worker: the two gunicorn workers are the parallelism, as mlpd's two HTTP
threads are. gthread workers are used because gunicorn's default sync
workers close the connection after each request, and the bench measures
keep-alive connections.
"""
import os
import struct
import zlib

import numpy as np
import torch
from flask import Flask, abort, jsonify, request

ACTIVATIONS = {0: torch.nn.ReLU, 1: torch.nn.Sigmoid, 2: torch.nn.Tanh,
               3: lambda: torch.nn.Softmax(dim=1), 4: torch.nn.Identity}


def load_mlpd_model(path):
    """torch.nn.Sequential equal to the mlpd model file at path."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"MLPD":
        raise ValueError(path + ": not an mlpd model file")
    version, n_layers, _loss = struct.unpack_from("<III", data, 4)
    if version != 1:
        raise ValueError("%s: unsupported version %d" % (path, version))
    sizes = struct.unpack_from("<%dI" % (n_layers + 1), data, 16)
    acts = struct.unpack_from("<%dI" % n_layers, data, 20 + 4 * n_layers)
    (n_params,) = struct.unpack_from("<Q", data, 20 + 8 * n_layers)
    start = 28 + 8 * n_layers
    end = start + 4 * n_params
    if len(data) != end + 4 or zlib.crc32(data[:end]) != struct.unpack_from("<I", data, end)[0]:
        raise ValueError(path + ": truncated or bad checksum")
    params = np.frombuffer(data, dtype="<f4", count=n_params, offset=start)
    layers, i = [], 0
    for l in range(n_layers):
        n_in, n_out = sizes[l], sizes[l + 1]
        lin = torch.nn.Linear(n_in, n_out)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(params[i:i + n_in * n_out].reshape(n_out, n_in).copy()))
            i += n_in * n_out
            lin.bias.copy_(torch.from_numpy(params[i:i + n_out].copy()))
            i += n_out
        layers += [lin, ACTIVATIONS[acts[l]]()]
    return torch.nn.Sequential(*layers).eval(), sizes[0]


torch.set_num_threads(1)
net, n_inputs = load_mlpd_model(os.environ["PEER_MODEL"])
app = Flask(__name__)


@app.post("/predict")
def predict():
    body = request.get_json(silent=True)
    x = body.get("input") if isinstance(body, dict) else None
    if not isinstance(x, list) or len(x) != n_inputs:
        abort(422)
    with torch.no_grad():
        probs = net(torch.tensor([x], dtype=torch.float32))[0]
    return jsonify(model=1, predictions=[{"label": int(torch.argmax(probs)),
                                          "probabilities": probs.tolist()}])
