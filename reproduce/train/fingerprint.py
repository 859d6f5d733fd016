"""Digests that key checkpoints and records: of a config, of a tensor, and of the code that trains."""
from __future__ import annotations

import ast
import hashlib
import json
from pathlib import Path

import torch

def code_digest(sources) -> str:
    """A digest of Python sources' code, blind to their comments, docstrings and layout: a change to what the code
    does changes it, a corrected docstring does not (which once cost a run's hours of checkpoints). The AST dump
    depends on the Python version, so checkpoints resume only under the Python that wrote them."""
    h = hashlib.sha256()
    for src in sources:
        tree = ast.parse(src)
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body \
                    and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
        h.update(ast.dump(tree).encode())
    return h.hexdigest()[:12]


# Checkpoints are keyed by the code that trains, too: a change to the core or the loss never resumes an old run.
_TRAINING_CODE = ("config.py", "data.py", "mlp.py", "trainer.py", "loss.py", "gemm.py", "precision.py")
CODE_DIGEST = code_digest((Path(__file__).parent / f).read_text() for f in _TRAINING_CODE)


def config_fingerprint(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def tensor_digest(t: torch.Tensor | None) -> str | None:
    if t is None:
        return None
    # the array's own buffer, not a bytes copy of it: the speech soft targets are gigabytes
    return hashlib.sha256(memoryview(t.detach().cpu().contiguous().numpy()).cast("B")).hexdigest()[:16]
