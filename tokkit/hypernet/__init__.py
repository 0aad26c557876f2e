"""ZeTT hypernetworks (issue: ZeTT): train one for a base model, apply it to any new tokenizer.

``train_hypernet(model_path, texts, out)`` trains with the model frozen (:mod:`.train`);
``apply_hypernet(dir, model, old_tokenizer, new_vocab)`` gives the new embedding rows.
"""

from .train import HyperTrainOptions, apply_hypernet, load_base, train_hypernet, zett_rows

__all__ = ["HyperTrainOptions", "apply_hypernet", "load_base", "train_hypernet", "zett_rows"]
