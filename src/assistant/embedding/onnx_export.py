"""Writes the ONNX files of the packaged model: an fp32 export of its encoder, and an int8 copy of that export.

This is the one step of the ONNX backends that needs torch, transformers and onnx, so `onnx_files` runs it in a
child process (`python -m assistant.embedding.onnx_export fp32|int8 SOURCE OUT`): the process that serves never
loads them.

sentence-transformers' own ONNX export (through `optimum`) cannot be installed beside this project's transformers
(optimum-onnx wants transformers<4.58) and its fork failed to export here, so the encoder is traced with
`torch.onnx.export` directly. Pooling and normalisation stay outside the graph (numpy, in `onnx_embeddings`), as
sentence-transformers does them: the file has the same inputs and output as the one `optimum` writes.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT = "last_hidden_state"
OPSET = 17


def export_fp32(model_dir: Path, out: Path) -> None:
    """Write the model's transformer (token vectors out, no pooling) as an ONNX graph with dynamic batch and length."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from transformers import AutoModel

    # eager attention: the SDPA path traces into a graph that ignores the padding mask for some shapes
    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True, attn_implementation="eager").eval()

    class Encoder(torch.nn.Module):
        def __init__(self, bert: torch.nn.Module):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: D102 - torch's own hook
            output = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return output.last_hidden_state

    # the example batch holds a padded row: with a mask of all ones the tracer may drop the masking altogether
    ids = torch.tensor([[101, 2054, 2003, 1037, 3231, 102], [101, 7592, 102, 0, 0, 0]], dtype=torch.long)
    example = (ids, (ids != 0).long(), torch.zeros_like(ids))
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice and tracer warnings
        torch.onnx.export(
            Encoder(model),
            example,
            str(out),
            input_names=list(INPUTS),
            output_names=[OUTPUT],
            dynamic_axes={name: {0: "batch", 1: "sequence"} for name in (*INPUTS, OUTPUT)},
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def quantize_int8(fp32: Path, out: Path) -> None:
    """Write an int8 copy of the fp32 graph: dynamic quantisation, symmetric int8 weights per channel."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.registry import IntegerOpsRegistry

    # per channel: one scale for all of a matrix moved the vectors much further (mean cosine 0.956 instead of 0.994)
    logging.getLogger().setLevel(logging.ERROR)  # the quantiser's pre-processing advice goes to the root logger
    quantize_dynamic(
        str(fp32),
        str(out),
        per_channel=True,
        reduce_range=False,
        weight_type=QuantType.QInt8,
        op_types_to_quantize=list(IntegerOpsRegistry.keys()),
        extra_options={
            "WeightSymmetric": True,
            "ActivationSymmetric": False,
            "DefaultTensorType": onnx.TensorProto.FLOAT,
        },
    )


def main(argv: list[str]) -> int:
    """Command line of the child process: `fp32 MODEL_DIR OUT` or `int8 FP32_FILE OUT`; exit status 2 on misuse."""
    if len(argv) != 3 or argv[0] not in ("fp32", "int8"):
        print("usage: python -m assistant.embedding.onnx_export fp32|int8 SOURCE OUT", file=sys.stderr)
        return 2
    variant, source, out = argv[0], Path(argv[1]), Path(argv[2])
    (export_fp32 if variant == "fp32" else quantize_int8)(source, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
