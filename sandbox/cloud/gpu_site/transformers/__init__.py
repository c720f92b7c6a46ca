"""Stand-in `transformers` of a sandbox machine: loads "the model" the install put in a folder onto the
stand-in GPU and answers a prompt with a fixed text, at the pace that card would generate.

The sandbox's model files are not a real model (they are random bytes of the mirror's sizes): loading only
checks the folder holds a model's files (config.json) and takes the time reading them would; generation
takes, per token, the time reading the model's weights once takes at the card's memory bandwidth (decoding
is bound by memory), the first token twice that. Words stand for tokens. A `mute` machine's model ends its
answer at once (its first token is the end of the text).

torch is imported only when a model or tensors are asked for, as the real package does, so that a machine
with transformers but without torch imports this one.
"""
import importlib
import os
import time

_gpu = importlib.import_module("_standin_gpu")
_spec = _gpu.require("transformers")
__version__ = _spec.get("transformers", "4.46.3")

ANSWER = ("Paris. It is the capital and the most populous city of France, on the Seine, and one of the "
          "great centres of finance, diplomacy, commerce, culture, fashion and gastronomy in Europe and the "
          "world, home to the Louvre and the Eiffel Tower.").split(" ")
EOS = 0
FIRST_WORD = 10          # token ids of the answer's words start here; the prompt's at 1000
LOAD_BYTES_PER_SECOND = 3e9


def _torch():
    return importlib.import_module("torch")


def _model_files(path):
    if not os.path.isfile(os.path.join(str(path), "config.json")):
        raise OSError("{} does not appear to have a file named config.json. Checkout "
                      "'https://huggingface.co/{}/tree/main' for available files.".format(path, path))
    total = 0
    for folder, dirs, files in os.walk(str(path)):
        dirs[:] = [d for d in dirs if d != ".cache"]
        total += sum(os.path.getsize(os.path.join(folder, f)) for f in files if f != "manifest.sha256")
    return total * float(_spec.get("size_scale") or 1.0)       # nominal bytes


class BatchEncoding(dict):
    def to(self, device):
        return BatchEncoding({key: value.to(device) for key, value in self.items()})

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class _Tokenizer:
    eos_token_id = EOS
    pad_token_id = EOS

    def __call__(self, text, return_tensors=None, **kwargs):
        ids = [1000 + i for i, _ in enumerate(str(text).split())]
        torch = _torch()
        return BatchEncoding(input_ids=torch.tensor([ids]), attention_mask=torch.tensor([[1] * len(ids)]))

    def decode(self, ids, skip_special_tokens=False, **kwargs):
        ids = ids.tolist() if hasattr(ids, "tolist") else list(ids)
        words = []
        for token in ids:
            if token == EOS:
                if not skip_special_tokens:
                    words.append("<|endoftext|>")
            elif FIRST_WORD <= token < FIRST_WORD + len(ANSWER):
                words.append(ANSWER[token - FIRST_WORD])
        return (" " + " ".join(words)) if words else ""


class AutoTokenizer:
    @classmethod
    def from_pretrained(cls, path, **kwargs):
        _model_files(path)
        return _Tokenizer()


class _Model:
    def __init__(self, nominal_bytes):
        self.nominal_bytes = nominal_bytes
        self.device = _torch().device("cpu")

    def to(self, where):
        device = _torch().device(where)
        if device.type == "cuda":
            _torch().cuda.init()           # a card CUDA cannot use refuses the weights, with its error
        self.device = device
        return self

    def eval(self):
        return self

    def parameters(self):
        yield _torch().Tensor((1,), _torch().float16, self.device)

    def generate(self, input_ids=None, attention_mask=None, max_new_tokens=20, streamer=None, **kwargs):
        torch, clock = _torch(), _gpu.clock()
        if self.device.type != "cuda":
            raise RuntimeError("the stand-in model runs only on the stand-in GPU")
        step = self.nominal_bytes / (float(_spec["bandwidth_gb_s"]) * 1e9)
        prompt = input_ids.tolist()[0]
        if streamer is not None:
            streamer.put(input_ids.cpu())
        new = []
        for index in range(max_new_tokens):
            clock.queue(2 * step if index == 0 else step)
            clock.synchronize()                  # the chosen token is read back by the host
            token = EOS if _spec.get("mute") or index >= len(ANSWER) else FIRST_WORD + index
            new.append(token)
            if streamer is not None:
                streamer.put(torch.tensor([token]))
            if token == EOS:
                break
        if streamer is not None:
            streamer.end()
        return torch.tensor([prompt + new], device=self.device)


class AutoModelForCausalLM:
    @classmethod
    def from_pretrained(cls, path, device_map=None, **kwargs):
        nominal = _model_files(path)
        time.sleep(nominal / LOAD_BYTES_PER_SECOND / float(_spec.get("time_scale") or 1.0))
        model = _Model(nominal)
        return model.to(device_map) if device_map else model
